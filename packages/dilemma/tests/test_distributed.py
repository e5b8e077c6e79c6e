"""Two CPU gloo processes give the loss and gradients of one process holding the whole batch."""

from __future__ import annotations

import pytest
import torch
from dilemma_test_utils import distributed_step, run_fixed_step

from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants import TASKS
from sparse_core.testing import run_distributed


@pytest.mark.parametrize("variant", ["mocov3", "simclr"])
def test_two_processes_match_one(variant: str) -> None:
    single = run_fixed_step(variant, SparsitySchedule, TASKS)
    ranks = run_distributed(distributed_step, variant, world_size=2)
    assert float(single["token"]) > 0  # the DILEMMA term is part of the comparison
    for r in ranks:
        assert torch.allclose(r["loss"], single["loss"], atol=1e-5), (r["loss"], single["loss"])
        assert torch.allclose(r["token"], single["token"], atol=1e-5)
        assert r["grads"].keys() == single["grads"].keys()
        for name, g in single["grads"].items():
            assert torch.allclose(r["grads"][name], g, atol=1e-5, rtol=1e-4), name
