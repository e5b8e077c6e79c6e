"""The skeleton package installs beside sparse-core and reports the version its metadata declares."""

from importlib.metadata import requires, version

import sfclip


def test_version_matches_distribution_metadata() -> None:
    assert sfclip.__version__ == version("sfclip")


def test_depends_on_sparse_core_by_version_range() -> None:
    deps = [r for r in requires("sfclip") or [] if r.startswith("sparse-core")]
    assert deps and "<0.2" in deps[0] and ">=0.1" in deps[0]
