"""The shared ``device`` option: checked at parse time, resolved once."""

from __future__ import annotations

import pytest
import torch

from sparse_core.config import ConfigError
from sparse_core.device import check_device, resolve_device


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_device_names_torch_knows_are_accepted(name: str) -> None:
    check_device("device", name)


@pytest.mark.parametrize("name", ["tpu", "gpu0", "cuda:x"])
def test_other_values_name_the_key_and_the_choices(name: object) -> None:
    with pytest.raises(ConfigError, match=r"backbone\.device.*'auto', 'cpu', 'cuda' or 'cuda:N'"):
        check_device("backbone.device", name)


def test_auto_is_cuda_only_when_there_is_one() -> None:
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
