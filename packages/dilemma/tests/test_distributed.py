"""Two CPU gloo processes give the loss and gradients of one process holding the whole batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from dilemma_test_utils import distributed_worker, run_fixed_step

from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants import TASKS


@pytest.mark.parametrize("variant", ["mocov3", "simclr"])
def test_two_processes_match_one(tmp_path: Path, variant: str) -> None:
    single = run_fixed_step(variant, SparsitySchedule, TASKS)
    mp.spawn(
        distributed_worker, args=(2, str(tmp_path / "init"), variant, str(tmp_path)), nprocs=2, join=True
    )
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert float(single["token"]) > 0  # the DILEMMA term is part of the comparison
    for r in ranks:
        assert torch.allclose(r["loss"], single["loss"], atol=1e-5), (r["loss"], single["loss"])
        assert torch.allclose(r["token"], single["token"], atol=1e-5)
        assert r["grads"].keys() == single["grads"].keys()
        for name, g in single["grads"].items():
            assert torch.allclose(r["grads"][name], g, atol=1e-5, rtol=1e-4), name
