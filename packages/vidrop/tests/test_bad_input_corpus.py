"""vidrop's cases of the bad-input corpus, run alone: each refused with one line naming its key or file."""

from pathlib import Path

from sparse_core.testing.corpus import assert_package_cases


def test_every_registered_case_is_refused_cleanly(tmp_path: Path) -> None:
    assert_package_cases("vidrop.bad_input_cases:cases", tmp_path)
