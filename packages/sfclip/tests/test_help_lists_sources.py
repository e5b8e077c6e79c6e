"""sfclip-train --help lists every data.source value, not a reference to a constant."""

from __future__ import annotations

import re

import pytest

from sfclip.cli import train as train_cli
from sfclip.config import DATA_SOURCES


def test_data_source_help_names_every_registered_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    entry = re.search(r"^  --data\.source SOURCE  (.*?)\(type: str", text, re.S | re.M)  # the option, not the usage
    assert entry is not None
    assert all(f"'{name}'" in entry.group(1) for name in DATA_SOURCES), entry.group(1)
