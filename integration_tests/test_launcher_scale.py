"""scale-train launched on 2 CPU processes by ``accelerate launch`` equals one process (elastic resume through
the launcher: test_launcher_trainers.py, on vidrop-train).

The launch is ``ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2`` (launch_helpers):
``accelerate launch --cpu --num_processes 2`` starts ONE process, so this test, written on it, once compared two
one-process runs (hence the "bitwise equal" once observed). Under a real 2-process launch the final weights
differed by up to 1.3e-4 against a 3.0e-4 move (2026-12-07, torch 2.14, accelerate 1.16, CPU gloo), all of it on
the key third of the predictor's ``attn.qkv.bias``: a key bias shifts every score of a query alike, so its
gradient is exactly zero and only rounding noise reached Adam, which scales it to lr-sized steps, different on
two processes than on one. SCALE's task holds those biases (``sparse_core.models.key_bias``); the largest
difference is now 5.6e-7 (one entry of ``heads.mcm_target.mlp.0.weight``, from Adam's first step).

The console script users run, started the way they start it on several processes, ends with the weights of one
process holding the same global batch: the engine splits each global batch of 16 into two halves of 8, and
SCALE's per-sample clip draws and masks are functions of ``(seed, step, global row)``, not of the process.
Tolerance: ``atol=1e-6, rtol=1e-5`` (as core's in-process 2-process test) on every tensor of the final
checkpoint after 4 Adam steps: the gradient all-reduce averages two half-batch means where one process takes
one full-batch mean, equal up to float rounding.
The weights move more than 100x the tolerance over the last 3 steps, so the check can fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from launch_helpers import assert_same_weights, largest_move, launch, run_script, script, weights

pytest.importorskip("scale_video")

ARGS = ["--config", "tiny", "--data.synthetic", "true", "--data.synthetic_samples", "64", "--data.synthetic_dim",
        "16", "--data.device", "cpu", "--model.hidden_dim", "32", "--model.num_heads", "4", "--model.head_dim", "32",
        "--model.dropout", "0.0", "--train.batch_size", "16", "--train.max_steps", "4", "--train.ckpt_every", "1",
        "--train.keep_last", "4", "--train.log_every", "1", "--train.resume", "none", "--train.progress", "false",
        "--train.seed", "0"]
ATOL, RTOL = 1e-6, 1e-5

pytestmark = [
    pytest.mark.slow,  # a launcher, its two ranks and a one-process run: ~30-45 s
    pytest.mark.skipif(sys.platform != "linux" or not script("scale-train").is_file(),
                       reason="needs scale-train beside python"),
]


def test_accelerate_launch_two_cpu_processes_equals_one(tmp_path: Path) -> None:
    launch("scale-train", ARGS, tmp_path / "ddp")
    run_script("scale-train", ARGS, tmp_path / "single")
    ddp, single = weights(tmp_path / "ddp"), weights(tmp_path / "single")
    assert weights(tmp_path / "ddp", 4).keys() == ddp.keys()
    assert_same_weights(ddp, single, ATOL, RTOL)
    # the comparison can tell steps 1 and 4 apart, let alone two different runs
    assert largest_move(single, weights(tmp_path / "single", 1)) > 100 * ATOL
