"""All packages installed together: stage discovery, console scripts, one shared sparse-core."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest

from sparse_core.config import ConfigError
from sparse_core.suite import discover, run_stages

DISTS = ["sparse-core", "dilemma-ssl", "scale-video", "river-vp", "vidrop", "sfclip"]


def _scripts() -> list[str]:
    names = []
    for dist in DISTS:
        names += [ep.name for ep in distribution(dist).entry_points if ep.group == "console_scripts"]
    return sorted(names)


def test_every_distribution_installed_with_shared_core_version() -> None:
    import sparse_core

    assert distribution("sparse-core").version == sparse_core.__version__
    for dist in DISTS[1:]:
        reqs = [r for r in distribution(dist).requires or [] if r.startswith("sparse-core")]
        assert reqs, f"{dist} does not declare sparse-core"


def test_demo_and_bench_stages_discovered_in_thesis_order() -> None:
    demo = list(discover("sparse_ssl.demo"))
    assert demo[0] == "core"
    declared = {ep.name for ep in entry_points(group="sparse_ssl.demo")}
    assert set(demo) == declared
    from sparse_core.suite import ORDER

    known = [n for n in demo if n in ORDER]
    assert known == sorted(known, key=ORDER.index)
    assert "core" in discover("sparse_ssl.bench")


@pytest.mark.slow  # one fresh interpreter per script: about 10 s each on 2 busy cores
@pytest.mark.parametrize("script", _scripts())
def test_console_script_help(script: str) -> None:
    exe = Path(sys.executable).parent / script
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=180,
                         env={"HF_HUB_OFFLINE": "1", "PATH": str(exe.parent)})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage" in res.stdout.lower()


def test_failing_stage_is_reported_and_others_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sparse_core.suite as suite

    def ok(out: Path, **kw: object) -> dict:
        (out / "table.md").write_text("| a |\n")
        return {"summary": "fine"}

    def broken(out: Path, **kw: object) -> dict:
        raise RuntimeError("boom")

    monkeypatch.setattr(suite, "discover", lambda group: {"core": lambda: broken, "dilemma": lambda: ok})
    results = run_stages("sparse_ssl.demo", tmp_path)
    assert results["core"].ok is False and "boom" in results["core"].error
    assert results["dilemma"].ok is True and (tmp_path / "dilemma" / "table.md").exists()
    assert results["dilemma"].summary == "fine"
    with pytest.raises(ConfigError, match="unknown stage"):
        run_stages("sparse_ssl.demo", tmp_path, only=["nope"])


def _declared_scripts() -> list[str]:
    """Console scripts declared in the pyproject.toml files of the source tree (Python 3.11+: tomllib)."""
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    names: list[str] = []
    for path in [root / "core" / "pyproject.toml", *sorted((root / "packages").glob("*/pyproject.toml"))]:
        names += list(tomllib.loads(path.read_text()).get("project", {}).get("scripts", {}))
    return sorted(names)


def test_every_declared_script_is_installed() -> None:
    assert set(_declared_scripts()) <= set(_scripts())


@pytest.mark.slow
@pytest.mark.parametrize("script", _scripts())
def test_console_script_unknown_key_exits_2_without_traceback(script: str) -> None:
    exe = Path(sys.executable).parent / script
    env = {"HF_HUB_OFFLINE": "1", "PATH": str(exe.parent), "OMP_NUM_THREADS": "1"}
    if os.environ.get("PYTHONPATH"):  # a development checkout ahead of the installed copies
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    res = subprocess.run([str(exe), "--no.such_key", "1"], capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 2, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no.such_key" in lines[0] and "valid" in lines[0], res.stderr[-2000:]
    assert "Traceback" not in res.stderr + res.stdout
