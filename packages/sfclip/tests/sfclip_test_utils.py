"""Tiny SF-CLIP configurations with random teachers, shared by the sfclip tests."""

from __future__ import annotations

from pathlib import Path

from sfclip.config import DataConfig, DistillConfig, SFCLIPConfig, TeacherConfig, TextConfig, VisionConfig

FAST_ARGV = ["--config", "tiny", "--teacher.text", "bert_tiny_random", "--teacher.vision", "dinov2_tiny_random",
             "--teacher.vision_size", "48", "--train.max_steps", "3", "--train.batch_size", "16",
             "--data.num_pairs", "48", "--train.log_every", "1"]
"""CLI arguments of a seconds-long run: the tiny config with tiny random teachers (the packaged ones load
slower)."""


def tiny_config(vision: tuple[str, ...] = ("dinov2_tiny_random",), vision_size: int = 48,
                **distill: float | str) -> SFCLIPConfig:
    """A 1-block SF-CLIP on 32 px images with tiny random teachers (DINOv2 grid 6x6 vs the student's 4x4)."""
    return SFCLIPConfig(
        embed_dim=16,
        vision=VisionConfig(img_size=32, patch_size=8, embed_dim=24, depth=1, num_heads=2),
        text=TextConfig(width=24, depth=1, num_heads=2, context_length=16),
        teacher=TeacherConfig(vision=list(vision), vision_size=vision_size, text="bert_tiny_random"),
        distill=DistillConfig(**distill),
        data=DataConfig(source="shapes", num_pairs=32),
    )


def write_pair_folder(root: Path, pairs: int, blank_caption: bool = False) -> Path:
    """A pair folder of ``pairs`` 40 px one-colour squares (``<i>.png`` + ``<i>.txt``, red and green alternating),
    one corrupt image with a caption (``bad``) and, with ``blank_caption``, one good image with an empty caption
    (``blank``): the two unusable pairs a run must skip and count."""
    from PIL import Image

    root.mkdir(parents=True)
    for i in range(pairs):
        name, rgb = [("red", (255, 0, 0)), ("green", (0, 255, 0))][i % 2]
        Image.new("RGB", (40, 40), rgb).save(root / f"{i}.png")
        (root / f"{i}.txt").write_text(f"a {name} square")
    (root / "bad.png").write_bytes(b"\x89PNG broken")
    (root / "bad.txt").write_text("a broken image")
    if blank_caption:
        (root / "blank.png").write_bytes((root / "0.png").read_bytes())
        (root / "blank.txt").write_text("")
    return root
