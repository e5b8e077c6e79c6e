"""The training-step benchmark's measurement (torch, timm): see :mod:`sparse_core.bench` for what it measures.

:mod:`sparse_core.bench` holds the CLI (``sparse-core-bench``) and re-exports these names lazily, so its
``--help`` and argument errors import no torch.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import json
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import timm
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from sparse_core.bench import KEEPS, MODELS
from sparse_core.masking import num_keep, random_keep_indices
from sparse_core.models import SparseVisionTransformer
from sparse_core.report import markdown_table
from sparse_core.suite import StageResult
from sparse_core.testing.threads import torch_threads
from sparse_core.timing import MIN_PAIRS, Interleaved, interleave

__all__ = ["bench_model", "run", "run_bench", "count_flops", "flop_counter", "peak_bf16_flops"]

# Dense bf16 tensor-core peaks (FLOP/s, without sparsity) by device-name substring, most specific first.
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
)


def peak_bf16_flops(device_name: str) -> float | None:
    """Dense bf16 peak FLOP/s for a CUDA device name, or None if unknown."""
    for key, value in PEAK_BF16:
        if key in device_name:
            return value
    return None


def _cpu_sdpa(q: Any, k: Any, v: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return sdpa_flop_count(q, k, v)


def _cpu_sdpa_backward(g: Any, q: Any, k: Any, v: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return sdpa_backward_flop_count(g, q, k, v)


def flop_counter() -> FlopCounterMode:
    """A quiet ``FlopCounterMode`` that also counts the CPU fused-attention kernels (not counted by torch)."""
    mapping: dict[Any, Callable[..., int]] = {}
    for name, fn in (
        ("_scaled_dot_product_flash_attention_for_cpu", _cpu_sdpa),
        ("_scaled_dot_product_flash_attention_for_cpu_backward", _cpu_sdpa_backward),
    ):
        op = getattr(torch.ops.aten, name, None)
        if op is not None:
            mapping[op] = fn
    return FlopCounterMode(display=False, custom_mapping=mapping)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs (2 per multiply-add) of the matmuls, convolutions and attention run by ``fn()``."""
    with flop_counter() as counter:
        fn()
    return int(counter.get_total_flops())


# ---------------------------------------------------------------------- memory
def _trim_heap() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _proc_status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class _CpuPeak:
    """Growth of the peak resident set (MiB) over a region."""

    def __enter__(self) -> _CpuPeak:
        _trim_heap()
        self.hwm = False
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            self.hwm = _proc_status_kib("VmHWM") is not None
        except OSError:
            pass
        if self.hwm:
            self.start = _proc_status_kib("VmRSS") or 0
        else:
            self.start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc: object) -> None:
        end = _proc_status_kib("VmHWM") if self.hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.mib = max((end or 0) - self.start, 0) / 1024


