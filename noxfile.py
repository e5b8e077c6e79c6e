"""Test matrix, lint, build, demo and benchmarks for the sparse-ssl monorepo.

    python -m nox -t test        # every package's tests in its own env + integration tests (what CI runs)
    python -m nox -s demo        # the main job: every method's tiny stage on embedded data
    python -m nox -s bench       # benchmarks (CPU, or GPU when present); JSON into bench-results/
    python -m nox -s bench -- --gpu [--dry-run]   # the prepared GPU suite (toy-size CPU dry run)
    python -m nox -s bench_agreement   # benchmark test: demo's and bench's speed-up agree on a loaded machine
    python -m nox -s lint build  # ruff + mypy on core; wheels installed one by one into clean envs
    python -m nox -s accelerate_range   # the engine tests on the lowest and the newest accelerate allowed

torch and torchvision (a 5.5 GB CUDA build from the machine's local mirror) are installed once into
``.nox/_torch`` and shared by every session through a ``.pth`` file: the matrix does not repeat it.
Override the pair with ``SPARSE_SSL_TORCH="torch==X torchvision==Y"``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).parent
TORCH_SPEC = os.environ.get("SPARSE_SSL_TORCH", "torch==2.14.1 torchvision==0.29.1").split()
TORCH_DIR = ROOT / ".nox" / ("_torch-" + "-".join(s.split("==")[-1] for s in TORCH_SPEC))
PACKAGES = {  # folder -> (import name, extra deps for its tests)
    "core": ("sparse_core", "[test,video,hf]"),
    "packages/dilemma": ("dilemma_ssl", "[test]"),
    "packages/scale": ("scale_video", "[test]"),
    "packages/river": ("river_vp", "[test]"),
    "packages/vidrop": ("vidrop", "[test]"),
    "packages/sfclip": ("sfclip", "[test]"),
}
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
       "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "integration"]


def _purelib(session: nox.Session, python: str = "python") -> str:
    out = session.run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", silent=True,
                      external=True)
    return str(out).strip().splitlines()[-1]


def _install_torch(session: nox.Session) -> None:
    """Install the torch pair once into TORCH_DIR and expose it to this session's venv via a .pth file."""
    marker = TORCH_DIR / ".complete"
    if not marker.exists():
        session.log(f"installing {' '.join(TORCH_SPEC)} once into {TORCH_DIR}")
        session.run("python", "-m", "pip", "install", "--quiet", "--target", str(TORCH_DIR), *TORCH_SPEC)
        marker.write_text(" ".join(TORCH_SPEC))
    Path(_purelib(session), "_sparse_ssl_torch.pth").write_text(str(TORCH_DIR) + "\n")


def _install_base(session: nox.Session) -> None:
    """Shared layer: torch + sparse-core's third-party dependencies (never sparse-core or a method package).

    Built once per content of core/pyproject.toml in ``.nox/_base-<hash>`` and exposed through a .pth file,
    so each session only installs its own packages and their extra dependencies.
    """
    _install_torch(session)
    digest = hashlib.sha256((ROOT / "core" / "pyproject.toml").read_bytes()).hexdigest()[:10]
    base = ROOT / ".nox" / f"_base-{digest}"
    py = str(base / "bin" / "python")
    if not (base / ".complete").exists():
        session.log(f"installing sparse-core's dependencies once into {base}")
        session.run("python", "-m", "venv", "--clear", str(base))
        Path(_purelib(session, py), "_sparse_ssl_torch.pth").write_text(str(TORCH_DIR) + "\n")
        session.run(py, "-m", "pip", "install", "--quiet", "pytest>=8", "pytest-xdist",
                    f"./core{PACKAGES['core'][1]}", external=True)
        session.run(py, "-m", "pip", "uninstall", "--quiet", "-y", "sparse-core", external=True)
        (base / ".complete").write_text(digest)
    Path(_purelib(session), "_sparse_ssl_torch.pth").write_text(f"{TORCH_DIR}\n{_purelib(session, py)}\n")


def _install(session: nox.Session, *folders: str, editable: bool = True) -> None:
    _install_base(session)
    args = []
    for folder in folders:
        extra = PACKAGES[folder][1]
        args += (["-e"] if editable else []) + [f"./{folder}{extra}"]
    session.install("--quiet", *args)


@nox.session(tags=["test"])
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """One package with sparse-core only (no sibling packages): proves it installs and works alone."""
    folders = ["core"] if package == "core" else ["core", package]
    _install(session, *folders)
    session.run("python", "-m", "pytest", f"{package}/tests", *session.posargs, env=ENV,
                success_codes=[0, 5])


@nox.session(tags=["test"])
def integration(session: nox.Session) -> None:
    """All packages installed together: shared demo/bench discovery, cross-package CLIs."""
    _install(session, *PACKAGES)
    session.run("python", "-m", "pytest", "integration_tests", *session.posargs, env=ENV)


ENGINE_TESTS = [f"core/tests/{name}.py" for name in (
    "test_engine", "test_engine_hooks", "test_engine_lr_rules", "test_engine_guards", "test_engine_seeding",
    "test_engine_resume", "test_engine_distributed", "test_engine_distributed_resume", "test_distributed",
    "test_engine_accelerate")]


def _lowest(requirement: str) -> str:
    """The lowest version core/pyproject.toml allows for ``requirement`` (its ``>=`` bound)."""
    text = (ROOT / "core" / "pyproject.toml").read_text()
    found = re.search(rf'"{re.escape(requirement)}>=([0-9][0-9.]*)', text)
    if found is None:
        raise ValueError(f"core/pyproject.toml declares no lower bound for {requirement}")
    return found.group(1)


