"""river_vp."""

__version__ = "0.1.0"
