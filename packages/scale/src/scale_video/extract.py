"""Clip extraction (sec. 4.2.3, 4.3.1): sets of clips -> frozen backbone -> sharded feature stores.

Each store (``out_dir/<name>``, a :class:`sparse_core.features.FeatureStore`) holds one record per
(video, pass) with the fields

* ``feats`` ``(N, D)`` float16: the clip features ``C_i = E_*(V_i)``;
* ``boxes`` ``(N, 6)`` float32: the normalised boxes of eq. 4.5;
* ``label``, ``video``, ``pass`` ``()`` int64: class (-1 unknown), video index, augmented pass.

``N`` is ``sampling.num_clips`` (2K) in the ``train`` store and the ``eval_temporal x eval_spatial`` uniform
views in ``train_eval`` / ``val_eval``. Shards never straddle passes (shard ``p * shards_per_pass + v //
shard_size``), so a later run with more ``passes`` only appends. A re-run writes only the missing shards; it
refuses a store written with other sampling / backbone / data settings. A video that cannot be decoded or is
too short is skipped: it has no record, and its index and reason are kept in its shard's index entry (so the
counts survive a resume); the first few are named in the log. ``videos.json`` beside the index lists the
video names and classes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from scale_video.backbones import ClipEncoder, build_backbone
from scale_video.boxes import BOX_DIM
from scale_video.clips import SetSampler, VideoTooShort
from scale_video.config import STORE_NAMES, TRAIN_EVAL_STORE, TRAIN_STORE, VAL_EVAL_STORE, ExtractConfig
from scale_video.sources import VideoSource, build_source
from sparse_core.config import ConfigError, config_to_dict, save_config
from sparse_core.data import DatasetError
from sparse_core.data.probe import probe_indices
from sparse_core.data.video import VideoTooSmall
from sparse_core.device import resolve_device
from sparse_core.engine.progress import Progress
from sparse_core.features import FeatureStore, FeatureStoreWriter

__all__ = ["extract", "extract_store", "store_fields", "FINGERPRINT_EXCLUDE"]

log = logging.getLogger("scale_video.extract")

FINGERPRINT_EXCLUDE = ("out_dir", "stores", "passes", "num_workers", "log_skipped", "backbone.batch_size",
                       "backbone.device")
"""Settings that may change between a run and its resume (they do not change what a record holds)."""
_TRAIN_ONLY = ("seed", "sampling.num_clips", "sampling.frame_strides", "sampling.crop_scale", "sampling.crop_ratio",
               "sampling.hflip", "sampling.color_jitter", "sampling.grayscale_prob")
_EVAL_ONLY = ("sampling.eval_temporal", "sampling.eval_spatial", "sampling.eval_stride")
_VAL_SPLIT = ("data.val_root", "data.val_num_videos", "data.val_seed_offset")
_TRAIN_SPLIT = ("data.root", "data.num_videos")
_NOT_READ_BY = {  # settings a store does not depend on, so changing them keeps it resumable
    TRAIN_STORE: _EVAL_ONLY + _VAL_SPLIT,
    TRAIN_EVAL_STORE: _TRAIN_ONLY + _VAL_SPLIT,
    VAL_EVAL_STORE: _TRAIN_ONLY + _TRAIN_SPLIT,
}


def store_fields(clips_per_set: int, dim: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """The fields of a SCALE store with ``clips_per_set`` clips of width ``dim`` per record."""
    return {"feats": ((clips_per_set, dim), "float16"), "boxes": ((clips_per_set, BOX_DIM), "float32"),
            "label": ((), "int64"), "video": ((), "int64"), "pass": ((), "int64")}


def _fingerprint(cfg: ExtractConfig, store: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(f"{dotted}.", value)
            elif dotted not in FINGERPRINT_EXCLUDE and dotted not in _NOT_READ_BY[store]:
                flat[dotted] = value

    walk("", config_to_dict(cfg))
    return {"store": store, **json.loads(json.dumps(flat))}


class _SetDataset(Dataset[dict[str, Any]]):
    """The clip sets of a list of ``(video, pass)`` records; a video that fails gives ``{"skipped": ...}``."""

    def __init__(self, source: VideoSource, sampler: SetSampler, records: list[tuple[int, int]]) -> None:
        self.source, self.sampler, self.records = source, sampler, records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, Any]:
        video, pass_index = self.records[i]
        try:
            clip_set = self.sampler(lambda s: self.source.read(video, s), video, pass_index)
        except VideoTooShort as err:
            return {"video": video, "pass": pass_index, "skipped": "too_short", "error": str(err)}
        except VideoTooSmall as err:  # a side under data.min_side pixels
            return {"video": video, "pass": pass_index, "skipped": "too_small", "error": str(err)}
        except Exception as err:  # a corrupt / unreadable file: whatever the decoder raised
            return {"video": video, "pass": pass_index, "skipped": "unreadable",
                    "error": f"{type(err).__name__}: {err}"[:300]}
        return {"video": video, "pass": pass_index, "label": self.source.label(video), "clips": clip_set.clips,
                "boxes": clip_set.boxes}


def _identity(item: dict[str, Any]) -> dict[str, Any]:
    return item


def _items(dataset: _SetDataset, num_workers: int) -> Iterator[dict[str, Any]]:
    if num_workers <= 0:
        yield from (dataset[i] for i in range(len(dataset)))
        return
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=num_workers, collate_fn=_identity,  # type: ignore[arg-type]
                        prefetch_factor=2, persistent_workers=False)
    yield from loader


class _Encoder:
    """Encodes clips in fixed-size batches, in order; batches never mix shards (so resumes are bitwise equal)."""

    def __init__(self, backbone: ClipEncoder, batch_size: int, device: torch.device, precision: str) -> None:
        self.backbone, self.batch_size, self.device = backbone, max(1, batch_size), device
        dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
        if precision not in ("fp32", *dtypes):
            raise ConfigError(f"backbone.precision: {precision!r} is not one of fp32, bf16, fp16")
        self.autocast = dtypes.get(precision) if device.type == "cuda" else None

    def __call__(self, clips: Tensor) -> Tensor:
        """uint8 ``(M, 3, T, S, S)`` -> float32 ``(M, D)`` on the CPU."""
        out = []
        for i in range(0, len(clips), self.batch_size):
            x = clips[i:i + self.batch_size].to(self.device, non_blocking=True).float().div_(255.0)
            ctx = (torch.autocast(self.device.type, dtype=self.autocast) if self.autocast is not None
                   else contextlib.nullcontext())
            with ctx:
                out.append(self.backbone(x).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.backbone.dim)


def _write_json_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _shard_records(num_videos: int, passes: int, shard_size: int) -> dict[int, list[tuple[int, int]]]:
    per_pass = -(-num_videos // shard_size)
    shards: dict[int, list[tuple[int, int]]] = {}
    for p in range(passes):
        for s in range(per_pass):
            shards[p * per_pass + s] = [(v, p) for v in range(s * shard_size, min(num_videos, (s + 1) * shard_size))]
    return shards


def _probe(source: VideoSource, sampler: SetSampler, key: str, max_tries: int = 16) -> None:
    """Refuse, before any store is written, a source none of whose (evenly spread, bounded) videos gives a set.

    Raises:
        DatasetError: every video tried was unreadable, too short or too small; the message names the source
            (``key``), the counts by reason and the first failure.
    """
    tried = probe_indices(len(source), max_tries)
    reasons: Counter[str] = Counter()
    first = ""
    for item in _SetDataset(source, sampler, [(v, 0) for v in tried]):
        if "skipped" not in item:
            return
        reasons[item["skipped"].replace("_", " ")] += 1
        first = first or f"{Path(source.name(item['video'])).name}: {item['error']}"
    where = Path(source.name(tried[0])).parent if tried else key
    why = ", ".join(f"{c}x {r}" for r, c in reasons.most_common())
    raise DatasetError(f"{key}: no usable video in {where}: all {len(tried)} of {len(source)} tried were skipped "
                       f"({why}; e.g. {first})")


def extract_store(cfg: ExtractConfig, store: str, backbone: ClipEncoder, device: torch.device) -> dict[str, Any]:
    """Write (or complete) one store of ``cfg``; returns its summary.

    Args:
        cfg: the extraction config.
        store: one of :data:`~scale_video.config.STORE_NAMES`.
        backbone: the frozen encoder (on ``device``).
        device: where clips are encoded.

    Returns:
        ``{"path", "records", "videos", "shards_written", "skipped": {"too_short", "unreadable"}, "seconds",
        "clips_per_s"}`` (clips decoded, cut and encoded per second by this run; None when nothing was written).

    Raises:
        ConfigError: the store exists with other settings.
        DatasetError: no video of the source gives a clip set (probed before anything is written).
    """
    start = time.perf_counter()
    train = store == TRAIN_STORE
    source = build_source(cfg.data, "val" if store == VAL_EVAL_STORE else "train")
    size = cfg.sampling.size or backbone.input_size
    sampler = SetSampler(cfg.sampling, size, train=train, seed=cfg.seed)
    passes = cfg.passes if train else 1
    _probe(source, sampler, "data.val_root" if store == VAL_EVAL_STORE else "data.root")
    root = Path(cfg.out_dir) / store
    fields = store_fields(sampler.clips_per_set, backbone.dim)
    fingerprint = _fingerprint(cfg, store)
    writer = FeatureStoreWriter(root, fields)
    old = writer.meta.get("config")
    if old is not None and old != fingerprint:
        changed = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
        raise ConfigError(f"{root} was extracted with other settings ({', '.join(changed[:6])}); "
                          f"use another out_dir or delete it")
    if writer.removed_leftovers:
        log.info("%s: removed %d leftovers of an interrupted run", root, len(writer.removed_leftovers))
    meta: dict[str, Any] = {
        "config": fingerprint, "mode": "train" if train else "eval", "clips_per_set": sampler.clips_per_set,
        "feature_dim": backbone.dim, "backbone": cfg.backbone.name, "clip_size": size,
        "num_frames": cfg.sampling.num_frames, "num_videos": len(source), "classes": source.classes,
        "num_classes": len(source.classes) or None, "passes": passes, "complete": False}
    if not train:
        meta["views"] = [cfg.sampling.eval_temporal, cfg.sampling.eval_spatial]
    _write_json_atomic(root / "videos.json", {"names": [source.name(i) for i in range(len(source))],
                                              "classes": source.classes})
    writer.set_meta({**writer.meta, **meta})
    encode = _Encoder(backbone, cfg.backbone.batch_size, device, cfg.backbone.precision)
    shards = _shard_records(len(source), passes, cfg.shard_size)
    written = 0
    named = 0
    encoded = 0  # clips decoded + encoded by this run (for the end-to-end throughput)
    todo = {k: v for k, v in shards.items() if not writer.has_shard(k)}
    bar = Progress(sum(len(v) for v in todo.values()), mode=cfg.progress, desc=f"extract {store}", unit="set")
    for shard_id, records in shards.items():
        if shard_id not in todo:
            continue
        kept: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        for item in _items(_SetDataset(source, sampler, records), cfg.num_workers):
            if "skipped" in item:
                skipped.append({k: item[k] for k in ("video", "pass", "skipped", "error")})
                if named < cfg.log_skipped:
                    log.warning("skipped %s (%s): %s", source.name(item["video"]), item["skipped"], item["error"])
                    named += 1
            else:
                kept.append(item)
            bar.update()
        n = len(kept)
        encoded += n * sampler.clips_per_set
        feats = (encode(torch.cat([k["clips"] for k in kept])) if kept else torch.zeros(0, backbone.dim))
        arrays = {
            "feats": feats.reshape(n, sampler.clips_per_set, backbone.dim).numpy().astype(np.float16),
            "boxes": (np.stack([k["boxes"] for k in kept]) if kept
                      else np.zeros((0, sampler.clips_per_set, BOX_DIM), np.float32)),
            "label": np.array([k["label"] for k in kept], dtype=np.int64),
            "video": np.array([k["video"] for k in kept], dtype=np.int64),
            "pass": np.array([k["pass"] for k in kept], dtype=np.int64),
        }
        writer.write_shard(shard_id, arrays, info={"skipped": skipped})
        written += 1
        log.info("%s: shard %d/%d (%d sets, %d skipped)", store, shard_id + 1, len(shards), n, len(skipped))
    bar.close()
    reader = FeatureStore(root)
    all_skipped = [s for entry in reader.shards for s in entry.get("info", {}).get("skipped", [])]
    counts = {kind: sum(s["skipped"] == kind for s in all_skipped) for kind in ("too_short", "too_small", "unreadable")}
    writer.set_meta({**writer.meta, "complete": True, "skipped": counts})
    if all_skipped:
        names = ", ".join(source.name(s["video"]) for s in all_skipped[:cfg.log_skipped])
        log.warning("%s: skipped %d sets (%d too short, %d too small, %d unreadable), e.g. %s", store,
                    len(all_skipped), counts["too_short"], counts["too_small"], counts["unreadable"], names)
    seconds = time.perf_counter() - start
    return {"path": str(root), "records": len(reader), "videos": len(source), "shards_written": written,
            "skipped": counts, "seconds": round(seconds, 2),
            "clips_per_s": round(encoded / seconds, 2) if encoded else None}


def extract(cfg: ExtractConfig) -> dict[str, Any]:
    """Run ``scale-extract``: build the backbone once and write every store of ``cfg.stores``.

    Returns:
        ``{store name: summary}`` (see :func:`extract_store`).

    Raises:
        ConfigError: an unknown store, backbone or source; settings the backbone cannot take.
    """
    unknown = [s for s in cfg.stores if s not in STORE_NAMES]
    if unknown or not cfg.stores:
        raise ConfigError(f"stores: unknown {unknown}; choose from {', '.join(STORE_NAMES)}")
    if cfg.passes < 1 or cfg.shard_size < 1:
        raise ConfigError("passes and shard_size must be >= 1")
    device = resolve_device(cfg.backbone.device)
    backbone = build_backbone(cfg.backbone)
    if backbone.num_frames is not None and backbone.num_frames != cfg.sampling.num_frames:
        raise ConfigError(f"sampling.num_frames={cfg.sampling.num_frames} but backbone {cfg.backbone.name} takes "
                          f"{backbone.num_frames}-frame clips")
    if isinstance(backbone, torch.nn.Module):
        backbone.to(device)
    Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
    summary = {store: extract_store(cfg, store, backbone, device) for store in cfg.stores}
    save_config(cfg, Path(cfg.out_dir) / "extract_config.yaml")
    return summary

