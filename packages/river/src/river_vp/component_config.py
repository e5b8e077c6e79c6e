"""The config groups of river-vp's networks, losses, conditioning and sampler, apart from the torch code.

``river-* --help`` and argument errors parse these dataclasses without importing torch or timm; the modules that
use them re-export them (:mod:`river_vp.flow.conditioning`, :mod:`river_vp.flow.sampler`,
:mod:`river_vp.flow.latent_norm`, :mod:`river_vp.models.uvit`, :mod:`river_vp.models.vqgan`,
:mod:`river_vp.tasks.autoencoder`, :mod:`river_vp.tasks.regress`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sparse_core.config import ConfigError
from sparse_core.validation import bad_value, check_choice, check_divisible, check_float, check_int

__all__ = ["FORMS", "LATENT_NORMS", "LAYOUTS", "LOCAL_MIXING", "MODES", "OBJECTIVES", "OFFICIAL_FORM", "PIXEL_LOSSES",
           "PREDICTIONS",
           "AELossConfig", "ConditionSpec", "SamplerConfig", "VQGANConfig", "VectorFieldConfig"]

MODES = ("river", "no_ref", "interp")
FORMS = ("thesis", "official")
OFFICIAL_FORM = "official"
"""``ConditionSpec.form`` of the public RIVER code (see :mod:`river_vp.flow.conditioning`)."""
LATENT_NORMS = ("global", "channel")
LAYOUTS = ("uvit", "official")
LOCAL_MIXING = ("none", "conv")
PIXEL_LOSSES = ("l1", "l2", "l1+l2")
OBJECTIVES = ("flow", "regression")
"""``FlowRunConfig.objective``: 'flow' (Algorithm 1, the method) or 'regression' (this reference line)."""
PREDICTIONS = ("velocity", "data")
"""``FlowRunConfig.prediction``: what the network outputs, 'velocity' (``v_t`` itself, eq. 5.8: the thesis form)
or 'data' (the clean latent ``z1``, turned into ``v_t`` by eq. 5.6; :mod:`river_vp.flow.matching`)."""


@dataclass
class ConditionSpec:
    """Which frames condition the vector field."""

    mode: str = "river"
    """'river' (reference + random context), 'no_ref' (one random context) or 'interp' (past + future)."""
    window: int | None = None
    """Context frames are drawn among the last `window` frames before the reference (None: whole past)."""
    min_target: int = 2
    """Smallest target index drawn in training (2 = thesis Algorithm 1; 1 also trains the 1-frame start)."""
    form: str = "thesis"
    """'thesis' (context distance tau - c, one context index per NFE for the batch) or 'official' (public
    RIVER code: context distance tau - 1 - c, one context index per sample and NFE; mode 'river' only)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"condition mode must be one of {MODES}, got '{self.mode}'")
        if self.window is not None and self.window < 1:
            raise ValueError(f"context window must be >= 1 or None, got {self.window}")
        if self.min_target < 1:
            raise ValueError(f"min_target must be >= 1, got {self.min_target}")
        if self.form not in FORMS:
            raise ValueError(f"condition form must be one of {FORMS}, got '{self.form}'")
        if self.form == OFFICIAL_FORM and self.mode != "river":
            raise ValueError(f"the official conditioning exists for mode 'river' only, got '{self.mode}'")


