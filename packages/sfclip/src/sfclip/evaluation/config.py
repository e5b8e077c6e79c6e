"""Configuration of ``sfclip-eval``: which evaluations run, on which data."""

from __future__ import annotations

from dataclasses import dataclass, field

from sfclip.evaluation.names import DEFAULT_TEMPLATES, LANGUAGES
from sparse_core.device import check_device
from sparse_core.validation import bad_value, check_choice, check_each, check_int

__all__ = ["EVALUATIONS", "EvalConfig", "ShapesEvalConfig"]

EVALUATIONS = ("zeroshot", "retrieval", "multilingual", "linear", "segmentation")
"""``tasks`` entries: zero-shot classification (prompt ensembles), image<->text retrieval R@1/5/10,
multilingual retrieval, linear probe (BN without affine) and zero-shot dense segmentation (mIoU)."""


@dataclass
class ShapesEvalConfig:
    """Held-out procedural pairs (used when no folder is given for an evaluation)."""

    num_pairs: int = 500
    """Evaluation pairs."""
    seed: int = 1000
    """Seed of the evaluation pairs (training uses ``data.seed``, 0 in ``tiny``)."""
    probe_pairs: int = 500
    """Training pairs of the linear probe (seed ``seed + 1``)."""

    def __post_init__(self) -> None:
        """Refuse non-positive counts.

        Raises:
            ConfigError: the first bad field.
        """
        check_int("shapes.num_pairs", self.num_pairs, 1)
        check_int("shapes.probe_pairs", self.probe_pairs, 2)


@dataclass
class EvalConfig:
    """sfclip-eval: evaluate a trained SF-CLIP run (zero-shot, retrieval, multilingual, probe, segmentation)."""

    run: str = ""
    """Run folder of ``sfclip-train`` (``config.yaml`` + ``sfclip_student.safetensors``)."""
    tasks: list[str] = field(default_factory=lambda: list(EVALUATIONS))
    """Evaluations to run, each one of :data:`EVALUATIONS` (``[]``: none, e.g. only ``export_open_clip``)."""
    out: str = ""
    """JSON file of the results (default ``<run>/eval.json``)."""
    classification_root: str = ""
    """Image folder (``<class>/<image>``) for zero-shot classification; empty: the procedural pairs' 40
    colour-shape classes. Class names are the folder names with ``_`` read as a space."""
    probe_train_root: str = ""
    """Image folder of the linear probe's training images (test: ``classification_root``); empty: procedural."""
    pairs_root: str = ""
    """Folder of ``name.<ext>`` + ``name.txt`` pairs for retrieval; empty: the procedural pairs."""
    multilingual_root: str = ""
    """Folder of ``name.<ext>`` + ``name.<lang>.txt`` for multilingual retrieval; empty: the procedural pairs'
    translated captions."""
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    """Caption languages of the multilingual retrieval (procedural: a subset of en, de, fr, es)."""
    templates: list[str] = field(default_factory=lambda: list(DEFAULT_TEMPLATES))
    """Prompt templates of the zero-shot ensembles (``{}`` = class name); default SLIP's 7 ImageNet prompts
    (thesis sec. 7.3.1)."""
    dense_features: str = "keys"
    """Per-patch features of the zero-shot segmentation: ``keys`` (the final attention keys, thesis sec.
    7.3.2 following DenseCLIP) or ``tokens`` (the final tokens)."""
    shapes: ShapesEvalConfig = field(default_factory=ShapesEvalConfig)
    """Held-out procedural pairs."""
    batch_size: int = 256
    """Images or captions per forward pass."""
    probe_epochs: int = 100
    """Epochs of each linear-probe run."""
    device: str = "auto"
    """Where the towers run: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``."""
    export_open_clip: str = ""
    """Also write the student as an open_clip ``local-dir:`` folder here (see :mod:`sfclip.export`)."""

    def __post_init__(self) -> None:
        """Refuse unknown evaluations, templates without ``{}`` and unknown procedural languages.

        Raises:
            ConfigError: the first bad field.
        """
        check_each("tasks", self.tasks, EVALUATIONS)
        check_choice("dense_features", self.dense_features, ("keys", "tokens"))
        check_device("device", self.device)
        check_int("batch_size", self.batch_size, 1)
        check_int("probe_epochs", self.probe_epochs, 1)
        bad = [t for t in self.templates if "{}" not in t]
        if bad or not self.templates:
            raise bad_value("templates", "templates each holding '{}'", bad or self.templates)
        if not self.multilingual_root:
            check_each("languages", self.languages, LANGUAGES)
