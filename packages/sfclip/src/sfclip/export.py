"""Export the trained SF-CLIP towers as an open_clip checkpoint folder (``open_clip.create_model("local-dir:...")``).

What open_clip (>= 3.0) offers and what is used:

* **Text tower.** open_clip's own ``TextTransformer`` can drop the causal mask (``no_causal_mask``) but its
  config has no padding mask for that mode and no mean pooling (``pool_type`` is first / last / argmax / eos).
  Its Hugging Face tower (``CustomTextCLIP`` with ``text_cfg.hf_model_name``) has both: attention over
  non-padding tokens (``input_ids != pad_token_id``), ``hf_pooler_type: mean_pooler`` (mean over the same
  tokens) and ``hf_proj_type: linear`` (no bias). The student's pre-LN blocks with a final LayerNorm map one
  to one onto transformers' ``XLMRobertaXLModel`` (pre-LN, final ``encoder.LayerNorm``, no embedding
  LayerNorm), so the text tower is written as such a model (``config.json`` in the folder). Its word
  embeddings are the student's input folded into a table: ``Linear(teacher_words)`` (thesis) or the learned
  table (ablation); the teacher's tokenizer is saved beside it (open_clip reads it from the folder). The
  student's position ``i`` is XLM-R's position ``pad_id + 1 + i`` (positions count from the padding index).
* **Vision tower.** open_clip's native ViT always prepends a class token, which the student (no class token,
  mean-pooled) does not have, so the vision tower is open_clip's ``TimmModel`` (``timm_pool: avg``,
  ``timm_proj: linear``) over a timm ``VisionTransformer`` with ``class_token=False``: the student's
  SparseVisionTransformer keeps timm's parameter names, so the weights copy one to one.

Two names must exist in the loading process: the timm architecture (a stock one when it matches, see
:data:`STOCK_TIMM`; otherwise ``sfclip_vit_...``, registered by
:func:`register_open_clip`) and open_clip's entry for the ``xlm-roberta-xl`` config type, which open_clip's
``arch_dict`` lacks. :func:`load_open_clip` registers both and loads the folder; a plain
``open_clip.create_model("local-dir:<folder>")`` works after ``sfclip.export.register_open_clip(<folder>)``.
The folder's ``open_clip_config.json`` names the text model by the folder's absolute path
(``hf_model_name``): re-export or edit it after moving the folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sfclip.config import SFCLIPConfig
from sfclip.evaluation.model import CLIPEncoder
from sfclip.towers import CLIP_MEAN, CLIP_STD
from sparse_core.export import save_weights

__all__ = ["CONFIG_FILE", "STOCK_TIMM", "WEIGHTS_FILE", "export_open_clip", "load_open_clip", "open_clip_config",
           "open_clip_state_dict", "register_open_clip", "timm_name"]

CONFIG_FILE = "open_clip_config.json"
"""open_clip's config file of a ``local-dir:`` folder."""
WEIGHTS_FILE = "open_clip_model.safetensors"
"""open_clip's weight file of a ``local-dir:`` folder."""
STOCK_TIMM = {(224, 16, 768, 12, 16): "vit_base_patch16_gap_224"}
"""timm architectures that equal the student's ViT (no class token, mean pool, final norm on the tokens), by
(img_size, patch_size, width, depth, heads). timm's mean-pooled ViT-B/16 has 16 heads; the thesis' 12-head
ViT-B/16 gets a registered name."""
XLMR_XL = "xlm-roberta-xl"
"""transformers' config type of the exported text tower."""


def timm_name(img_size: int, patch_size: int, width: int, depth: int, heads: int) -> str:
    """The timm name of the student's ViT: a stock model when one matches, else ``sfclip_vit_...``."""
    key = (img_size, patch_size, width, depth, heads)
    return STOCK_TIMM.get(key, "sfclip_vit_s{}_p{}_w{}_d{}_h{}".format(*key))


