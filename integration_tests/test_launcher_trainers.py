"""Every package's training CLI under the real launcher: ``accelerate launch --cpu --num_processes 2`` equals one
process holding the same global batch (scale-train: test_launcher_scale.py).

Each case starts the console script the way users start it on several processes, then as one plain process
with the same arguments, and compares every tensor of the two final checkpoints (the ``task`` state: model,
teachers / EMA copies, buffers). The engine splits each global batch into two contiguous halves, and every
random choice of a step (crops' seeds, kept tokens, masks, mismatches, distillation subsets, flow times) is a
function of ``(seed, step, global row)``, so the two runs differ only by float rounding: two half-batch means
averaged by the gradient all-reduce against one full-batch mean, and batch statistics gathered over processes.

Tolerance (``torch.testing.assert_close``, every case; a case may loosen its own in ``CASES``): ``atol=1e-6,
rtol=1e-5`` on every tensor after 3 Adam / AdamW steps, as scale-train's and core's 2-process tests (Adam's
``g / sqrt(v)`` turns a rounding-level gradient difference into a rounding-level fraction of ``lr``). Observed
(torch 2.14, CPU gloo, 2026-12-07): bitwise equal, max difference 0.0, for all four scripts.
Every case also checks that the weights moved more than 100x ``atol`` between the first and the last step, so
the comparison can tell two different runs apart. Dropout and drop-path are off (they are drawn per process).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from launch_helpers import assert_same_weights, largest_move, launch, run_script, script, weights

STEPS = 3
ATOL, RTOL = 1e-6, 1e-5
COMMON = ["--train.max_steps", str(STEPS), "--train.ckpt_every", "1", "--train.keep_last", str(STEPS),
          "--train.log_every", "1", "--train.resume", "none", "--train.progress", "false", "--train.seed", "0",
          "--optim.warmup_steps", "1"]

CASES = {
    # DILEMMA (MoCo v3 + eq. 3.1 on the shapes): random sparsity schedule, batch 8..32 a step, BN head
    "dilemma-train": (["--config", "tiny", "--data.num_samples", "64", "--data.num_eval_samples", "16",
                       "--model.depth", "1", "--model.embed_dim", "32", "--model.num_heads", "2",
                       "--model.proj_hidden_dim", "64", "--model.proj_dim", "32", "--train.batch_size", "8",
                       "--eval.linear", "false", "--eval.few_shot", "[]", "--eval.mismatch", "false",
                       "--eval.segmentation", "false", "--eval.knn_k", "5", "--eval.max_train_samples", "32",
                       "--eval.max_test_samples", "16"], ATOL, RTOL),
    # ViDROP (DINO on procedural videos, 85 % of the tokens dropped), one local view
    "vidrop-train": (["--config", "tiny", "--data.source", "procedural", "--train.batch_size", "4",
                      "--data.num_videos", "8", "--encoder.depth", "1", "--encoder.embed_dim", "48",
                      "--encoder.num_heads", "2", "--head.out_dim", "64", "--head.patch_out_dim", "64",
                      "--head.hidden_dim", "64", "--views.num_local", "1"], ATOL, RTOL),
    # RIVER's autoencoder (the VQGAN of the latents) on procedural bouncing shapes
    "river-train-ae": (["--config", "tiny", "--train.batch_size", "4", "--model.ch", "16", "--model.resolution",
                        "16", "--data.num_videos", "4", "--data.image_size", "16", "--data.num_frames", "6"],
                       ATOL, RTOL),
    # SF-CLIP with tiny random teachers (the packaged ones load slower)
    "sfclip-train": (["--config", "tiny", "--teacher.text", "bert_tiny_random", "--teacher.vision",
                      "dinov2_tiny_random", "--teacher.vision_size", "48", "--train.batch_size", "16",
                      "--data.num_pairs", "48"], ATOL, RTOL),
}


@pytest.mark.slow  # a launcher, its two ranks and a one-process run: ~20-40 s a case on a loaded machine
@pytest.mark.skipif(sys.platform != "linux", reason="accelerate launch on Linux")
@pytest.mark.parametrize("name", list(CASES))
def test_accelerate_launch_two_cpu_processes_equals_one(tmp_path: Path, name: str) -> None:
    if not script(name).is_file():
        pytest.skip(f"needs {name} beside python")
    args, atol, rtol = CASES[name]
    launch(name, [*args, *COMMON], tmp_path / "ddp")
    run_script(name, [*args, *COMMON], tmp_path / "single")
    single = weights(tmp_path / "single")
    assert weights(tmp_path / "ddp", STEPS).keys() == single.keys()
    assert_same_weights(weights(tmp_path / "ddp"), single, atol, rtol)
    assert largest_move(single, weights(tmp_path / "single", 1)) > 100 * atol