# ---------------------------------------------------------------------- benchmark
def _adamw(model: torch.nn.Module) -> torch.optim.Optimizer:
    """AdamW with the fused kernel where torch has one for the device (CPU too since torch 2.4)."""
    try:
        return torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _bench_model(
    size: str,
    keeps: Sequence[float],
    batch_size: int,
    img_size: int,
    depth: int | None,
    warmup: int,
    repeats: int,
    device: torch.device,
    compile_mode: str | None,
    compile_backend: str = "inductor",
    threads: int | None = None,
) -> tuple[list[dict[str, Any]], Interleaved]:
    kwargs: dict[str, Any] = dict(num_classes=0, img_size=img_size)
    if depth is not None:
        kwargs["depth"] = depth
    torch.manual_seed(0)
    model = timm.create_model(f"sparse_vit_{size}_patch16_224", **kwargs).to(device).train()
    assert isinstance(model, SparseVisionTransformer)
    fwd: Callable[..., torch.Tensor] = model
    if compile_mode is not None:
        fwd = torch.compile(  # type: ignore[assignment]
            model, mode=None if compile_mode == "default" else compile_mode, backend=compile_backend
        )
    opt = _adamw(model)
    num_tokens = model.num_patches
    x = torch.randn(batch_size, 3, img_size, img_size, device=device)
    gen = torch.Generator(device=device).manual_seed(0)  # indices drawn on the device: no host sync
    use_bf16 = device.type == "cuda"
    opt_times: dict[float, list[float]] = {keep: [] for keep in keeps}  # CPU: the optimizer's share of a step

    def step(keep: float, net: Callable[..., torch.Tensor] = fwd, record: bool = True) -> None:
        idx = None if keep >= 1.0 else random_keep_indices(batch_size, num_tokens, keep, gen, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            out = net(x, keep_idx=idx)
        out.float().pow(2).mean().backward()
        t_opt = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if record and device.type != "cuda":
            opt_times[keep].append(time.perf_counter() - t_opt)

    # dense, keep a, keep b, ... in every round: a neighbour's load slows the dense step beside it too
    timing = interleave({f"{keep:g}": functools.partial(step, keep) for keep in keeps}, device,
                        base=f"{max(keeps):g}", pairs=repeats, warmup=warmup, threads=threads)
    for keep in keeps:
        del opt_times[keep][: warmup]  # the warm-up rounds' optimizer times
    rows: list[dict[str, Any]] = []
    with torch_threads(timing.threads):
        for keep in keeps:  # peak memory of one more (untimed) step per keep ratio
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
                step(keep, record=False)
                _sync(device)
                peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
            else:
                with _CpuPeak() as peak:
                    step(keep, record=False)
                peak_mib = peak.mib
            seconds = timing.median(f"{keep:g}")
            row: dict[str, Any] = dict(
                model=f"sparse_vit_{size}_patch16",
                size=size,
                keep=keep,
                tokens=num_keep(num_tokens, keep),
                ms_per_step=1e3 * seconds,
                images_per_s=batch_size / seconds,
                opt_ms=1e3 * statistics.median(opt_times[keep]) if opt_times[keep] else None,
                peak_mem_mib=round(peak_mib, 1),
            )
            flops = count_flops(functools.partial(step, keep, net=model, record=False))  # eager, one extra step
            row["gflop_per_step"] = flops / 1e9
            peak_flops = peak_bf16_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
            row["mfu"] = flops / (row["ms_per_step"] / 1e3) / peak_flops if peak_flops else None
            rows.append(row)
    dense = 1.0 in keeps
    for row in rows:
        row["speedup"] = timing.ratio(f"{row['keep']:g}") if dense else None  # paired, not a ratio of medians
        row["ideal"] = 1.0 / row["keep"]
        row["efficiency"] = row["speedup"] / row["ideal"] if dense else None
        row.update(pairs=timing.pairs, threads=timing.threads,
                   load_avg_1min=None if timing.load_before is None else round(timing.load_before[0], 2))
    return rows, timing


def bench_model(
    size: str,
    keeps: Sequence[float],
    batch_size: int,
    device: torch.device,
    img_size: int = 224,
    depth: int | None = None,
    warmup: int = 5,
    repeats: int = 20,
    compile_mode: str | None = None,
    compile_backend: str = "inductor",
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Training-step rows of one sparse ViT size, one per keep ratio (the GPU suite's core rows).

    Args:
        size: ``tiny``, ``small``, ``base`` or ``large`` (patch 16).
        keeps: Keep ratios; include 1.0 so speed-up and fraction of ideal are filled.
        batch_size: Images per step.
        device: Where to run (bf16 autocast and MFU on CUDA).
        img_size: Image side in pixels.
        depth: Number of blocks (None: the size's own).
        warmup: Untimed rounds (every keep ratio once) before the timed ones.
        repeats: Timed interleaved rounds (at least :data:`~sparse_core.timing.MIN_PAIRS`; medians reported).
        compile_mode: ``torch.compile`` mode, or None for eager.
        compile_backend: ``torch.compile`` backend (``"eager"`` exercises the compiled path cheaply on a CPU).
        threads: torch's intra-op threads during the measurement (default: the current count).

    Returns:
        one dict per keep: ``ms_per_step``, ``images_per_s``, ``peak_mem_mib``, ``gflop_per_step`` (counted by
        ``FlopCounterMode``), ``mfu`` (CUDA with a known device, else None), ``speedup`` (median of the paired
        ratios), ``ideal``, ``efficiency`` (speed-up / ideal), ``pairs``, ``threads``, ``load_avg_1min``,
        ``batch_size``, ``img_size``.

    Raises:
        ValueError: ``repeats`` below :data:`~sparse_core.timing.MIN_PAIRS`.
    """
    rows, _ = _bench_model(size, keeps, batch_size, img_size, depth, warmup, repeats, device, compile_mode,
                           compile_backend, threads)
    for row in rows:
        row.update(batch_size=batch_size, img_size=img_size, compile=compile_mode)
    return rows


TABLE_COLUMNS = {"model": "model", "keep": "keep", "tokens": "K", "ms_per_step": "ms/step", "speedup_x": "speed-up",
                 "ideal_x": "ideal 1/keep", "efficiency": "efficiency", "opt_ms": "optimizer ms",
                 "peak_mem_mib": "peak MiB", "gflop_per_step": "GFLOP/step", "mfu": "MFU"}
TABLE_FORMATS = {"ms_per_step": ".1f", "opt_ms": ".1f", "peak_mem_mib": ".0f", "gflop_per_step": ".1f", "mfu": ".1%"}


def _table(rows: list[dict[str, Any]]) -> str:
    def times(v: float | None) -> str | None:
        return None if v is None else f"{v:.2f}x"

    shown = [{**r, "speedup_x": times(r["speedup"]), "ideal_x": times(r["ideal"])} for r in rows]
    return markdown_table(shown, TABLE_COLUMNS, fmt=TABLE_FORMATS)


def run(
    out_dir: Path | str,
    quick: bool = False,
    models: Sequence[str] = MODELS,
    keeps: Sequence[float] = KEEPS,
    device: str | None = None,
    batch_size: int | None = None,
    repeats: int | None = None,
    compile_mode: str | None = None,
    threads: int | None = None,
) -> StageResult:
    """Benchmark training steps and write ``out_dir/core.json``.

    Args:
        out_dir: Output folder (created).
        quick: Tiny setting for CI smoke runs (2 blocks, 112 px, batch 2, 5 rounds); numbers not meaningful.
        models: Sizes among ``tiny``, ``small``, ``base``, ``large`` (patch 16, 224 px).
        keeps: Keep ratios; include 1.0 for the dense reference.
        device: ``"cpu"`` / ``"cuda"`` (default: cuda if available).
        batch_size: Per step (default: CPU 32 small / 16 base; CUDA 256 small / 128 base; quick 2).
        repeats: Timed interleaved rounds (default CPU 5, CUDA 20, quick 5; at least
            :data:`~sparse_core.timing.MIN_PAIRS`), after warm-up rounds (CPU 2, CUDA 5, quick 1).
        compile_mode: ``torch.compile`` the model with this mode (``"default"``, ``"reduce-overhead"`` for CUDA
            graphs, ``"max-autotune"``...); None runs eagerly. FLOPs are always counted eagerly. Under
            CUDA graphs the graph pool is not in ``max_memory_allocated``, so peak memory reads too low.
        threads: torch's intra-op threads, pinned while measuring (default: the current count, which
            ``OMP_NUM_THREADS`` sets).

    Returns:
        the stage result: ``metrics`` the speed-up per (model, keep < 1), ``summary`` the table and the
        conditions of the measurement, ``details`` the rows, environment and timing (``out_dir/core.json``
        holds ``{"rows", "env", "table", "timing"}``, the last every timed round and the load averages per
        model).

    Raises:
        ValueError: ``repeats`` below :data:`~sparse_core.timing.MIN_PAIRS`.
    """
    if repeats is not None and repeats < MIN_PAIRS:
        raise ValueError(f"repeats={repeats}: a speed-up is the median of at least {MIN_PAIRS} interleaved rounds")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    rows: list[dict[str, Any]] = []
    timings: dict[str, Interleaved] = {}
    for size in models:
        if quick:
            bs, img, depth, warm, reps = batch_size or 2, 112, 2, 1, repeats or MIN_PAIRS
        else:
            # CPU: big enough that GEMMs run efficiently and the optimizer's fixed cost is amortised
            default_bs = {"tiny": 64, "small": 32, "base": 16, "large": 8}[size] * (8 if cuda else 1)
            bs, img, depth, warm, reps = (
                batch_size or default_bs,
                224,
                None,
                5 if cuda else 2,
                repeats or (20 if cuda else 5),
            )
        model_rows, timings[size] = _bench_model(size, keeps, bs, img, depth, warm, reps, dev, compile_mode,
                                                 threads=threads)
        for row in model_rows:
            row.update(batch_size=bs, img_size=img)
            rows.append(row)
            print(f"  {row['model']} keep={row['keep']:.2f}: {row['ms_per_step']:.1f} ms/step", flush=True)
    env = dict(
        torch=torch.__version__,
        timm=timm.__version__,
        device=str(dev),
        quick=quick,
        compile=compile_mode,
        device_name=torch.cuda.get_device_name(dev) if cuda else platform.processor() or platform.machine(),
        threads=next(iter(timings.values())).threads if timings else torch.get_num_threads(),
        precision="bf16 autocast" if cuda else "fp32",
    )
    caption = "\n".join(f"{f'sparse_vit_{size}: ' if len(timings) > 1 else ''}{t.describe()}"
                         for size, t in timings.items())
    table = _table(rows) + "\n\n" + caption
    print(f"sparse-core training step ({env['device_name']}, {env['precision']}, {env['threads']} threads)")
    print(table)
    result = {"rows": rows, "env": env, "table": table, "timing": {s: t.to_dict() for s, t in timings.items()}}
    (out / "core.json").write_text(json.dumps(result, indent=2))
    headline = {f"{r['size']}_keep{r['keep']:g}_speedup": r["speedup"] for r in rows
                if r["speedup"] is not None and r["keep"] < 1}
    return StageResult(metrics=headline, summary=table, outputs=[str(out / "core.json")],
                       details={"rows": rows, "env": env, "timing": result["timing"]})


run_bench = run
