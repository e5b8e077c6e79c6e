"""Shared machinery of the DILEMMA tasks: views of a batch, per-step token draws, the token objective."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from dilemma_ssl.backbone import encode, num_prefix_tokens
from dilemma_ssl.config import MethodConfig, ModelConfig
from dilemma_ssl.mismatch import CorruptedTokens
from dilemma_ssl.objectives import TokenObjective
from dilemma_ssl.schedule import SparsitySchedule, step_generator
from sparse_core.distributed import get_rank, get_world_size
from sparse_core.engine.task import Task

__all__ = ["DilemmaTaskBase", "batch_views"]


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


class DilemmaTaskBase(Task):
    """Common parts: schedule, token objective, per-step corruption drawn for the global batch.

    Subclasses build ``self.backbone`` before calling :meth:`_init_objective`.
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
        )

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
        salt: int,
        local_batch: int,
        ratio: float,
        device: torch.device,
        keep_idx: Tensor | None = None,
    ) -> CorruptedTokens:
        """Corruption for this process' samples, drawn for the global batch from ``(seed, step, salt)``.

        Drawing the whole global batch and slicing this rank's rows makes N processes see exactly the tokens
        one process would see with the concatenated batch.
        """
        world, rank = get_world_size(), get_rank()
        g = step_generator(self.seed, step, salt)
        corrupt = self.token_weight(ratio) > 0.0
        if keep_idx is not None:  # attention policy: per-sample, computed locally
            return self.objective.draw(local_batch, 1.0 - ratio, g, keep_idx=keep_idx, corrupt=corrupt).to(
                device
            )
        corr = self.objective.draw(local_batch * world, 1.0 - ratio, g, corrupt=corrupt)
        return corr.slice(rank * local_batch, (rank + 1) * local_batch).to(device)

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
