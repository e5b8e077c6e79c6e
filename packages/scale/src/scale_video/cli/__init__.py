"""Command-line entry points: ``scale-extract``, ``scale-train``, ``scale-eval``."""
