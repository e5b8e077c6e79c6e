"""river-encode: encode a video dataset with the trained VQGAN into a sharded latent cache.

Unreadable videos, and videos shorter than the :data:`~river_vp.data.latent_cache.MIN_FRAMES` frames the
least demanding conditioning needs, are skipped, counted and listed in ``index.json`` (``num_skipped``,
``skipped``).
Example: ``river-encode --config tiny --autoencoder runs/ae --out runs/latents``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from river_vp.config import EncodeConfig, config_dir
from sparse_core.cli import require_path, run_cli
from sparse_core.data.errors import DatasetError

log = logging.getLogger("river_vp.encode")


def run(cfg: EncodeConfig) -> dict[str, Any]:
    """Encode every video; returns ``{"index": path, "num_videos": n, "num_skipped": k, "num_too_short": s}``
    (``k`` counts unreadable and too-short videos, ``s`` the too-short ones among them).

    Raises:
        DatasetError: the autoencoder file is not valid, or no video is usable (nothing is written then).
    """
    import torch  # torch and the models: for a run, not for --help or a bad argument

    from river_vp.data.latent_cache import MIN_FRAMES, LatentCacheWriter
    from river_vp.data.sources import VideoSource
    from river_vp.models.io import load_vqgan
    from sparse_core.device import resolve_device
    from sparse_core.engine.progress import Progress

    with torch.no_grad():
        device = resolve_device(cfg.device)
        vqgan = load_vqgan(cfg.autoencoder).to(device)
        source = VideoSource(cfg.data)
        writer = LatentCacheWriter(
            cfg.out,
            cfg.shard_frames,
            meta={
                "autoencoder": str(Path(cfg.autoencoder).resolve()),
                "image_size": cfg.data.image_size,
                "source": cfg.data.source,
            },
        )
        too_short = 0
        bar = Progress(len(source), mode=cfg.progress, desc=f"encode {cfg.out}", unit="video")
        for i in range(len(source)):
            if i:
                bar.update()  # video i - 1 is done (encoded or skipped)
            video = source.video(i)
            if video is None:
                writer.skip(source.name(i))
                continue
            if video.shape[0] < MIN_FRAMES:
                log.warning("skipping %s: %d frame(s), every conditioning mode needs at least %d", source.name(i),
                            video.shape[0], MIN_FRAMES)
                writer.skip(source.name(i))
                too_short += 1
                continue
            writer.add(vqgan.encode_video(video.to(device), cfg.batch_frames).cpu(), source.name(i))
        bar.update()
        bar.close()
        if not writer.videos:
            raise DatasetError(f"no usable video in {cfg.data.source}: all {len(writer.skipped)} skipped (unreadable "
                               f"or shorter than {MIN_FRAMES} frames), e.g. {writer.skipped[:3]}")
        index = writer.close()
        log.info("encoded %d videos into %s (%d skipped)", len(writer.videos), index.parent, len(writer.skipped))
        return {"index": index, "num_videos": len(writer.videos), "num_skipped": len(writer.skipped),
                "num_too_short": too_short}


def _run_and_print(cfg: EncodeConfig) -> None:
    from river_vp.data.latent_cache import MIN_FRAMES

    require_path(cfg.autoencoder, "autoencoder")
    result = run(cfg)
    print(
        f"latent cache: {result['index'].parent}  videos: {result['num_videos']}  "
        f"skipped (unreadable): {result['num_skipped'] - result['num_too_short']}  "
        f"skipped (fewer than {MIN_FRAMES} frames): {result['num_too_short']}"
    )



def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: 0 on success, 2 on a config error."""
    return run_cli(EncodeConfig, _run_and_print, argv, prog="river-encode", config_dir=config_dir("encode"))


if __name__ == "__main__":
    raise SystemExit(main())
