"""Student towers of SF-CLIP: a sparse-core ViT and a CLIP-shaped non-causal text transformer (thesis sec. 7.2).

Both towers mean-pool their final tokens, project them linearly to the joint width and l2-normalise them
(thesis sec. 7.2.1). The text tower's input is a learned linear projection of the text teacher's frozen word
embeddings ("inheriting teacher word embeddings", sec. 7.2.2) or, for the ablation, learned embeddings.
The attention key biases of both towers get no gradient (:mod:`sparse_core.models.key_bias`): they have no
effect, and Adam would turn their rounding-level gradient into a random walk that differs between 1 and N processes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sparse_core.losses.clip import LogitScale
from sparse_core.models.key_bias import hold_bias, hold_key_bias
from sparse_core.models.vit import SparseVisionTransformer

if TYPE_CHECKING:
    from sfclip.config import SFCLIPConfig
    from sfclip.teachers import TextTeacher

__all__ = ["StudentTowers", "VisionTower", "TextTower", "build_towers", "masked_mean"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def masked_mean(tokens: Tensor, keep: Tensor | None) -> Tensor:
    """Mean of the tokens where ``keep`` is True (all tokens when ``keep`` is None).

    Shape:
        tokens: (B, N, D); keep: (B, N) bool -> (B, D).
    """
    if keep is None:
        return tokens.mean(dim=1)
    w = keep.to(tokens.dtype).unsqueeze(-1)
    return (tokens * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)


class VisionTower(nn.Module):
    """Sparse-core ViT (no class token) whose mean-pooled final tokens are projected to the joint space.

    Args:
        img_size: image side in pixels.
        patch_size: pixels per token side.
        width: token width.
        depth: transformer blocks.
        num_heads: attention heads.
        embed_dim: joint embedding width.
        mask_token: create the ViT's learnable mask token (image masking on; without masking it would get no
            gradient, which DDP refuses).
    """

    mean: Tensor
    std: Tensor

    def __init__(self, img_size: int, patch_size: int, width: int, depth: int, num_heads: int,
                 embed_dim: int, mask_token: bool = False) -> None:
        super().__init__()
        # no timm pooling: the final norm applies to the tokens (timm's "avg" pool would move it to an fc_norm
        # after pooling) and this tower mean-pools them itself
        self.vit = SparseVisionTransformer(img_size=img_size, patch_size=patch_size, embed_dim=width, depth=depth,
                                           num_heads=num_heads, num_classes=0, class_token=False,
                                           global_pool="", mask_token=mask_token)
        self.proj = nn.Linear(width, embed_dim, bias=False)
        hold_key_bias(self.vit)
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid (rows, columns) of a full image."""
        return self.vit.patch_grid

    def tokens(self, images: Tensor, mask: Tensor | None = None) -> Tensor:
        """Final (normed) patch tokens; ``mask`` replaces patch embeddings by the mask token.

        Shape:
            images: (B, 3, H, W) in [0, 1]; mask: (B, N) bool -> (B, N, width).
        """
        return self.vit.forward_features((images - self.mean) / self.std, mask=mask)

    def final_keys(self, images: Tensor) -> Tensor:
        """Attention keys of the last block (heads concatenated), through the final norm: the per-patch features
        of DenseCLIP / MaskCLIP-style zero-shot segmentation (thesis sec. 7.3.2: "the final attention keys").

        Read with a forward hook on the last block's ``qkv`` projection during an ordinary forward pass.

        Shape:
            images: (B, 3, H, W) in [0, 1] -> (B, N, width).
        """
        width = self.proj.in_features
        attn = self.vit.blocks[-1].attn
        seen: list[Tensor] = []
        handle = attn.qkv.register_forward_hook(lambda _m, _i, out: seen.append(out))
        try:
            self.tokens(images)
        finally:
            handle.remove()
        b, n, _ = seen[0].shape
        k = seen[0][..., width : 2 * width].reshape(b, n, attn.num_heads, -1)
        k = attn.k_norm(k.transpose(1, 2)).transpose(1, 2).reshape(b, n, width)  # identity unless qk_norm
        return self.vit.norm(k)

    def embed(self, tokens: Tensor) -> Tensor:
        """l2-normalised projection of the mean token.

        Shape:
            tokens: (B, N, width) -> (B, embed_dim).
        """
        return F.normalize(self.proj(tokens.mean(dim=1)), dim=-1)

    def forward(self, images: Tensor) -> Tensor:
        """Image embeddings. Shape: images (B, 3, H, W) -> (B, embed_dim)."""
        return self.embed(self.tokens(images))


