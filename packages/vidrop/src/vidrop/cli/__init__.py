"""Command-line entry points: ``vidrop-compress``, ``vidrop-train``, ``vidrop-eval``."""
