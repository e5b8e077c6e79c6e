"""Choice of the frames a RIVER step is conditioned on (Algorithm 1, eq. 5.10, Table 5.4).

Frames are indexed from 0. For a target frame ``tau``:

* ``mode="river"`` (the method): the *reference* ``tau - 1`` and one *context* frame ``c`` drawn
  uniformly from ``{lo, ..., tau - 2}`` with ``lo = max(0, tau - 1 - window)`` (``window=None``: the whole
  past). The thesis's 1-based ``c in {1, ..., tau - 2}`` is this range. When ``tau = 1`` there is no frame
  before the reference and the reference doubles as the context (distance 1), as a 1-frame protocol such as
  BAIR 1 -> 15 needs.
* ``mode="no_ref"`` (Table 5.3 ablation): a single context frame from ``{lo, ..., tau - 1}``.
* ``mode="interp"`` (visual planning, sec. 5.3.2): no reference; one condition from the past ``{0..tau-1}``
  and one from the future ``{tau+1..m-1}``; distances ``tau - c`` are
  positive for the past, negative for the future.

Distances are what the network's distance encoding receives; distance 0 marks a condition replaced by noise
(unconditional generation, sec. 5.3.3). Two forms exist (``ConditionSpec.form``):

* ``"thesis"`` (default; eq. 5.10): every condition at index ``i`` gets ``tau - i`` (reference 1, context
  ``tau - c``), and at inference one context index is drawn per NFE and shared by the batch.
* ``"official"``: the public RIVER code (github.com/Araachie/river, ``model/model.py``: ``index_distances =
  reference - context`` in training, ``higher_bound - conditioning_latents_indices`` in ``generate_frames``,
  then ``torch.log`` in ``model/vector_field_regressor.py``): the context gets ``(tau - 1) - c``, its
  distance to the reference, and at inference every sample draws its own context index at every NFE. The
  reference slot keeps ``tau - (tau - 1) = 1`` (the official network does not encode the reference's
  distance). At ``tau = 1`` the context distance is 1, as in the official code, which duplicates a single
  given frame so that its context sits one frame before its reference. Only the ``"river"`` mode has an
  official form. The log of the distance is part of the official network's distance encoding, not of this
  module (``VectorFieldConfig(layout="official")``). :func:`official_condition_spec` is what the loader of an
  official checkpoint (:func:`river_vp.models.official.load_official_river`) returns with the weights.
"""

from __future__ import annotations

import torch
from torch import Tensor

from river_vp.component_config import FORMS, MODES, OFFICIAL_FORM, ConditionSpec

__all__ = [
    "FORMS",
    "MODES",
    "OFFICIAL_FORM",
    "ConditionSpec",
    "condition_distances",
    "context_distance",
    "context_range",
    "num_conditions",
    "official_condition_spec",
    "sample_context_batch",
    "sample_context_indices",
    "sample_training_indices",
]



def official_condition_spec(window: int | None = None) -> ConditionSpec:
    """The conditioning of the public RIVER code: mode 'river', targets from 2, ``form='official'``.

    A loader of an official RIVER checkpoint returns this spec with the weights, so that sampling reproduces
    the official conditioning (context distance ``tau - 1 - c``, per-sample context draws).

    Args:
        window: context window (the official ``past_horizon``; None: the whole past).
    """
    return ConditionSpec(mode="river", window=window, min_target=2, form=OFFICIAL_FORM)


def num_conditions(mode: str) -> int:
    """Number of condition frames the vector field receives in ``mode``."""
    return 1 if mode == "no_ref" else 2


def context_range(tau: int, window: int | None, include_reference: bool = False) -> tuple[int, int]:
    """Inclusive index range ``(lo, hi)`` the context frame of target ``tau`` is drawn from.

    Args:
        tau: target frame index (>= 1).
        window: number of frames before the reference that may be used (None: all).
        include_reference: also allow ``tau - 1`` (the 'no_ref' mode has no separate reference).
    """
    if tau < 1:
        raise ValueError(f"target index must be >= 1 (one frame must be given), got {tau}")
    hi = tau - 1 if include_reference else tau - 2
    if hi < 0:  # tau == 1 in river mode: the only past frame is the reference
        return tau - 1, tau - 1
    lo = 0 if window is None else max(0, hi + 1 - window)
    return lo, hi


def context_distance(tau: int, context: Tensor, form: str) -> Tensor:
    """Distance the network receives for the context frame(s) ``context`` of target ``tau``.

    Args:
        tau: target frame index (>= 1).
        context: context frame indices (any shape, long).
        form: 'thesis': ``tau - c``; 'official': ``max(tau - 1 - c, 1)`` (reference - context; the 1 only
            at ``tau = 1``, where the reference doubles as the context).

    Returns:
        distances, the shape of ``context``.
    """
    if form == OFFICIAL_FORM:
        return (tau - 1 - context).clamp(min=1)
    return tau - context


