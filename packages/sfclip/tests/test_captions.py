"""Several captions of one image: a multi-line .txt, LaCLIP rewrites; one drawn per step, never glued."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from sfclip.captions import CAPTION_STREAM, draw_captions, read_caption_file
from sfclip.data import PairFolder, ShapePairs
from sfclip.rewrites import LineFile, RewrittenCaptions
from sparse_core.engine.randomness import GlobalRows, global_rows, step_generator


def test_a_multi_line_txt_is_several_captions_never_glued(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), (0, 0, 255)).save(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("a blue square\n\n  a square, blue  \na small blue tile\n")
    Image.new("RGB", (8, 8)).save(tmp_path / "b.png")
    (tmp_path / "b.txt").write_text("one caption\n")
    data = PairFolder(tmp_path, 8)
    assert data[0]["caption"] == ["a blue square", "a square, blue", "a small blue tile"]
    assert data[1]["caption"] == "one caption"
    assert read_caption_file(tmp_path / "b.txt") == "one caption"
    rows = GlobalRows(2, 0, 2)
    drawn = [draw_captions([data[0]["caption"], data[1]["caption"]], step_generator(0, s, 0, CAPTION_STREAM), rows)
             for s in range(60)]
    assert {d[0] for d in drawn} == {"a blue square", "a square, blue", "a small blue tile"}  # each, whole
    assert all(d[1] == "one caption" for d in drawn)
    u = torch.rand(2, generator=step_generator(0, 7, 0, CAPTION_STREAM), dtype=torch.float64)
    assert drawn[7][0] == data[0]["caption"][int(u[0] * 3)]  # floor(u * n) of the step's generator


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rewrites_give_original_then_each_file_and_replace_short_ones(tmp_path: Path) -> None:
    a = _write(tmp_path / "chatgpt.txt", [f"rewrite A of pair {i}" for i in range(6)])
    b = _write(tmp_path / "bard.txt", ["ok", *[f"rewrite B of pair {i}" for i in range(1, 6)]])
    assert len(LineFile(a)) == 6 and LineFile(b)[0] == "ok"
    base = ShapePairs(6, 16, seed=0)
    data = RewrittenCaptions(base, [a, b], min_words=2)
    assert data[0]["caption"] == [base[0]["caption"], "rewrite A of pair 0", base[0]["caption"]]  # "ok": 1 word
    assert data[3]["caption"][1:] == ["rewrite A of pair 3", "rewrite B of pair 3"]

    class Keyed(ShapePairs):
        def rewrite_row(self, i: int) -> int:  # e.g. a webdataset key's number
            return 5 - i

    assert RewrittenCaptions(Keyed(6, 16), [a])[0]["caption"][1] == "rewrite A of pair 5"


def _draw(rank: int, world: int, files: list[Path], steps: int) -> list[list[str]]:
    """This rank's captions of 8 rewritten pairs (an equal share of the step batch) at each step."""
    data = RewrittenCaptions(ShapePairs(8, 16, seed=3), files)
    b = 8 // world
    captions = [data[i]["caption"] for i in range(rank * b, (rank + 1) * b)]
    rows = global_rows(b)
    return [draw_captions(captions, step_generator(11, s, 0, CAPTION_STREAM), rows) for s in range(steps)]


def test_rewrite_draws_are_seeded_and_equal_on_two_processes_and_one(tmp_path: Path) -> None:
    from sparse_core.testing import run_distributed

    files = [_write(tmp_path / f"{k}.txt", [f"{k} says pair {i}" for i in range(8)]) for k in ("x", "y", "z")]
    single = _draw(0, 1, files, 12)
    assert single == _draw(0, 1, files, 12)  # seeded
    assert len({tuple(s) for s in single}) > 1  # the draw changes with the step
    assert {c.split(" ")[0] for s in single for c in s} >= {"x", "y", "z"}
    ranks = run_distributed(_draw, files, 12, world_size=2)
    assert [r0 + r1 for r0, r1 in zip(*ranks)] == single