class TextTower(nn.Module):
    """CLIP-shaped pre-LN transformer with non-causal attention over the teacher's tokens.

    Args:
        word_embeddings: the text teacher's frozen word-embedding table (copied into a frozen buffer); None
            with learned embeddings, whose vocabulary size is then ``vocab_size``.
        width: token width.
        depth: transformer blocks.
        num_heads: attention heads.
        context_length: maximum tokens per caption (size of the learned position table).
        embed_dim: joint embedding width.
        word_embedding_projection: input = ``Linear(word_embeddings)`` (thesis); False: learned embeddings.
        vocab_size: vocabulary of the learned embeddings when ``word_embeddings`` is None.

    Shape:
        word_embeddings: (V, D_teacher).
    """

    teacher_words: Tensor

    def __init__(self, word_embeddings: Tensor | None, width: int, depth: int, num_heads: int,
                 context_length: int, embed_dim: int, word_embedding_projection: bool = True,
                 vocab_size: int = 0) -> None:
        super().__init__()
        self.word_embedding_projection = word_embedding_projection
        if word_embeddings is None:
            if word_embedding_projection or vocab_size < 1:
                raise ValueError("the word-embedding projection needs the teacher's table (learned embeddings "
                                 "need vocab_size >= 1)")
            vocab = vocab_size
        else:
            vocab, teacher_dim = word_embeddings.shape
        if word_embedding_projection:
            assert word_embeddings is not None
            # frozen, not persistent: the teacher owns the table, the export keeps only the projection
            self.register_buffer("teacher_words", word_embeddings.detach().clone(), persistent=False)
            self.token_proj: nn.Module = nn.Linear(teacher_dim, width)
        else:
            self.token_proj = nn.Embedding(vocab, width)
        self.pos_embed = nn.Parameter(torch.randn(1, context_length, width) * 0.01)
        layer = nn.TransformerEncoderLayer(width, num_heads, dim_feedforward=4 * width, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        for layer in self.blocks.layers:
            if layer.self_attn.in_proj_bias is not None:
                hold_bias(layer.self_attn.in_proj_bias)
        self.ln_final = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)
        self.context_length = context_length

    def no_weight_decay(self) -> set[str]:
        """The position table gets no weight decay."""
        return {"pos_embed"}

    def tokens(self, input_ids: Tensor, attention_mask: Tensor, zero: Tensor | None = None) -> Tensor:
        """Final (normed) tokens; ``zero`` zeroes those input tokens (the mask M_t of eq. 7.3). ``B = 0`` is
        allowed (an empty (0, L, width) result, still connected to every block's parameters).

        Shape:
            input_ids, attention_mask: (B, L) with L <= context_length; zero: (B, L) bool -> (B, L, width).
        """
        if self.word_embedding_projection:
            x = self.token_proj(self.teacher_words[input_ids])
        else:
            x = self.token_proj(input_ids)
        if zero is not None:
            x = x * (~zero).unsqueeze(-1).to(x.dtype)
        x = x + self.pos_embed[:, : input_ids.shape[1]]
        # no captions (a process's empty share of a distillation subset): no padding to mask, and
        # nn.MultiheadAttention cannot reshape a 0-row mask; the blocks still run, so the graph is the same
        pad = ~attention_mask.bool() if input_ids.shape[0] else None
        x = self.blocks(x, src_key_padding_mask=pad)
        return self.ln_final(x)

    def embed(self, tokens: Tensor, attention_mask: Tensor) -> Tensor:
        """l2-normalised projection of the mean over the caption's (non-padding) tokens.

        Shape:
            tokens: (B, L, width); attention_mask: (B, L) -> (B, embed_dim).
        """
        return F.normalize(self.proj(masked_mean(tokens, attention_mask.bool())), dim=-1)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Text embeddings. Shape: input_ids, attention_mask (B, L) -> (B, embed_dim)."""
        return self.embed(self.tokens(input_ids, attention_mask), attention_mask)


class StudentTowers:
    """Mixin: ``vision`` / ``text`` of a module holding the student as ``student`` (a ``ModuleDict`` with
    ``vision``, ``text`` and ``logit_scale``; :class:`sfclip.task.SFCLIPTask`, the evaluation encoder)."""

    student: nn.ModuleDict

    @property
    def vision(self) -> VisionTower:
        """The student vision tower."""
        return self.student["vision"]  # type: ignore[return-value]

    @property
    def text(self) -> TextTower:
        """The student text tower."""
        return self.student["text"]  # type: ignore[return-value]


def build_towers(cfg: SFCLIPConfig, text_teacher: TextTeacher) -> nn.ModuleDict:
    """The student of ``cfg``: ``vision`` and ``text`` towers and the ``logit_scale``, freshly initialised.

    The text tower's input table is ``text_teacher``'s frozen word embeddings when
    ``text.word_embedding_projection`` is on (sec. 7.2.2). Used by :class:`sfclip.task.SFCLIPTask` and by
    :func:`sfclip.evaluation.model.build_student`, so both draw the same weights from the same RNG state.
    """
    v, x, d = cfg.vision, cfg.text, cfg.distill
    words = text_teacher.word_embeddings if x.word_embedding_projection else None
    return nn.ModuleDict({
        "vision": VisionTower(v.img_size, v.patch_size, v.embed_dim, v.depth, v.num_heads, cfg.embed_dim,
                              mask_token=d.image_mask_ratio > 0 and d.image_on),
        "text": TextTower(words, x.width, x.depth, x.num_heads, x.context_length, cfg.embed_dim,
                          x.word_embedding_projection, vocab_size=text_teacher.vocab_size),
        "logit_scale": LogitScale(),
    })