@dataclass
class SamplerConfig:
    """ODE integration of one frame."""

    method: str = "euler"
    """'euler' (eq. 5.9) or any torchdiffeq method ('rk4', 'midpoint', 'dopri5', ...)."""
    steps: int = 10
    """Integration steps N over [0, 1] for fixed-grid solvers (warm start uses ceil((1 - s) N))."""
    warm_start: float = 0.0
    """Warm-start strength s in [0, 1): start at p_s(z | previous frame); 0 is a cold start from noise."""
    temperature: float = 1.0
    """Scale (>= 0) of the start noise, ``z_0 ~ N(0, temperature^2 I)`` (1: eq. 5.11, the thesis form). Below 1 it
    is the reduced-temperature sampling of Glow (Kingma & Dhariwal 2018) / the truncation trick of BigGAN (Brock
    et al. 2019), which the thesis relates to warm start (Fig. 5.3): less spread around the
    conditional mean; 0 integrates from the origin, one deterministic frame per condition set."""
    sigma_min: float = 1e-7
    """sigma_min of the probability path (must match training)."""
    rtol: float = 1e-3
    """Relative tolerance of adaptive solvers (dopri5, ...)."""
    atol: float = 1e-4
    """Absolute tolerance of adaptive solvers."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.warm_start < 1.0:
            raise ValueError(f"warm_start must be in [0, 1), got {self.warm_start}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not self.temperature >= 0.0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")


@dataclass
class VectorFieldConfig:
    """Architecture of the vector-field regressor (defaults: public RIVER configs, 768 wide, 13 blocks)."""

    state_channels: int = 4
    """Channels c of a latent frame (>= 1): the VQGAN's embed_dim."""
    state_size: int = 8
    """Latent frame side H/f in latent positions (>= 1, square latents; a multiple of patch_size)."""
    num_conditions: int = 2
    """Condition frames per evaluation: 2 (reference + context, or past + future) or 1 (ablation w/o ref,
    Table 5.3)."""
    width: int = 768
    """Token width of the transformer (a multiple of num_heads); public RIVER configs: 768."""
    depth_in: int = 4
    """Blocks before the middle, >= 0 (and, mirrored with long skips, after it)."""
    depth_mid: int = 5
    """Middle blocks, >= 0; total depth = 2 * depth_in + depth_mid (13 by default)."""
    num_heads: int = 12
    """Attention heads per block (>= 1)."""
    mlp_ratio: float = 4.0
    """Hidden width of each block's MLP relative to width
    (> 0; ViT: 4)."""
    patch_size: int = 1
    """Latent positions per token side, >= 1 (1: one token per latent position, HW/f^2 tokens)."""
    grad_checkpointing: bool = False
    """Recompute block activations in backward to save memory."""
    layout: str = "uvit"
    """'uvit' (this package's: per-frame projections, sinusoidal distance embedding of every condition) or
    'official' (the public RIVER code's module tree and its log-distance embedding of the context; what
    :func:`river_vp.models.official.load_official_river` builds)."""

    local_mixing: str = "none"
    """'none' (thesis Fig. 5.4: linear projections in, Linear -> GELU -> LN -> 3x3 conv out) or 'conv' (a
    convolutional stem added to the tokens and a full-resolution conv skip to the output; see the module
    docstring; layout 'uvit' only)."""
    conv_width: int = 64
    """'conv' local mixing: channels of the stem and of the conv skip (>= 1)."""

    def __post_init__(self) -> None:
        """Refuse out-of-range sizes and latents that do not tile into tokens, naming the ``model.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        for name in ("state_channels", "state_size", "width", "num_heads", "patch_size"):
            check_int(f"model.{name}", getattr(self, name), 1)
        check_int("model.depth_in", self.depth_in, 0)
        check_int("model.depth_mid", self.depth_mid, 0)
        check_choice("model.num_conditions", self.num_conditions, (1, 2))
        check_choice("model.layout", self.layout, LAYOUTS)
        check_choice("model.local_mixing", self.local_mixing, LOCAL_MIXING)
        check_int("model.conv_width", self.conv_width, 1)
        if self.local_mixing != "none" and self.layout == "official":
            raise ConfigError("model.local_mixing 'conv' exists for model.layout 'uvit' only")
        check_divisible("model.state_size", self.state_size, "model.patch_size", self.patch_size)
        check_divisible("model.width", self.width, "model.num_heads", self.num_heads)
        check_float("model.mlp_ratio", self.mlp_ratio, 0.0, strict=True)


@dataclass
class VQGANConfig:
    """Architecture of the autoencoder (f = 2 ** (len(ch_mult) - 1))."""

    in_channels: int = 3
    """Image channels (>= 1; 3 for RGB)."""
    ch: int = 128
    """Base width of the first level (>= 1; taming-transformers: 128)."""
    ch_mult: list[int] = field(default_factory=lambda: [1, 2, 2, 4])
    """Width multiplier (>= 1) per resolution level; len - 1 downsamplings, so [1, 2, 2, 4] gives f = 8."""
    num_res_blocks: int = 2
    """Residual blocks per level (>= 1)."""
    attn_resolutions: list[int] = field(default_factory=lambda: [32])
    """Feature-map sides (in pixels of that level) at which a self-attention block follows each res block;
    [] puts attention only in the middle."""
    resolution: int = 256
    """Input image side (>= 1; used only to place attention blocks)."""
    z_channels: int = 4
    """Channels at the encoder output / decoder input (>= 1)."""
    embed_dim: int = 4
    """Latent (and codebook) width c seen by the flow, >= 1 (RIVER: 4)."""
    num_codes: int = 16384
    """Codebook size K, >= 1 (latent-diffusion f8: 16384)."""
    beta: float = 0.25
    """Commitment weight (>= 0) of the quantizer, pulling encoder outputs to their codes
    (VQ-VAE: 0.25)."""
    dropout: float = 0.0
    """Dropout probability in [0, 1) inside residual blocks."""

    def __post_init__(self) -> None:
        """Refuse out-of-range sizes, naming the ``model.*`` key (ConfigError on the first bad field)."""
        for name in ("in_channels", "ch", "num_res_blocks", "resolution", "z_channels", "embed_dim", "num_codes"):
            check_int(f"model.{name}", getattr(self, name), 1)
        if not isinstance(self.ch_mult, (list, tuple)) or not self.ch_mult:
            raise bad_value("model.ch_mult", "a non-empty list of width multipliers", self.ch_mult)
        for i, mult in enumerate(self.ch_mult):
            check_int(f"model.ch_mult[{i}]", mult, 1)
        for i, side in enumerate(self.attn_resolutions):
            check_int(f"model.attn_resolutions[{i}]", side, 1)
        check_float("model.beta", self.beta, 0.0, strict=False)
        check_float("model.dropout", self.dropout, 0.0, strict=False, high=1.0, high_strict=True)

    @property
    def downsample_factor(self) -> int:
        """Spatial downsampling f."""
        return 2 ** (len(self.ch_mult) - 1)


@dataclass
class AELossConfig:
    """Loss terms of the autoencoder."""

    pixel: str = "l1"
    """Pixel reconstruction term: 'l1' (taming-transformers, the thesis's VQGAN), 'l2' (mean squared error,
    what PSNR measures; the tiny CPU config's) or 'l1+l2'."""
    codebook_weight: float = 1.0
    """Weight (>= 0) of the quantizer's codebook + commitment loss (taming-transformers: 1)."""
    perceptual_path: str | None = None
    """TorchScript perceptual network (e.g. exported LPIPS) on a local path; None disables the term."""
    perceptual_weight: float = 1.0
    """Weight of the perceptual term when a network is given, >= 0."""
    disc_weight: float = 0.8
    """Weight (>= 0) of the adversarial generator term; 0 disables the discriminator
    (taming-transformers: 0.8)."""
    disc_start: int = 10000
    """Optimizer step (>= 0) at which the adversarial terms switch on."""
    disc_ndf: int = 64
    """Width of the first discriminator layer (>= 1; pix2pix PatchGAN: 64)."""
    disc_layers: int = 3
    """Stride-2 layers of the patch discriminator, >= 1 (PatchGAN: 3)."""
    disc_lr_scale: float = 1.0
    """Discriminator lr as a multiple (> 0) of the scheduled optim.lr (1.0: the generator's lr)."""
    disc_weight_decay: float | None = None
    """Constant weight decay (>= 0) of the discriminator; None: the generator's optim.weight_decay
    schedule."""
    disc_clip_grad: float | None = None
    """Clip the discriminator's gradient norm (> 0) on its own (None: together with the generator by
    train.clip_grad)."""
    init_codebook_from_data: bool = True
    """At step ``quantize_start``, set the codebook to encoder outputs of that batch (off when fine-tuning)."""
    quantize_warmup: float = 0.0
    """Fraction in [0, 1) of ``train.max_steps`` trained as a plain autoencoder (straight latents, no
    codebook loss) before latents are quantized; the codebook is then initialised from the trained encoder's
    outputs. The tiny CPU config's quantizer warm-up (0: quantize from the start, as taming; runs counted in
    epochs, without train.max_steps, have no warm-up)."""
    adaptive_weight: bool = True
    """Scale the generator term by ||grad rec|| / ||grad gan|| at the decoder's last layer."""

    def __post_init__(self) -> None:
        """Refuse negative weights and out-of-range discriminator settings, naming the ``loss.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        check_choice("loss.pixel", self.pixel, PIXEL_LOSSES)
        for name in ("codebook_weight", "perceptual_weight", "disc_weight"):
            check_float(f"loss.{name}", getattr(self, name), 0.0, strict=False)
        check_int("loss.disc_start", self.disc_start, 0)
        check_float("loss.quantize_warmup", self.quantize_warmup, 0.0, strict=False, high=1.0, high_strict=True)
        check_int("loss.disc_ndf", self.disc_ndf, 1)
        check_int("loss.disc_layers", self.disc_layers, 1)
        check_float("loss.disc_lr_scale", self.disc_lr_scale, 0.0, strict=True)
        check_float("loss.disc_weight_decay", self.disc_weight_decay, 0.0, strict=False, optional=True)
        check_float("loss.disc_clip_grad", self.disc_clip_grad, 0.0, strict=True, optional=True)
