"""Sharded cache of VQGAN latents of a video dataset, and the training dataset that reads it.

Layout of a cache folder::

    index.json            {"latent_shape": [C, h, w], "shards": [...], "videos": [{"shard", "start", "length",
                           "source"}], "num_skipped": n, "skipped": [...], "meta": {...}}
    shard_00000.npy       float16 (frames, C, h, w): the latents of consecutive videos

Shards are opened memory-mapped, so a training example reads exactly the frames it uses (three for RIVER).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from river_vp.flow.conditioning import MODES, ConditionSpec, sample_training_indices
from river_vp.flow.latent_norm import LatentNorm
from sparse_core.config import ConfigError
from sparse_core.data.errors import DatasetError

__all__ = ["MIN_FRAMES", "LatentCache", "LatentCacheWriter", "LatentFlowDataset", "min_frames"]

log = logging.getLogger("river_vp.data")


def min_frames(spec: ConditionSpec) -> int:
    """Frames a video needs to give a training example in ``spec``'s mode (interp: past, target, future)."""
    return 3 if spec.mode == "interp" else spec.min_target + 1


MIN_FRAMES = min(min_frames(ConditionSpec(mode=m, min_target=1)) for m in MODES)
"""Frames the least demanding conditioning needs (2): river-encode skips and counts shorter videos."""


class LatentCacheWriter:
    """Append latent videos and write shards of about ``shard_frames`` frames.

    Args:
        out_dir: cache folder (created).
        shard_frames: frames per shard file.
        meta: stored in the index (autoencoder path, resolution, ...).
    """

    def __init__(
        self, out_dir: str | Path, shard_frames: int = 4096, meta: dict[str, Any] | None = None
    ) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.shard_frames = shard_frames
        self.meta = meta or {}
        self.videos: list[dict[str, Any]] = []
        self.shards: list[str] = []
        self.skipped: list[str] = []
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self.latent_shape: list[int] | None = None
        self._sum, self._sumsq, self._count = 0.0, 0.0, 0
        self._csum: np.ndarray | None = None  # (C,) float64 per-channel sums
        self._csumsq: np.ndarray | None = None

    def add(self, latents: Tensor, source: str) -> None:
        """Add one video's latents (T, C, h, w)."""
        shape = list(latents.shape[1:])
        if self.latent_shape is None:
            self.latent_shape = shape
        elif shape != self.latent_shape:
            raise ValueError(f"latent shape {shape} of {source} differs from {self.latent_shape}")
        self.videos.append(
            {
                "shard": len(self.shards),
                "start": self._buffered,
                "length": int(latents.shape[0]),
                "source": source,
            }
        )
        x = latents.detach().cpu().double()
        self._sum += float(x.sum())
        self._sumsq += float((x * x).sum())
        self._count += x.numel()
        per_channel = x.transpose(0, 1).flatten(1)  # (C, T h w)
        csum, csumsq = per_channel.sum(1).numpy(), (per_channel * per_channel).sum(1).numpy()
        self._csum = csum if self._csum is None else self._csum + csum
        self._csumsq = csumsq if self._csumsq is None else self._csumsq + csumsq
        self._buffer.append(latents.detach().cpu().to(torch.float16).numpy())
        self._buffered += latents.shape[0]
        if self._buffered >= self.shard_frames:
            self._flush()

    def skip(self, source: str) -> None:
        """Record a source that could not be read or is too short to train on."""
        self.skipped.append(source)

    def _flush(self) -> None:
        if not self._buffer:
            return
        name = f"shard_{len(self.shards):05d}.npy"
        np.save(self.out_dir / name, np.concatenate(self._buffer))
        self.shards.append(name)
        self._buffer, self._buffered = [], 0

    def stats(self) -> dict[str, Any]:
        """Mean and standard deviation of every latent value written so far (``mean``, ``std``) and of each
        channel (``channel_mean``, ``channel_std``: lists of C floats, population std)."""
        if self._count == 0 or self._csum is None or self._csumsq is None:
            return {"mean": 0.0, "std": 1.0}
        mean = self._sum / self._count
        per = self._count // len(self._csum)
        cmean = self._csum / per
        cstd = np.sqrt(np.maximum(self._csumsq / per - cmean**2, 1e-12))
        return {"mean": mean, "std": max(self._sumsq / self._count - mean**2, 1e-12) ** 0.5,
                "channel_mean": cmean.tolist(), "channel_std": cstd.tolist()}

    def close(self) -> Path:
        """Write the last shard and ``index.json``; returns the index path."""
        self._flush()
        index = {
            "latent_shape": self.latent_shape,
            "shards": self.shards,
            "videos": self.videos,
            "num_skipped": len(self.skipped),
            "skipped": self.skipped,
            "meta": self.meta,
            "stats": self.stats(),
        }
        path = self.out_dir / "index.json"
        path.write_text(json.dumps(index, indent=1))
        return path


