"""The five stages of the RIVER pipeline as CLIs: typed config, shipped YAMLs and the paths checked first.

A stage's console script is ``STAGES[name].main(run, report, argv)``: parse the stage's config (``--config
NAME`` picks a YAML of ``configs/<name>/``), refuse a missing input path with exit status 2 before any work,
run, print ``report(result)``. The demo and the study build their configs through :meth:`Stage.tiny`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from river_vp.config import AutoencoderRunConfig, EncodeConfig, EvalConfig, FlowRunConfig, PredictConfig, config_dir
from sparse_core.cli import require_path, run_cli
from sparse_core.config import parse_config

__all__ = ["STAGES", "Stage"]


@dataclass(frozen=True)
class Stage:
    """One CLI stage of the pipeline."""

    name: str
    """Folder of its shipped YAMLs under ``configs/`` (``"ae"``, ``"encode"``, ``"flow"``, ...)."""
    config: type
    """Its typed run config."""
    prog: str
    """Console-script name (``--help`` and error messages)."""
    paths: Mapping[str, str] = field(default_factory=dict)
    """Config keys of input paths that must exist, with their kind (``"file"``, ``"dir"`` or ``"any"``)."""
    optional_paths: Mapping[str, str] = field(default_factory=dict)
    """Config keys of input paths checked only when set."""

    def parse(self, argv: Sequence[str] | None = None) -> Any:
        """Parse ``argv`` (``--config NAME`` from this stage's folder) into :attr:`config`."""
        return parse_config(self.config, argv, prog=self.prog, config_dir=config_dir(self.name))

    def tiny(self, args: Sequence[str] = ()) -> Any:
        """The shipped ``tiny`` config with ``args`` overriding it."""
        return self.preset("tiny", args)

    def preset(self, name: str, args: Sequence[str] = ()) -> Any:
        """The shipped config ``name`` (e.g. ``fashion``: demo and study sizes) with ``args`` overriding it."""
        return self.parse(["--config", name, *args])

    def check_paths(self, cfg: Any) -> None:
        """Raise :class:`~sparse_core.config.ConfigError` for a missing input path of ``cfg``."""
        for key, kind in self.paths.items():
            require_path(getattr(cfg, key), key, kind)
        for key, kind in self.optional_paths.items():
            if getattr(cfg, key):
                require_path(getattr(cfg, key), key, kind)

    def main(self, run: Callable[[Any], Any], report: Callable[[Any], str] | None,
             argv: Sequence[str] | None = None) -> int:
        """The stage's console entry: parse, check the paths, ``run(cfg)``, print ``report(result)``.

        Args:
            run: the stage's work on its parsed config.
            report: the line(s) printed from its result (None: print nothing).
            argv: command-line arguments (default ``sys.argv[1:]``).

        Returns:
            0 on success, 2 on a config error or a missing path (one line on stderr).
        """

        def checked_run(cfg: Any) -> None:
            self.check_paths(cfg)
            result = run(cfg)
            if report is not None:
                print(report(result))

        return run_cli(self.config, checked_run, argv, prog=self.prog, config_dir=config_dir(self.name))


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("ae", AutoencoderRunConfig, "river-train-ae", optional_paths={"init_checkpoint": "file"}),
        Stage("encode", EncodeConfig, "river-encode", paths={"autoencoder": "any"}),
        Stage("flow", FlowRunConfig, "river-train", paths={"latents": "dir"}),
        Stage("predict", PredictConfig, "river-predict", paths={"model": "any", "autoencoder": "any"}),
        Stage("eval", EvalConfig, "river-eval", paths={"model": "any", "autoencoder": "any"},
              optional_paths={"i3d_path": "file", "lpips_path": "file"}),
    )
}
"""The pipeline's stages by folder name, in pipeline order."""
