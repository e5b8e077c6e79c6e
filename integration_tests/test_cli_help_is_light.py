"""Every console script of every package: ``--help`` and an argument error import no torch, timm, transformers...

That is what makes them answer in well under 2 s (torch alone takes seconds to import); the latency itself is
measured by the ``cli_help`` benchmark (:mod:`sparse_core.bench_help`), never timed in a test.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from sparse_core.testing import assert_light_cli, console_scripts

DISTS = ["sparse-core", "dilemma-ssl", "scale-video", "river-vp", "vidrop", "sfclip"]
SCRIPTS: list[EntryPoint] = [ep for dist in DISTS for ep in console_scripts(dist).values()]
# a bad value of a typed option, per script: refused at parse time, before any work (exit 2)
BAD_VALUE = {"vidrop-compress": ["fit", "--patch_size", "x"]}


def test_every_distribution_has_console_scripts() -> None:
    assert {ep.name for ep in SCRIPTS} >= {"sparse-core-bench", "dilemma-train", "scale-train", "river-train",
                                           "vidrop-train", "sfclip-train"}


@pytest.mark.parametrize("entry", SCRIPTS, ids=[ep.name for ep in SCRIPTS])
def test_help_and_argument_errors_import_no_torch(entry: EntryPoint) -> None:
    bad_value = BAD_VALUE.get(entry.name, ["--config", "/no/such/config.yaml"])
    assert_light_cli(entry, [["--help"], ["--no_such_key", "1"], bad_value])
