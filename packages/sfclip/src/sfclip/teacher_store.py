"""Precomputed teacher features (thesis sec. 7.2.2): written once by ``sfclip-precompute``, read in training.

The store (a :class:`sparse_core.features.FeatureStore` at ``distill.precomputed``) holds one record per
readable training pair with the fields

* ``index`` ``()`` int64: the dataset index (the key the training batch carries as ``batch["index"]``);
* ``vision_<teacher>`` ``(h * w, D)``: each vision teacher's raw feature map of the pair's image, row-major
  over the teacher's grid (layer-normed only in the loss, as online);
* ``text`` ``(context_length, D)``: the text teacher's last hidden states of the whole (unmasked) caption,
  zero after its ``text_len`` real tokens.

Shard ``s`` covers dataset indices ``[s * shard_size, (s + 1) * shard_size)``; a pair that cannot be read
has no record and is listed in its shard's ``info``. A re-run writes only the missing shards. The store's
``meta["config"]`` is the fingerprint of every setting the features depend on (:func:`fingerprint`); a
training run whose settings differ is refused with a one-line message naming the differing keys.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from sfclip.config import SFCLIPConfig
from sfclip.data import build_dataset
from sfclip.teachers import TextTeacher, VisionTeacher, build_teachers
from sparse_core.config import ConfigError, config_to_dict
from sparse_core.data.collate import collate_skip_none
from sparse_core.data.errors import DatasetError
from sparse_core.device import resolve_device
from sparse_core.engine.progress import Progress
from sparse_core.engine.seeding import seeded
from sparse_core.features import FeatureStore, FeatureStoreWriter

__all__ = ["TeacherFeatures", "fingerprint", "precompute", "store_fields", "FORMAT", "RANDOM_TEACHERS"]

log = logging.getLogger("sfclip.precompute")

FORMAT = "sfclip-teacher-features/1"
"""``meta["format"]`` of a store written by this module."""
RANDOM_TEACHERS = ("dinov2_tiny_random", "sam_tiny_random", "bert_tiny_random", "xglm_tiny_random")
"""Teachers initialised at random from ``train.seed`` (so the seed is part of the fingerprint)."""


def fingerprint(cfg: SFCLIPConfig) -> dict[str, Any]:
    """The settings precomputed features depend on, as ``{dotted key: value}`` (JSON-compatible).

    Data (which pairs, in which order), the student image side (teachers see the student-size image resized),
    the context length, which features are stored, and the teachers with the paths they load from (and
    ``train.seed`` when one is random).
    """
    t, d = cfg.teacher, cfg.distill
    vision = list(t.vision) if d.image_on else []
    used = {"shapes": ("num_pairs", "seed", "split"), "folder": ("root",), "webdataset": ("shards",),
            "openclipart": ("root", "split", "test_fraction", "seed"), "emoji": ("root",)}[cfg.data.source]
    data = config_to_dict(cfg.data)
    out: dict[str, Any] = {"data.source": cfg.data.source, **{f"data.{k}": data[k] for k in used}}
    out.update({"vision.img_size": cfg.vision.img_size, "teacher.vision": vision})
    if vision:
        out["teacher.vision_size"] = t.vision_size
    if "dinov2" in vision:
        out["teacher.vision_path"] = t.vision_path
    if "sam" in vision:
        out["teacher.sam_path"] = t.sam_path
    out["text_features"] = d.text_on
    if d.text_on:
        out.update({"teacher.text": t.text, "text.context_length": cfg.text.context_length})
        if t.text == "hf":
            out["teacher.text_path"] = t.text_path
    if any(k in RANDOM_TEACHERS for k in vision) or (d.text_on and t.text in RANDOM_TEACHERS):
        out["train.seed"] = cfg.train.seed
    return out


def store_fields(vision: dict[str, tuple[int, int]], text_dim: int, context_length: int,
                 dtype: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Fields of a store: ``index``, ``vision_<name>`` per ``{name: (tokens, dim)}``, and ``text`` / ``text_len``
    when ``text_dim > 0``."""
    fields: dict[str, tuple[tuple[int, ...], str]] = {"index": ((), "int64")}
    for name, (tokens, dim) in vision.items():
        fields[f"vision_{name}"] = ((tokens, dim), dtype)
    if text_dim:
        fields["text"] = ((context_length, text_dim), dtype)
        fields["text_len"] = ((), "int64")
    return fields


