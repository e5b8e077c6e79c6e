"""Core imports no method package; the suite order and the GPU rows come from the packages' entry points."""

from __future__ import annotations

import ast
import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import sparse_core
from sparse_core import gpu_suite, suite
from sparse_core.gpu_suite import Row

METHOD_PACKAGES = {"dilemma_ssl", "scale_video", "river_vp", "vidrop", "sfclip"}
CORE_SRC = Path(sparse_core.__file__).parent


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import statement and every import_module / __import__ call with a literal."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def test_the_walk_finds_every_kind_of_import() -> None:
    tree = ast.parse("import vidrop.codec\nfrom river_vp import x\nimport importlib\n"
                     "def f():\n    from sfclip.bench import run\n"
                     "    return importlib.import_module('dilemma_ssl.demo')\n")
    assert [m.split(".")[0] for _, m in _imported_modules(tree)] == ["vidrop", "river_vp", "importlib", "sfclip",
                                                                      "dilemma_ssl"]


def test_core_source_imports_no_method_package() -> None:
    files = sorted(CORE_SRC.rglob("*.py"))
    assert len(files) > 30  # the whole package was walked
    bad = [f"{path.relative_to(CORE_SRC)}:{line} imports {module}" for path in files
           for line, module in _imported_modules(ast.parse(path.read_text(), str(path)))
           if module.split(".")[0] in METHOD_PACKAGES]
    assert not bad, "core must not import a method package:\n" + "\n".join(bad)


# ---------------------------------------------------------------------- discovery from entry points
def _row(name: str, phase: int = 0) -> Row:
    return Row(name, 1, lambda ctx: {"headline": {"ran": name}}, phase=phase)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[EntryPoint]]:
    """Fake installed packages: entry points of module ``fake_suite_pkgs`` (no real package is consulted)."""
    mod = types.ModuleType("fake_suite_pkgs")
    mod.__dict__.update(
        ALPHA_POS=2, ZETA_POS=1,
        ALPHA_ROWS=(_row("alpha_quick"), _row("alpha_train", phase=1)),
        ZETA_ROWS=(_row("zeta_quick"),),
    )
    monkeypatch.setitem(sys.modules, "fake_suite_pkgs", mod)
    monkeypatch.setattr(gpu_suite, "CORE_ROWS", (_row("core_eager"), _row("core_compiled", phase=1)))

    def eps(group: str, **names: str) -> list[EntryPoint]:
        return [EntryPoint(name, f"fake_suite_pkgs:{attr}", group) for name, attr in names.items()]

    groups = {
        suite.ORDER_GROUP: eps(suite.ORDER_GROUP, alpha="ALPHA_POS", zeta="ZETA_POS"),
        gpu_suite.GPU_GROUP: eps(gpu_suite.GPU_GROUP, alpha="ALPHA_ROWS", zeta="ZETA_ROWS", broken="MISSING"),
        "sparse_ssl.demo": eps("sparse_ssl.demo", unregistered="ZETA_POS", alpha="ZETA_POS", zeta="ZETA_POS",
                               core="ZETA_POS"),
    }

    def fake_entry_points(group: str) -> list[EntryPoint]:
        return groups.get(group, [])

    monkeypatch.setattr(suite, "entry_points", fake_entry_points)
    monkeypatch.setattr(gpu_suite, "entry_points", fake_entry_points)
    return groups


def test_suite_order_is_what_the_packages_register(registry: dict[str, list[EntryPoint]]) -> None:
    assert suite.stage_positions() == {"core": 0.0, "zeta": 1.0, "alpha": 2.0}
    assert suite.ORDER == ("core", "zeta", "alpha")
    # a stage without a registered place runs last
    assert list(suite.discover("sparse_ssl.demo")) == ["core", "zeta", "alpha", "unregistered"]


def test_a_broken_order_entry_is_warned_and_placed_last(registry: dict[str, list[EntryPoint]]) -> None:
    registry[suite.ORDER_GROUP].append(EntryPoint("zeta", "fake_suite_pkgs:NOPE", suite.ORDER_GROUP))
    registry[suite.ORDER_GROUP].pop(1)  # zeta's good registration
    with pytest.warns(UserWarning, match="'zeta'.*does not load"):
        assert list(suite.stage_positions()) == ["core", "alpha", "zeta"]


def test_gpu_rows_come_from_entry_points_phase_then_order(registry: dict[str, list[EntryPoint]],
                                                          tmp_path: Path) -> None:
    names = [r.name for r in gpu_suite.discover_rows()]
    # phase 0 of every package (in the registered order; a package that does not load last), then phase 1
    assert names == ["core_eager", "zeta_quick", "alpha_quick", "broken_rows", "core_compiled", "alpha_train"]
    assert [r.name for r in gpu_suite.ROWS] == names
    results = gpu_suite.run_suite(tmp_path, dry_run=True)
    by_name: dict[str, Any] = {r["name"]: r for r in results}
    assert [r["name"] for r in results] == names
    assert not by_name["broken_rows"]["ok"] and "'broken'" in by_name["broken_rows"]["error"]
    assert by_name["zeta_quick"]["ok"] and by_name["zeta_quick"]["headline"] == {"ran": "zeta_quick"}


def test_core_comes_first_with_its_own_rows() -> None:
    assert next(iter(suite.stage_positions().items())) == ("core", 0)
    assert all(isinstance(r, Row) for r in gpu_suite.CORE_ROWS)
    assert {r.name for r in gpu_suite.CORE_ROWS} == {"core_vit_b_eager", "core_vit_s_eager", "core_vit_b_compiled",
                                                      "core_vit_s_compiled"}


def test_no_registered_rows_is_warned_not_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_suite, "entry_points", lambda group: [])
    monkeypatch.setattr(suite, "entry_points", lambda group: [])
    with pytest.warns(UserWarning, match="no installed package registers GPU rows"):
        rows = gpu_suite.discover_rows()
    assert rows and {r.name for r in rows} == {r.name for r in gpu_suite.CORE_ROWS}