def _register_timm(name: str) -> None:
    """Register the ``sfclip_vit_s<S>_p<P>_w<W>_d<D>_h<H>`` architecture in timm (no-op if known)."""
    import timm
    from timm.models import register_model
    from timm.models.vision_transformer import VisionTransformer

    if timm.is_model(name):
        return
    s, p, w, d, h = (int(part[1:]) for part in name.removeprefix("sfclip_vit_").split("_"))

    def entry(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
        if pretrained:
            raise ValueError(f"{name} has no pretrained weights (load the exported checkpoint instead)")
        for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):  # timm's factory arguments
            kwargs.pop(key, None)
        model = VisionTransformer(img_size=s, patch_size=p, embed_dim=w, depth=d, num_heads=h, num_classes=0,
                                  class_token=False, global_pool="avg", fc_norm=False, **kwargs)
        model.default_cfg = model.pretrained_cfg = {"num_classes": 0}  # type: ignore[assignment]  # TimmModel reads it
        return model

    entry.__name__ = entry.__qualname__ = name
    register_model(entry)


def register_open_clip(folder: str | Path | None = None) -> None:
    """Make an exported folder loadable by open_clip in this process.

    Adds the ``xlm-roberta-xl`` entry to ``open_clip.hf_configs.arch_dict`` (as its ``xlm-roberta`` entry:
    same config names) and, when ``folder`` is given, registers the timm architecture its config names.
    """
    from open_clip import hf_configs

    if XLMR_XL not in hf_configs.arch_dict:
        hf_configs.arch_dict[XLMR_XL] = json.loads(json.dumps(hf_configs.arch_dict["xlm-roberta"]))
    if folder is not None:
        cfg = json.loads((Path(folder) / CONFIG_FILE).read_text())["model_cfg"]
        name = cfg["vision_cfg"]["timm_model_name"]
        if name.startswith("sfclip_vit_"):
            _register_timm(name)


def open_clip_config(cfg: SFCLIPConfig, folder: Path) -> dict[str, Any]:
    """The ``open_clip_config.json`` content of the exported student of ``cfg`` (text model in ``folder``)."""
    v = cfg.vision
    return {
        "model_cfg": {
            "embed_dim": cfg.embed_dim,
            "custom_text": True,
            "vision_cfg": {"image_size": v.img_size, "timm_model_name": timm_name(
                v.img_size, v.patch_size, v.embed_dim, v.depth, v.num_heads), "timm_model_pretrained": False,
                "timm_pool": "avg", "timm_proj": "linear", "timm_proj_bias": False},
            "text_cfg": {"hf_model_name": str(folder.resolve()), "hf_tokenizer_name": str(folder.resolve()),
                         "hf_model_pretrained": False, "hf_proj_type": "linear", "hf_pooler_type": "mean_pooler",
                         "context_length": cfg.text.context_length},
        },
        "preprocess_cfg": {"mean": list(CLIP_MEAN), "std": list(CLIP_STD), "interpolation": "bicubic",
                           "resize_mode": "shortest"},
    }


def _hf_text_config(model: CLIPEncoder) -> Any:
    """The ``XLMRobertaXLConfig`` equal to the student's text tower."""
    from transformers import XLMRobertaXLConfig

    text = model.text
    layer = text.blocks.layers[0]
    width = text.ln_final.weight.shape[0]
    pad = int(model.tokenizer.pad_token_id)
    vocab = text.teacher_words.shape[0] if text.word_embedding_projection else text.token_proj.get_parameter(
        "weight").shape[0]
    return XLMRobertaXLConfig(
        vocab_size=int(vocab), hidden_size=int(width), num_hidden_layers=len(text.blocks.layers),
        num_attention_heads=int(layer.self_attn.num_heads), intermediate_size=int(layer.linear1.out_features),
        hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        max_position_embeddings=text.context_length + pad + 1, type_vocab_size=1,
        layer_norm_eps=float(layer.norm1.eps), pad_token_id=pad,
        bos_token_id=model.tokenizer.cls_token_id, eos_token_id=model.tokenizer.sep_token_id)


