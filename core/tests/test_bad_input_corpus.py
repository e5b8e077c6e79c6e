"""The corpus checker finds each way a CLI can mishandle a mistake; core's own scripts pass it."""

from __future__ import annotations

import sys
from pathlib import Path

from sparse_core.testing.corpus import BadRun, check_case, core_cases, standard_cases


def _refuses(argv: list[str]) -> int:
    print("prog: data.root: no such folder: /x/missing", file=sys.stderr)
    return 2


def test_a_clean_refusal_passes() -> None:
    assert check_case(BadRun("ok", _refuses, [], ["data.root", "missing"])) == []


def test_each_fault_is_reported(tmp_path: Path) -> None:
    def raises(argv: list[str]) -> int:
        raise FileExistsError("boom")

    def two_lines(argv: list[str]) -> int:
        print("prog: one\nprog: two", file=sys.stderr)
        return 2

    def trains_anyway(argv: list[str]) -> int:
        (tmp_path / "run").mkdir(exist_ok=True)
        (tmp_path / "run" / "model.safetensors").write_bytes(b"w")
        return 0

    assert "raised" in check_case(BadRun("a", raises, [], []))[0]
    assert "one line" in check_case(BadRun("b", two_lines, [], []))[0]
    assert "does not name ['data.val_root']" in check_case(BadRun("c", _refuses, [], ["data.val_root"]))[0]
    found = " ".join(check_case(BadRun("d", trains_anyway, [], [], out=tmp_path / "run")))
    assert "exit 0, expected 2" in found and "left weights behind" in found


def test_standard_cases_cover_roots_and_output_folders(tmp_path: Path) -> None:
    cases = standard_cases("x", _refuses, tmp_path, ".png", data=lambda r: ["--root", str(r)],
                           out=lambda p: ["--out_dir", str(p)], good=tmp_path)
    assert [c.name.split("/")[1] for c in cases] == ["missing", "empty", "root_is_a_file", "all_unreadable",
                                                      "out_dir_is_a_file", "out_dir_under_a_file"]
    assert (tmp_path / "roots" / "all_bad" / "a" / "zero.png").is_file()


def test_core_scripts_refuse_an_unknown_key() -> None:
    cases = core_cases(Path("."))
    assert {c.name for c in cases} >= {"sparse-core-bench/unknown_key", "sparse-ssl-demo/unknown_key"}
    problems = [p for c in cases for p in check_case(c)]
    assert not problems, problems
