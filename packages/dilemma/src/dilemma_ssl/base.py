"""Shared machinery of the DILEMMA tasks: views of a batch, the student encoder and its MLP heads, per-step
token draws and the token objective."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from dilemma_ssl.backbone import encode, num_prefix_tokens
from dilemma_ssl.config import MethodConfig, ModelConfig
from dilemma_ssl.mismatch import CorruptedTokens
from dilemma_ssl.objectives import TokenObjective
from dilemma_ssl.schedule import SparsitySchedule
from sparse_core.engine.task import Task
from sparse_core.heads import MLPHead
from sparse_core.models.global_norm import global_batchnorm
from sparse_core.models.key_bias import hold_key_bias

__all__ = ["DilemmaTaskBase", "Encoder", "batch_views", "build_mlp"]


def batch_views(batch: dict[str, Any]) -> list[Tensor]:
    """The augmented views of a collated batch: ``batch["views"]`` or a list in ``batch["image"]``.

    Returns:
        list of (B, C, H, W) tensors (global views first for multi-crop).
    """
    views = batch.get("views", batch.get("image"))
    if isinstance(views, Tensor):
        if views.ndim == 5:  # (B, V, C, H, W)
            return list(views.unbind(1))
        raise ValueError("the batch holds a single image per sample; DILEMMA needs a multi-view transform")
    return list(views)


class Encoder(nn.Module):
    """Backbone + projection head: what an EMA teacher averages (MoCo v3, DINO).

    Args:
        backbone: a ``SparseVisionTransformer``.
        projector: head from the CLS token (D) to the loss space (G).
    """

    def __init__(self, backbone: nn.Module, projector: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = projector

    def forward(self, x: Tensor) -> Tensor:
        """Dense forward.

        Shape:
            x: (B, C, H, W) -> (B, G) projected CLS token.
        """
        return self.projector(encode(self.backbone, x)[:, 0])


def build_mlp(cfg: ModelConfig, in_dim: int, num_layers: int, last_norm: bool) -> nn.Module:
    """MoCo v3 / SimCLR MLP head on sparse-core's ``MLPHead`` (widths and norm from ``cfg``).

    Matches MoCo v3's ``_build_mlp(num_layers, in_dim, cfg.proj_hidden_dim, cfg.proj_dim, last_bn)``
    (facebookresearch/moco-v3 ``moco/builder.py``): hidden Linear(bias=False) + BN + ReLU, then a Linear and,
    if ``last_norm``, a BN without affine parameters. MoCo v3's ViT uses ``last_norm=True`` for both its
    projector (3 layers) and its predictor (2 layers). With ``cfg.head_norm == "none"`` there is no BN and the
    linears carry biases.

    Args:
        cfg: head widths (``proj_hidden_dim``, ``proj_dim``) and normalisation (``head_norm``).
        in_dim: input width.
        num_layers: number of linear layers.
        last_norm: end with a BN without affine (MoCo v3's ``last_bn``).

    Returns:
        the MLP, (..., in_dim) -> (..., cfg.proj_dim).
    """
    head = MLPHead(
        in_dim,
        cfg.proj_hidden_dim,
        cfg.proj_dim,
        num_layers=num_layers,
        norm="bn" if cfg.head_norm == "syncbn" else cfg.head_norm,
        last_norm=last_norm,
    )
    return global_batchnorm(head) if cfg.head_norm == "syncbn" else head


class DilemmaTaskBase(Task):
    """Common parts: schedule, token objective, per-step corruption drawn for the whole step batch.

    Subclasses build ``self.backbone`` before calling :meth:`_init_objective`.

    Args:
        model_cfg: architecture of the backbone and heads.
        method_cfg: the method (objective, schedule, variant groups ``dino`` / ``mae``).
        schedule: per-step sparsity ratio and batch size.
        seed: run seed of the per-step draws (the Trainer sets it again from ``train.seed``).
    """

    def __init__(
        self, model_cfg: ModelConfig, method_cfg: MethodConfig, schedule: SparsitySchedule, seed: int = 0
    ) -> None:
        super().__init__()
        self.model_cfg = model_cfg
        self.method_cfg = method_cfg
        self.schedule = schedule
        self.seed = seed

    @staticmethod
    def step_outputs(name: str, main: Tensor, lam: float, tok: Tensor, accs: list[Tensor], ratio: float,
                     batch: int) -> dict[str, Tensor]:
        """The dict every variant returns: ``loss = main + lam * token loss`` plus the logged parts."""
        out = {
            "loss": main + lam * tok,
            name: main.detach(),
            "loss_token": tok.detach(),
            "sparsity": torch.tensor(ratio),
            "batch_size": torch.tensor(float(batch)),
        }
        if accs:
            out["token_acc"] = torch.stack(accs).mean()
        return out

    def _init_objective(self, backbone: nn.Module) -> None:
        num_tokens = int(backbone.patch_embed.num_patches)
        self.num_tokens = num_tokens
        self.prefix = num_prefix_tokens(backbone)
        self.objective = TokenObjective(
            self.method_cfg.objective,
            int(backbone.embed_dim),
            num_tokens,
            self.method_cfg.theta,
            self.model_cfg.patch_size,
            self.method_cfg.token_reduction,
        )

    def setup(self, total_steps: int) -> None:
        """Before the optimizer is built: hold the attention key biases of every trained block
        (:func:`~sparse_core.models.key_bias.hold_key_bias`; their gradient is exactly zero, and Adam would turn
        its rounding noise into steps that differ between N processes and one)."""
        hold_key_bias(self)

    token_views = "sum"
    """How the variant combines its per-view token losses under ``token_reduction: sum``: 'sum' where its main
    loss sums the per-view terms (MoCo v3's symmetrised contrastive loss), 'mean' where it averages them."""

    def combine_views(self, losses: list[Tensor]) -> Tensor:
        """The token term of eq. 3.4 from the per-view token losses (each already reduced by the objective).

        ``token_reduction: sum``: summed over the views when :attr:`token_views` is 'sum' (MoCo v3, like its
        contrastive term), else averaged; ``token_reduction: mean`` (ablation): always averaged (the earlier
        loss of this package).
        """
        total = torch.stack(losses).sum()
        if self.method_cfg.token_reduction == "sum" and self.token_views == "sum":
            return total
        return total / len(losses)

    def token_weight(self, ratio: float) -> float:
        """lambda of eq. 3.4 at this step: 0 on dense steps unless ``mismatch_on_dense``."""
        if not self.objective.active:
            return 0.0
        if ratio <= 0.0 and not self.method_cfg.mismatch_on_dense:
            return 0.0
        return self.method_cfg.lambda_dilemma

    def draw_tokens(
        self,
        step: int,
        view: int,
        local_batch: int,
        ratio: float,
        device: torch.device,
        keep_idx: Tensor | None = None,
    ) -> CorruptedTokens:
        """Corruption of this micro-batch's samples of ``view``, drawn for the whole batch of ``step``.

        The draw comes from the engine's generator of stream ``f"view{view}"`` (:meth:`Task.generator`) for
        every sample of the step (all processes, all micro-batches); this micro-batch keeps its rows
        (:meth:`Task.rows`). So N processes, or ``grad_accum`` micro-batches, see exactly the tokens one
        process would see with the whole batch, and no two micro-batches share a pattern.

        Args:
            step: optimizer step.
            view: index of the view (its own stream).
            local_batch: samples of this micro-batch on this process.
            ratio: dropping ratio of the step.
            device: device of the returned tensors.
            keep_idx: (local_batch, K) kept tokens chosen per sample (attention policy); only the corruption
                is drawn then. The other rows of the step batch get placeholders, so the draws of these rows
                are the same as with the whole batch.
        """
        rows = self.rows(local_batch, device)
        g = self.generator(step, f"view{view}")
        corrupt = self.token_weight(ratio) > 0.0
        if keep_idx is not None:  # attention policy: per-sample kept tokens, computed locally
            k = keep_idx.shape[1]
            full = torch.arange(k).expand(rows.total, k).clone()  # (total, K) placeholders
            full[rows.rows] = keep_idx.cpu()
            keep_idx = full
        corr = self.objective.draw(rows.total, 1.0 - ratio, g, keep_idx=keep_idx, corrupt=corrupt)
        return corr.slice(rows.start, rows.stop).to(device)

    def student_tokens(self, backbone: nn.Module, x: Tensor, corr: CorruptedTokens) -> Tensor:
        """Student output (B, P + K, D) on the corrupted sparse input."""
        x = self.objective.prepare_input(x, corr)
        sparse = corr.keep_idx.shape[1] < self.num_tokens or bool((corr.pos_idx != corr.keep_idx).any())
        if not sparse and self.objective.no_pos(corr) is None:
            return encode(backbone, x)
        return encode(backbone, x, corr.keep_idx, corr.pos_idx, self.objective.no_pos(corr))

    def token_loss(self, tokens: Tensor, corr: CorruptedTokens) -> tuple[Tensor, Tensor]:
        """Token objective on the output patch tokens of :meth:`student_tokens`."""
        return self.objective.loss(tokens[:, self.prefix :], corr)

    @torch.no_grad()
    def attention_keep(self, backbone: nn.Module, x: Tensor, ratio: float) -> Tensor | None:
        """Kept tokens by importance (CLS attention of ``backbone``, usually the teacher; Table 3.13).

        Returns:
            (B, K) sorted indices of the most attended tokens, or None under the random policy / dense steps.
        """
        if self.method_cfg.drop_policy != "attention" or ratio <= 0.0:
            return None
        attn = backbone.get_last_selfattention(x)  # (B, heads, T, T)
        cls_attn = attn[:, :, 0, self.prefix :].mean(1)  # (B, N)
        k = SparsitySchedule.num_kept(self.num_tokens, ratio)
        return cls_attn.topk(k, dim=1).indices.sort(dim=1).values.cpu()