@torch.no_grad()
def open_clip_state_dict(model: CLIPEncoder) -> dict[str, Tensor]:
    """The student's weights under open_clip's ``CustomTextCLIP`` names (TimmModel vision, HF text).

    Returns:
        ``visual.trunk.*`` / ``visual.head.proj.weight``, ``text.transformer.*`` (XLM-R XL) /
        ``text.proj.weight`` and ``logit_scale``.
    """
    out: dict[str, Tensor] = {}
    for k, t in model.vision.vit.state_dict().items():
        if k != "mask_token":  # image masking is a training device, not part of the exported encoder
            out[f"visual.trunk.{k}"] = t
    out["visual.head.proj.weight"] = model.vision.proj.weight
    text = model.text
    pad = int(model.tokenizer.pad_token_id)
    if text.word_embedding_projection:
        words = text.token_proj(text.teacher_words)  # the frozen table folded through the learned projection
    else:
        words = text.token_proj.weight
    width = words.shape[1]
    pos = words.new_zeros(text.context_length + pad + 1, width)
    pos[pad + 1 :] = text.pos_embed[0]
    p = "text.transformer."
    out |= {f"{p}embeddings.word_embeddings.weight": words, f"{p}embeddings.position_embeddings.weight": pos,
            f"{p}embeddings.token_type_embeddings.weight": words.new_zeros(1, width)}
    for i, layer in enumerate(text.blocks.layers):
        q = f"{p}encoder.layer.{i}."
        wq, wk, wv = layer.self_attn.in_proj_weight.chunk(3)
        bq, bk, bv = layer.self_attn.in_proj_bias.chunk(3)
        for name, w, b in (("query", wq, bq), ("key", wk, bk), ("value", wv, bv)):
            out[f"{q}attention.self.{name}.weight"], out[f"{q}attention.self.{name}.bias"] = w, b
        pairs = {"attention.self_attn_layer_norm": layer.norm1, "attention.output.dense": layer.self_attn.out_proj,
                 "LayerNorm": layer.norm2, "intermediate.dense": layer.linear1, "output.dense": layer.linear2}
        for name, mod in pairs.items():
            out[f"{q}{name}.weight"], out[f"{q}{name}.bias"] = mod.weight, mod.bias
    out[f"{p}encoder.LayerNorm.weight"], out[f"{p}encoder.LayerNorm.bias"] = text.ln_final.weight, text.ln_final.bias
    out["text.proj.weight"] = text.proj.weight
    out["logit_scale"] = model.student["logit_scale"].get_parameter("log_scale").detach().clone()
    return {k: v.detach().float().cpu().contiguous() for k, v in out.items()}


def export_open_clip(model: CLIPEncoder, cfg: SFCLIPConfig, folder: str | Path) -> Path:
    """Write ``folder`` as an open_clip ``local-dir:`` checkpoint of the student.

    Files: ``open_clip_config.json``, ``open_clip_model.safetensors`` (atomic write), the text tower's
    ``config.json`` (XLM-R XL) and the tokenizer files. No teacher and no distillation head is written.

    Args:
        model: the trained student (e.g. :func:`sfclip.evaluation.load_run`).
        cfg: its run configuration.
        folder: output folder (created).

    Returns:
        the folder.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    model.tokenizer.save_pretrained(out)
    _hf_text_config(model).save_pretrained(out)
    save_weights(open_clip_state_dict(model), out / WEIGHTS_FILE,
                 metadata={"format": "open_clip CustomTextCLIP", "source": "sfclip"})
    (out / CONFIG_FILE).write_text(json.dumps(open_clip_config(cfg, out), indent=2))
    return out


def load_open_clip(folder: str | Path) -> tuple[nn.Module, Any]:
    """Register the names an exported folder needs and load it with open_clip.

    Returns:
        ``(model, tokenizer)`` from ``open_clip.create_model`` / ``open_clip.get_tokenizer`` in eval mode.
    """
    import open_clip

    register_open_clip(folder)
    name = f"local-dir:{Path(folder)}"
    model = open_clip.create_model(name, device="cpu")
    return model.eval(), open_clip.get_tokenizer(name)
