"""dilemma_ssl."""

__version__ = "0.1.0"
