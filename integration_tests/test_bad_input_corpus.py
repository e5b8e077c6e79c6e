"""The whole bad-input corpus (issue: >= 55 cases over every CLI): every registered case refused with one line
naming its key or file, exit 2, no traceback, no weights left (each package also runs its own cases alone)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from sparse_core.testing.corpus import GROUP, check_case, collect_cases


def test_every_registered_case_of_every_package(tmp_path: Path) -> None:
    registered = {ep.name for ep in entry_points(group=GROUP)}
    assert registered >= {"core", "dilemma", "river", "scale", "sfclip", "vidrop"}
    corpus = collect_cases(tmp_path)
    assert len(corpus) >= 55
    scripts = {c.name.split("/")[0] for c in corpus}
    assert {"dilemma-train", "scale-extract", "river-train-ae", "river-encode", "vidrop-train", "sfclip-train",
            "vidrop-compress-fit", "scale-eval"} <= scripts
    problems = [p for case in corpus for p in check_case(case)]
    assert not problems, "\n".join(problems)
