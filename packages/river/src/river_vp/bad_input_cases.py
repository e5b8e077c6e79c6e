"""RIVER's cases of the bad-input corpus (:mod:`sparse_core.testing.corpus`): ``river-train-ae`` and
``river-encode`` on unusable video roots and output folders, videos under ``data.min_side``, a torn
autoencoder, missing latents."""

from __future__ import annotations

from pathlib import Path

from sparse_core.testing.corpus import BadRun, noise_videos, standard_cases, unknown_key_cases

__all__ = ["cases"]


def _tiny_autoencoder(folder: Path) -> Path:
    """A randomly initialised f4 VQGAN at 16 px (what river's own CLI tests encode with)."""
    import torch

    from river_vp.models.io import save_vqgan
    from river_vp.models.vqgan import VQGAN, VQGANConfig

    torch.manual_seed(0)
    cfg = VQGANConfig(ch=16, ch_mult=[1, 2, 2], num_res_blocks=1, attn_resolutions=[], resolution=16, z_channels=4,
                      embed_dim=4, num_codes=32)
    save_vqgan(VQGAN(cfg), folder / "vqgan.safetensors")
    return folder


def cases(base: Path) -> list[BadRun]:
    """Write the inputs under ``base`` and return the cases (exit 2, the key or file named)."""
    from river_vp.cli import encode, train, train_ae

    base = Path(base)
    good = noise_videos(base / "good", 8, 32)
    small = noise_videos(base / "small", 8, 4)
    ae = _tiny_autoencoder(base / "ae")
    torn = base / "torn_ae"
    torn.mkdir()
    (torn / "vqgan.safetensors").write_bytes(b"torn")
    tiny = ["--config", "tiny", "--data.image_size", "16", "--data.num_frames", "6"]
    return [
        *standard_cases("river-train-ae", train_ae.main, base / "train_ae", ".mp4",
                        data=lambda r: ["--data.source", str(r)], out=lambda p: ["--train.out_dir", str(p)],
                        good=good, common=tiny),
        *standard_cases("river-encode", encode.main, base / "encode", ".mp4",
                        data=lambda r: ["--data.source", str(r)], out=lambda p: ["--out", str(p)], good=good,
                        common=[*tiny, "--autoencoder", str(ae)]),
        BadRun("river-train-ae/videos_too_small", train_ae.main,
               [*tiny, "--data.source", str(small), "--train.out_dir", str(base / "r1")],
               ["small", "too small", "data.min_side"], out=base / "r1"),
        BadRun("river-encode/torn_autoencoder", encode.main,
               [*tiny, "--autoencoder", str(torn), "--data.source", str(good), "--out", str(base / "lat")],
               ["vqgan.safetensors"]),
        BadRun("river-train/missing_latents", train.main,
               ["--config", "tiny", "--latents", str(base / "no_latents"), "--train.out_dir", str(base / "r2")],
               ["no_latents"], out=base / "r2"),
        *unknown_key_cases("river-vp"),
    ]
