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


@pytest.mark.parametrize("name", ["cpu:0", "cuda:01", "cuda:-1", "CUDA", "cuda: 1", "tpu", "xla:3", "meta"])
def test_the_torch_free_check_agrees_with_torch_device(name: str) -> None:
    """``check_device`` reads no torch (fast ``--help``), yet accepts exactly the names ``torch.device`` does."""
    try:
        torch.device(name)
        torch_accepts = True
    except (RuntimeError, ValueError):
        torch_accepts = False
    try:
        check_device("device", name)
        accepted = True
    except ConfigError:
        accepted = False
    assert accepted == torch_accepts


def test_every_listed_device_type_is_one_torch_knows() -> None:
    from sparse_core.device import DEVICE_TYPES

    for kind in DEVICE_TYPES:
        assert torch.device(kind).type == kind