class _Indexed(Dataset):
    """``base[i]`` of a list of indices, ``{"skipped": i}`` where the pair cannot be read."""

    def __init__(self, base: Dataset, indices: range) -> None:
        self.base, self.indices = base, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> dict[str, Any]:
        i = self.indices[j]
        sample = self.base[i]
        return {"skipped": i} if sample is None else {**sample, "index": i}


def _collate(items: list[dict[str, Any]]) -> tuple[dict[str, Any], list[int]]:
    skipped = [it["skipped"] for it in items if "skipped" in it]
    return collate_skip_none([None if "skipped" in it else it for it in items]), skipped


@torch.no_grad()
def _encode(batch: dict[str, Any], text: TextTeacher | None, vision: dict[str, VisionTeacher], ctx: int,
            device: torch.device) -> dict[str, np.ndarray]:
    """Teacher features of one batch as float32 arrays of the store's per-record shapes."""
    out: dict[str, np.ndarray] = {"index": batch["index"].numpy()}
    images = batch["image"].to(device)
    for name, teacher in vision.items():
        out[f"vision_{name}"] = teacher(images).flatten(2).transpose(1, 2).float().cpu().numpy()
    if text is not None:
        several = [int(i) for i, c in zip(batch["index"], batch["caption"]) if not isinstance(c, str)]
        if several:
            raise DatasetError(f"sfclip-precompute: pair {several[0]} has several captions (a multi-line .txt or "
                               "data.rewrites); the store keeps one text feature per pair: precompute with "
                               "--distill.text_ratio 0 (vision features only) or one caption per pair")
        enc = text.tokenize(batch["caption"], ctx)
        ids, att = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        hidden = text(ids, att).float() * att.unsqueeze(-1)
        full = hidden.new_zeros(hidden.shape[0], ctx, hidden.shape[-1])
        full[:, : hidden.shape[1]] = hidden
        out["text"] = full.cpu().numpy()
        out["text_len"] = att.sum(1).cpu().numpy().astype(np.int64)
    return out