@nox.session
@nox.parametrize("accelerate", ["lowest", "newest"])
def accelerate_range(session: nox.Session, accelerate: str) -> None:
    """The engine tests (bitwise resume, 2-process equivalence, DDP re-wrap) on accelerate's lowest and newest.

    The chosen accelerate is installed into this session's own venv (ahead of the shared base layer).
    """
    _install(session, "core")
    spec = f"accelerate=={_lowest('accelerate')}" if accelerate == "lowest" else "accelerate"
    session.install("--quiet", "--no-deps", "--upgrade", "--ignore-installed", spec)
    session.run("python", "-c", "import accelerate; print('accelerate', accelerate.__version__)")
    session.run("python", "-m", "pytest", *ENGINE_TESTS, *session.posargs, env=ENV)


@nox.session(tags=["lint"])
def lint(session: nox.Session) -> None:
    """ruff on the whole tree, mypy on sparse-core."""
    _install(session, "core")
    session.install("--quiet", "ruff", "mypy", "types-PyYAML")
    session.run("ruff", "check", ".")
    session.run("mypy", "core/src/sparse_core")


@nox.session
def build(session: nox.Session) -> None:
    """Build every wheel, then install sparse-core + each package alone into a fresh env and import it."""
    _install_torch(session)
    session.install("--quiet", "build")
    dist = ROOT / "dist"
    for folder in PACKAGES:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), folder)
    core_whl = sorted(dist.glob("sparse_core-*.whl"))[-1]
    for folder, (module, _) in PACKAGES.items():
        env_dir = ROOT / ".nox" / f"_wheel-{module}"
        session.run("python", "-m", "venv", "--clear", str(env_dir))
        py = str(env_dir / "bin" / "python")
        session.run(py, "-c", "import sysconfig, pathlib, sys; pathlib.Path(sysconfig.get_paths()['purelib'],"
                    f"'_sparse_ssl_torch.pth').write_text(r'{TORCH_DIR}' + '\\n')", external=True)
        wheels = [str(core_whl)]
        if folder != "core":
            wheels.append(str(sorted(dist.glob(f"{module.replace('-', '_')}-*.whl"))[-1]))
        session.run(py, "-m", "pip", "install", "--quiet", *wheels, external=True)
        session.run(py, "-c", _CHECK_WHEEL.format(module=module), external=True, env=ENV)


_CHECK_WHEEL = """
import subprocess, sys, pathlib, importlib.metadata as md
import {module}
dist = next(d for d in md.distributions() if '{module}' in (d.read_text('top_level.txt') or '')
            or any(str(f).startswith('{module}/') for f in d.files or []))
scripts = [ep.name for ep in dist.entry_points if ep.group == 'console_scripts']
for name in scripts:
    exe = pathlib.Path(sys.executable).parent / name
    subprocess.run([str(exe), '--help'], check=True, capture_output=True, timeout=300)
print(dist.metadata['Name'], dist.version, 'imports; --help works for', scripts or 'no scripts')
"""


FASHION_MNIST = Path(os.environ.get("SPARSE_SSL_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))


DEMO_DEBIAN = {  # Debian package -> a path it installs: the real data of the demo stages (DATA.md)
    "dataset-fashion-mnist": FASHION_MNIST,  # DILEMMA's images; the garments of the video stages (MovingFashion)
    "openclipart-svg": Path("/usr/share/openclipart/svg"),  # SF-CLIP's real captions (titles + keyword tags)
    "openclipart-png": Path("/usr/share/openclipart/png"),
    "fonts-noto-color-emoji": Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),  # SF-CLIP's emoji set
}


def _offer_real_data(session: nox.Session) -> None:
    """Install the Debian packages of the demo's real data where we may (root with apt-get), as .ci/run does.

    Each stage falls back to generated data (and says so in its headline) when its package is absent.
    """
    missing = [name for name, path in DEMO_DEBIAN.items() if not path.exists()]
    if not missing:
        return
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        session.log(f"not installed: {' '.join(missing)} (`apt-get install` them for the stages on real data)")
        return
    for cmd in (["apt-get", "install", "-y", "-q", *missing], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", *missing]):
        if subprocess.run(cmd, capture_output=True).returncode == 0 and all(DEMO_DEBIAN[m].exists() for m in missing):
            return
    session.log(f"could not install {' '.join(missing)}: those stages use generated data")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: install everything and run every method's tiny stage; prints where outputs went."""
    _offer_real_data(session)
    _install(session, *PACKAGES, editable=False)
    session.install("--quiet", "emoji>=2.12")  # sfclip[emoji]: the emoji names in 14 languages
    out = session.posargs[0] if session.posargs else str(ROOT / "runs" / "demo")
    session.run("sparse-ssl-demo", "--out", out, env=ENV)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks of every installed package (sparse vs dense, ours vs baseline) -> bench-results/*.json."""
    _install(session, *PACKAGES, editable=False)
    if "--gpu" in session.posargs:  # the prepared GPU suite (issue 14): `nox -s bench -- --gpu [--dry-run]`
        session.run("python", "-m", "sparse_core.gpu_suite", "--out", str(ROOT / "bench-results"),
                    *session.posargs, env=ENV)
        return
    session.run("sparse-ssl-bench", "--out", str(ROOT / "bench-results"), *session.posargs, env=ENV)


@nox.session
def bench_agreement(session: nox.Session) -> None:
    """Benchmark tests (``benchmarks/``, marker ``benchmark``): the core demo's speed-up and the bench's agree
    within 10 % while a busy-loop process loads the machine. Never part of ``nox -t test`` (those collect only
    ``<package>/tests`` and ``integration_tests``)."""
    _install(session, "core", editable=False)
    session.run("python", "-m", "pytest", "benchmarks", "-m", "benchmark", "-s", *session.posargs, env=ENV)