def condition_distances(tau: int, idx: Tensor, spec: ConditionSpec) -> Tensor:
    """Distances of condition indices ``idx`` (..., n_cond) of target ``tau`` in ``spec``'s form.

    Every condition gets ``tau - i``; in the official form the context (column 1 of mode 'river') gets
    :func:`context_distance` instead.

    Shape:
        idx: (..., n_cond) long; returns (..., n_cond) long.
    """
    dist = tau - idx
    if spec.form == OFFICIAL_FORM:
        dist[..., 1] = context_distance(tau, idx[..., 1], spec.form)
    return dist


def _randint(lo: int, hi: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(lo, hi + 1, (1,), generator=generator).item())


def sample_context_indices(
    tau: int,
    spec: ConditionSpec,
    generator: torch.Generator | None = None,
    num_frames: int | None = None,
    future_index: int | None = None,
) -> tuple[list[int], list[int]]:
    """Condition frame indices and distances for predicting frame ``tau`` (one draw, as at each NFE).

    Args:
        tau: index of the frame being generated.
        spec: condition mode and window.
        generator: torch generator (None: global RNG).
        num_frames: length of the whole sequence (needed by 'interp' to draw a future frame).
        future_index: 'interp' at inference: the known future (goal) frame used as the second condition.

    Returns:
        (indices, distances), each a list of ``num_conditions(spec.mode)`` ints; distances from
        :func:`condition_distances` (``tau - index`` in the thesis form).
    """
    if spec.mode == "river":
        lo, hi = context_range(tau, spec.window)
        idx = [tau - 1, _randint(lo, hi, generator)]
    elif spec.mode == "no_ref":
        lo, hi = context_range(tau, spec.window, include_reference=True)
        idx = [_randint(lo, hi, generator)]
    else:
        lo, hi = context_range(tau, spec.window, include_reference=True)
        past = _randint(lo, hi, generator)
        if future_index is not None:
            if future_index <= tau:
                raise ValueError(f"future_index {future_index} must come after the target {tau}")
            idx = [past, future_index]
        else:
            if num_frames is None or tau + 1 > num_frames - 1:
                raise ValueError("interp mode needs a future frame: pass num_frames > tau + 1")
            idx = [past, _randint(tau + 1, num_frames - 1, generator)]
    return idx, condition_distances(tau, torch.tensor(idx), spec).tolist()


def sample_context_batch(
    tau: int, spec: ConditionSpec, batch: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """One draw of condition indices *per sample* for predicting frame ``tau`` (official RIVER inference).

    Mode 'river': the reference ``tau - 1`` and a context index drawn independently for every sample from
    :func:`context_range`; mode 'no_ref': one context index per sample. Distances as
    :func:`condition_distances`.

    Args:
        tau: index of the frame being generated (>= 1).
        spec: condition mode ('river' or 'no_ref'), window and form.
        batch: number of samples B.
        generator: torch generator of the draws (None: global RNG).

    Returns:
        (indices, distances), each (B, n_cond) long on the CPU.
    """
    if spec.mode == "interp":
        raise ValueError("per-sample context draws exist for modes 'river' and 'no_ref', not 'interp'")
    lo, hi = context_range(tau, spec.window, include_reference=spec.mode == "no_ref")
    ctx = torch.randint(lo, hi + 1, (batch,), generator=generator)
    idx = torch.stack([torch.full_like(ctx, tau - 1), ctx], 1) if spec.mode == "river" else ctx[:, None]
    return idx, condition_distances(tau, idx, spec)


def sample_training_indices(
    num_frames: int, spec: ConditionSpec, generator: torch.Generator | None = None
) -> tuple[int, list[int], list[int]]:
    """Target, condition indices and distances for one training example (Algorithm 1).

    Args:
        num_frames: length ``m`` of the (latent) video.
        spec: condition mode, window and smallest target index.
        generator: torch generator (None: the global RNG, which the engine seeds per sample).

    Returns:
        (tau, condition indices, distances).
    """
    if spec.mode == "interp":
        lo_t, hi_t = 1, num_frames - 2
    else:
        lo_t, hi_t = spec.min_target, num_frames - 1
    if hi_t < lo_t:
        raise ValueError(
            f"a video of {num_frames} frames is too short for mode '{spec.mode}' "
            f"(min_target={spec.min_target})"
        )
    tau = _randint(lo_t, hi_t, generator)
    idx, dist = sample_context_indices(tau, spec, generator, num_frames=num_frames)
    return tau, idx, dist


def batch_distances(dists: list[list[int]], device: torch.device | None = None) -> Tensor:
    """Stack per-sample distance lists into a ``(B, n_cond)`` long tensor."""
    return torch.tensor(dists, dtype=torch.long, device=device)
