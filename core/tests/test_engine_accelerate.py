"""The engine on accelerate's public API only; the run's mixed precision is its own, not the process's.

Checked on accelerate 1.0.0 (the lowest of core's declared ``accelerate>=1.0``) and 1.16.0, by
``nox -s accelerate_range`` (this file, the engine tests and the 2-process equivalence tests on each).
"""

from __future__ import annotations

import gc
import re
import sys
import weakref
from pathlib import Path

import pytest
import torch

import sparse_core
from sparse_core.engine import OptimConfig, TrainConfig, Trainer
from sparse_core.engine.precision import RunPrecision

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import NoisyRegression, RegTask

CORE_SRC = Path(sparse_core.__file__).parent
PRIVATE = re.compile(r"_shared_state|_reset_state|\._models\b|from accelerate[\w.]* import [^\n]*\b_[a-z]")


def test_core_uses_no_private_accelerate_name() -> None:
    hits = [f"{p.relative_to(CORE_SRC)}:{i}: {line.strip()}" for p in sorted(CORE_SRC.rglob("*.py"))
            for i, line in enumerate(p.read_text().splitlines(), 1) if PRIVATE.search(line)]
    assert not hits, "private accelerate state used in core:\n" + "\n".join(hits)
    assert PRIVATE.search("AcceleratorState._reset_state()") and PRIVATE.search("acc._models[:] = x")


class DtypeProbe(RegTask):
    def __init__(self) -> None:
        super().__init__()
        self.dtypes: set[torch.dtype] = set()

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        self.dtypes.add(self.net[0](batch["x"]).dtype)
        return super().training_step(batch, step)


def _fit(out: Path, precision: str) -> DtypeProbe:
    task = DtypeProbe()
    train = TrainConfig(out_dir=str(out), max_steps=3, batch_size=8, seed=3, ckpt_every=100, log_every=1,
                        progress=False, precision=precision, resume="none")
    Trainer(task, NoisyRegression(), train, OptimConfig(lr=1e-2, warmup_steps=1)).fit()
    return task


def test_runs_of_different_precisions_follow_each_other_in_one_process(tmp_path: Path) -> None:
    # accelerate's process-wide state would refuse the second precision; the run's own autocast does not
    seen = [_fit(tmp_path / f"{i}_{p}", p).dtypes for i, p in enumerate(("no", "bf16", "no", "bf16"))]
    assert seen == [{torch.float32}, {torch.bfloat16}, {torch.float32}, {torch.bfloat16}]


def test_the_run_is_released_when_the_trainer_goes(tmp_path: Path) -> None:
    task = RegTask()
    trainer = Trainer(task, NoisyRegression(), *_cfgs(tmp_path))
    trainer.fit()
    ref = weakref.ref(task)
    del trainer, task
    gc.collect()
    assert ref() is None  # nothing process-wide (accelerate's state included) still holds the model


def _cfgs(out: Path) -> tuple[TrainConfig, OptimConfig]:
    return (TrainConfig(out_dir=str(out), max_steps=2, batch_size=8, seed=3, ckpt_every=100, progress=False,
                        resume="none"), OptimConfig(lr=1e-2, warmup_steps=1))


def test_fp16_on_cpu_trains_in_fp32_as_accelerate_does(caplog: pytest.LogCaptureFixture) -> None:
    prec = RunPrecision("fp16", torch.device("cpu"))
    assert prec.dtype is None and prec.scaler is None and prec.state_dict() == {}
    assert "fp32" in caplog.text
    with prec.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_bf16_outputs_are_reduced_in_fp32() -> None:
    prec = RunPrecision("bf16", torch.device("cpu"))
    with prec.autocast():
        out = {"loss": torch.ones(2, 2) @ torch.ones(2, 2), "n": 3}
    assert out["loss"].dtype == torch.bfloat16
    assert prec.outputs_to_fp32(out)["loss"].dtype == torch.float32 and prec.outputs_to_fp32(out)["n"] == 3
    with pytest.raises(ValueError, match="train.precision='fp8'"):
        RunPrecision("fp8", torch.device("cpu"))


def test_fp16_scaler_path_trains_and_resumes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's own GradScaler (fp16 autocast forced on the CPU): overflowing steps are skipped, clipping
    unscales, the scaler state is checkpointed, and a killed run resumed from step 3 ends bitwise where the
    uninterrupted run ends."""
    monkeypatch.setattr(RunPrecision, "CPU_FP16", True)

    def cfgs(out: Path) -> tuple[TrainConfig, OptimConfig]:
        return (TrainConfig(out_dir=str(out), max_steps=6, batch_size=8, seed=3, ckpt_every=3, progress=False,
                            precision="fp16", clip_grad=1.0, resume="auto"), OptimConfig(lr=1e-2, warmup_steps=1))

    class Fp16Probe(RegTask):
        dtypes: set[torch.dtype] = set()

        def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
            self.dtypes.add(self.net[0](batch["x"]).dtype)
            return super().training_step(batch, step)

    torch.manual_seed(0)
    whole = Fp16Probe()
    init = {k: v.clone() for k, v in whole.state_dict().items()}
    ref = Trainer(whole, NoisyRegression(), *cfgs(tmp_path / "whole"))
    res = ref.fit()
    assert Fp16Probe.dtypes == {torch.float16} and ref.precision.scaler is not None
    assert res["metrics"]["grad_norm"] > 0 and torch.isfinite(torch.tensor(res["metrics"]["loss"]))
    saved = torch.load(res["checkpoint"], weights_only=True)["scaler"]
    assert saved == ref.precision.scaler.state_dict()
    assert saved["scale"] < 2.0**16  # fp16 gradients overflowed at the initial scale: steps skipped, scale backed off

    killed = Fp16Probe(crash_at=4)
    killed.load_state_dict(init)
    with pytest.raises(KeyboardInterrupt):
        Trainer(killed, NoisyRegression(), *cfgs(tmp_path / "resumed")).fit()
    again = Fp16Probe()
    again.load_state_dict(init)
    resumed = Trainer(again, NoisyRegression(), *cfgs(tmp_path / "resumed"))
    at3 = torch.load(tmp_path / "resumed" / "checkpoints" / "ckpt_00000003.pt", weights_only=True)["scaler"]
    assert resumed.step == 3 and resumed.precision.scaler.state_dict() == at3 and at3 != saved
    resumed.fit()
    for k, v in whole.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    assert resumed.precision.scaler.state_dict() == ref.precision.scaler.state_dict()