class LatentCache:
    """Read access to a latent cache folder (shards opened lazily, memory-mapped, once per process)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        index_path = self.root / "index.json"
        if not index_path.is_file():
            raise DatasetError(
                f"{self.root} is not a latent cache (no index.json); build one with river-encode"
            )
        try:
            self.index = json.loads(index_path.read_text())
            self.videos: list[dict[str, Any]] = self.index["videos"]
            shards = [str(name) for name in self.index["shards"]]
            self.latent_shape = tuple(self.index["latent_shape"] or ())
        except (ValueError, KeyError, TypeError) as err:
            raise DatasetError(f"{index_path} is not a valid latent cache index ({type(err).__name__}: {err}); "
                               "rebuild it with river-encode") from None
        if not self.videos:
            raise DatasetError(f"latent cache {self.root} holds no videos")
        self._shard_paths = [self._inside(name, index_path) for name in shards]
        self._maps: dict[int, np.ndarray] = {}

    def _inside(self, name: str, index_path: Path) -> Path:
        """The shard file ``name`` of the index, refused unless it lies inside the cache folder."""
        root = self.root.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ConfigError(f"{index_path}: shard {name!r} lies outside the cache folder {root}; an index may "
                              "only name files inside its own folder")
        return path

    def auto_scale(self) -> float:
        """``1 / std`` of the cached latents (1.0 for caches written without statistics)."""
        return 1.0 / float(self.index.get("stats", {}).get("std", 1.0))

    def stats(self) -> dict[str, Any]:
        """The statistics river-encode wrote (``mean``, ``std``, ``channel_mean``, ``channel_std``; {} if none)."""
        return dict(self.index.get("stats", {}))

    def __len__(self) -> int:
        return len(self.videos)

    def length(self, i: int) -> int:
        """Frames of video ``i``."""
        return int(self.videos[i]["length"])

    def _shard(self, k: int) -> np.ndarray:
        if k not in self._maps:
            try:
                self._maps[k] = np.load(self._shard_paths[k], mmap_mode="r")
            except (OSError, ValueError) as err:
                raise DatasetError(f"latent cache {self.root}: shard {self._shard_paths[k].name} cannot be read "
                                   f"({type(err).__name__}: {err}); rebuild the cache with river-encode") from None
        return self._maps[k]

    def frames(self, i: int, idx: Iterable[int]) -> Tensor:
        """Selected latent frames of video ``i``: (len(idx), C, h, w) float32."""
        v = self.videos[i]
        rows = [v["start"] + int(t) for t in idx]
        return torch.from_numpy(np.asarray(self._shard(v["shard"])[rows], dtype=np.float32))

    def video(self, i: int) -> Tensor:
        """All latent frames of video ``i``: (T, C, h, w)."""
        return self.frames(i, range(self.length(i)))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_maps"] = {}  # memory maps are reopened in each DataLoader worker
        return state


class LatentFlowDataset(Dataset):
    """One flow-matching example per item (Algorithm 1): target, condition latents and distances.

    Item ``i`` uses usable video ``i % num_usable``; ``examples_per_video``
    sets the epoch length. Videos too short for the mode (:func:`min_frames`) are left out, counted in
    ``num_skipped`` and named in a warning; only a cache without any long enough video is refused. Indices come from the
    global torch RNG, which the engine seeds per sample. Returns
    ``{"target": (C, h, w), "conds": (n_cond, C, h, w), "dists": (n_cond,) long, "tau": int}``; latents are
    multiplied by ``scale`` (the flow works on unit-variance latents, as latent diffusion's scale factor), or
    mapped by ``norm`` when given (:class:`~river_vp.flow.latent_norm.LatentNorm`, e.g. per channel).
    """

    def __init__(
        self,
        cache: LatentCache | str | Path,
        spec: ConditionSpec,
        examples_per_video: int = 1,
        scale: float = 1.0,
        norm: LatentNorm | None = None,
    ) -> None:
        self.cache = cache if isinstance(cache, LatentCache) else LatentCache(cache)
        self.norm = norm
        self.spec, self.examples_per_video, self.scale = spec, examples_per_video, scale
        need = min_frames(spec)
        self.usable = [i for i in range(len(self.cache)) if self.cache.length(i) >= need]
        short = [self.cache.videos[i].get("source", str(i)) for i in range(len(self.cache))
                 if self.cache.length(i) < need]
        self.num_skipped = len(short)
        if not self.usable:
            shortest = min(self.cache.length(i) for i in range(len(self.cache)))
            raise DatasetError(
                f"latent cache {self.cache.root}: no video has the {need} frames mode '{spec.mode}' needs "
                f"(longest {max(self.cache.length(i) for i in range(len(self.cache)))}, shortest {shortest})"
            )
        if short:
            log.warning("latent cache %s: skipping %d of %d videos shorter than the %d frames mode '%s' needs: %s%s",
                        self.cache.root, len(short), len(self.cache), need, spec.mode, ", ".join(short[:3]),
                        " ..." if len(short) > 3 else "")

    def __len__(self) -> int:
        return len(self.usable) * self.examples_per_video

    def __getitem__(self, index: int) -> dict[str, Any]:
        i = self.usable[index % len(self.usable)]
        tau, idx, dist = sample_training_indices(self.cache.length(i), self.spec)
        frames = self.cache.frames(i, [tau, *idx])
        frames = self.norm.normalize(frames) if self.norm is not None else frames * self.scale
        return {
            "target": frames[0],
            "conds": frames[1:],
            "dists": torch.tensor(dist, dtype=torch.long),
            "tau": tau,
        }
