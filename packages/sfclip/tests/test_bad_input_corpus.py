"""sfclip's cases of the bad-input corpus (sparse_core.testing.corpus): every one refused with one line naming
its key or file, exit 2, no traceback, no weights left; registered for the cross-package corpus."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from sfclip.bad_input_cases import cases
from sparse_core.testing.corpus import GROUP, check_case


def test_every_case_is_refused_cleanly(tmp_path: Path) -> None:
    corpus = cases(tmp_path)
    problems = [p for case in corpus for p in check_case(case)]
    assert not problems, "\n".join(problems)
    assert len({c.name for c in corpus}) == len(corpus)


def test_the_cases_are_registered() -> None:
    assert "sfclip.bad_input_cases:cases" in {ep.value for ep in entry_points(group=GROUP)}
