"""Command-line entry points: ``dilemma-train`` and ``dilemma-eval``."""