def precompute(cfg: SFCLIPConfig, dataset: Dataset | None = None,
               teachers: tuple[TextTeacher, dict[str, VisionTeacher]] | None = None) -> dict[str, Any]:
    """Write (or complete) the teacher-feature store ``cfg.distill.precomputed`` for the data of ``cfg``.

    Teachers are built as in training (under ``train.seed``, :func:`~sfclip.teachers.build_teachers`) and run
    on every pair in fixed batches that never straddle a shard, so a resumed store equals an uninterrupted one.

    Args:
        cfg: the run configuration (``distill.precomputed`` is the output folder; ``precompute.*`` the settings).
        dataset: the pairs (default :func:`~sfclip.data.build_dataset` of ``cfg``).
        teachers: ready ``(text teacher, {name: vision teacher})`` (default: built from ``cfg``); the vision
            names must be ``cfg.teacher.vision``'s, as the store's fingerprint lists those.

    Returns:
        ``{"path", "records", "skipped", "shards_written", "seconds"}``.

    Raises:
        ConfigError: no output folder, nothing to precompute, or a store written for other settings.
    """
    root = Path(cfg.distill.precomputed) if cfg.distill.precomputed else None
    if root is None:
        raise ConfigError("distill.precomputed: give the folder to write the teacher features to")
    start = time.perf_counter()
    p = cfg.precompute
    device = resolve_device(p.device)
    if not (cfg.teacher.vision and cfg.distill.image_on) and not cfg.distill.text_on:
        raise ConfigError("distill: neither image nor text distillation is on (teacher.vision, distill.*_ratio, "
                          "distill.lambda_*); there are no teacher features to precompute")
    wanted = fingerprint(cfg)
    if (root / "index.json").exists():  # refused before any teacher is loaded
        changed = _changed(FeatureStore(root).meta.get("config", {}), wanted)
        if changed:
            raise ConfigError(f"distill.precomputed {str(root)!r} holds features for other settings "
                              f"({', '.join(changed[:6])}); use another folder or delete it")
    dataset = build_dataset(cfg) if dataset is None else dataset  # a data error before any teacher loads
    if teachers is None:
        with seeded(cfg.train.seed):
            teachers = build_teachers(cfg)
    text_teacher, vision = teachers
    text = text_teacher if cfg.distill.text_on else None
    for teacher in [*vision.values(), *([text] if text is not None else [])]:
        teacher.to(device)
    probe = torch.zeros(1, 3, cfg.vision.img_size, cfg.vision.img_size, device=device)
    grids = {name: tuple(int(s) for s in t(probe).shape[-2:]) for name, t in vision.items()}
    for t in vision.values():
        t.rows_seen = 0
    fields = store_fields({n: (grids[n][0] * grids[n][1], t.dim) for n, t in vision.items()},
                          text.dim if text is not None else 0, cfg.text.context_length, p.dtype)
    writer = FeatureStoreWriter(root, fields)  # refuses a store of the same settings in another dtype
    n = len(dataset)  # type: ignore[arg-type]
    writer.set_meta({**writer.meta, "format": FORMAT, "config": wanted, "num_samples": n,
                     "grids": {k: list(v) for k, v in grids.items()},
                     "dims": {k: t.dim for k, t in vision.items()}, "text_dim": text.dim if text else 0,
                     "shard_size": p.shard_size, "complete": False})
    written = 0
    num_shards = -(-n // p.shard_size)
    todo = [s for s in range(num_shards) if not writer.has_shard(s)]
    bar = Progress(sum(min(n, (s + 1) * p.shard_size) - s * p.shard_size for s in todo), mode=p.progress,
                   desc=f"precompute {root}", unit="pair")
    for shard in todo:
        part = _Indexed(dataset, range(shard * p.shard_size, min(n, (shard + 1) * p.shard_size)))
        loader = DataLoader(part, batch_size=p.batch_size, shuffle=False, num_workers=p.num_workers,
                            collate_fn=_collate)
        chunks: list[dict[str, np.ndarray]] = []
        skipped: list[int] = []
        for batch, bad in loader:
            skipped += bad
            if "image" in batch:
                chunks.append(_encode(batch, text, vision, cfg.text.context_length, device))
            bar.update(len(bad) + (len(batch["index"]) if "index" in batch else 0))
        arrays = ({k: np.concatenate([c[k] for c in chunks]) for k in fields} if chunks
                  else {k: np.zeros((0, *shape), dtype) for k, (shape, dtype) in fields.items()})
        writer.write_shard(shard, arrays, info={"skipped": skipped})
        written += 1
        log.info("shard %d/%d: %d pairs, %d skipped", shard + 1, num_shards, len(arrays["index"]), len(skipped))
    bar.close()
    reader = FeatureStore(root)
    skipped_total = sum(len(e.get("info", {}).get("skipped", [])) for e in reader.shards)
    writer.set_meta({**writer.meta, "complete": True, "skipped": skipped_total})
    return {"path": str(root), "records": len(reader), "skipped": skipped_total, "shards_written": written,
            "seconds": round(time.perf_counter() - start, 2)}


def _changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


class TeacherFeatures:
    """Read access to a store written by :func:`precompute`, checked against the training configuration.

    Args:
        root: the store folder (``distill.precomputed``).
        cfg: the training configuration; its fingerprint must equal the store's.

    Raises:
        ConfigError: a missing, incomplete or foreign store, or one computed for other settings (the message
            names the differing keys).
    """

    def __init__(self, root: str | Path, cfg: SFCLIPConfig) -> None:
        self.root = Path(root)
        key = "distill.precomputed"
        try:
            store = FeatureStore(self.root)
        except ConfigError as err:
            raise ConfigError(f"{key}: {err} (write it with sfclip-precompute)") from None
        meta = store.meta
        if meta.get("format") != FORMAT:
            raise ConfigError(f"{key} {str(root)!r} is not an SF-CLIP teacher-feature store (format "
                              f"{meta.get('format')!r}, expected {FORMAT!r})")
        changed = _changed(meta.get("config", {}), fingerprint(cfg))
        if changed:
            raise ConfigError(f"{key} {str(root)!r} holds teacher features for other settings "
                              f"({', '.join(changed[:6])}); run sfclip-precompute with this config or use "
                              f"another folder")
        if not meta.get("complete"):
            raise ConfigError(f"{key} {str(root)!r} is incomplete; run sfclip-precompute again to finish it")
        self.store = store
        self.grids: dict[str, tuple[int, int]] = {k: (int(v[0]), int(v[1])) for k, v in meta["grids"].items()}
        self.dims: dict[str, int] = {k: int(v) for k, v in meta["dims"].items()}
        self.text_dim = int(meta.get("text_dim", 0))
        self.num_samples = n = int(meta["num_samples"])
        self._shard = np.full(n, -1, dtype=np.int64)
        self._local = np.full(n, -1, dtype=np.int64)
        for position in range(len(store.shards)):
            idx = np.asarray(store.shard_array(position, "index"))
            self._shard[idx] = position
            self._local[idx] = np.arange(len(idx))

    def check_length(self, n: int) -> None:
        """Refuse a dataset whose length differs from the one the features were computed for.

        Raises:
            ConfigError: the lengths differ (files were added or removed since).
        """
        if n != self.num_samples:
            raise ConfigError(f"distill.precomputed {str(self.root)!r} holds features of {self.num_samples} pairs, "
                              f"the data now has {n}; run sfclip-precompute again into another folder")

    @property
    def vision_names(self) -> list[str]:
        """The vision teachers whose features are stored, in config order."""
        return list(self.grids)

    def _gather(self, name: str, index: Tensor) -> np.ndarray:
        """Records of field ``name`` for dataset indices ``index`` (any order), as float32."""
        ix = index.detach().cpu().numpy().astype(np.int64)
        if ix.size and (ix.min() < 0 or ix.max() >= len(self._shard) or (self._shard[ix] < 0).any()):
            bad = [int(i) for i in ix if i < 0 or i >= len(self._shard) or self._shard[i] < 0][:3]
            raise ConfigError(f"distill.precomputed {str(self.root)!r} has no features for samples {bad}")
        shape, _ = self.store.fields[name]
        out = np.empty((len(ix), *shape), dtype=np.float32)
        shards = self._shard[ix]
        for position in np.unique(shards):
            rows = np.nonzero(shards == position)[0]
            out[rows] = self.store.shard_array(int(position), name)[self._local[ix[rows]]]
        return out

    def vision(self, name: str, index: Tensor, device: torch.device) -> Tensor:
        """Teacher ``name``'s feature maps of the pairs ``index``.

        Shape:
            index: (k,) long -> (k, D, h, w) float32.
        """
        h, w = self.grids[name]
        maps = torch.from_numpy(self._gather(f"vision_{name}", index)).to(device)
        return maps.transpose(1, 2).reshape(len(index), self.dims[name], h, w)

    def text(self, index: Tensor, length: int, device: torch.device) -> Tensor:
        """The text teacher's hidden states of the pairs ``index``, cut to the batch's padded length.

        Shape:
            index: (k,) long -> (k, length, D) float32.
        """
        return torch.from_numpy(self._gather("text", index)[:, :length]).to(device)
