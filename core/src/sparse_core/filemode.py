"""The mode a new file gets from ``open()``, for files first written under a private temporary name.

``tempfile.mkstemp`` creates its file 0600 whatever the umask; an atomic write (temporary file, then
``os.replace``) would therefore leave checkpoints and exported weights unreadable to the group that can read
``config.yaml`` and the rest of the run folder. :func:`open_mode` is ``0o666 & ~umask``, what ``open()`` gives.
"""

from __future__ import annotations

import os

__all__ = ["open_mode", "set_open_mode"]


def _umask() -> int:
    try:  # Linux >= 4.7 reports it without changing it
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting it, then restore at once
    os.umask(mask)
    return mask


def open_mode() -> int:
    """Permission bits ``open(path, "w")`` gives a new file now: ``0o666`` without the process umask."""
    return 0o666 & ~_umask()


def set_open_mode(fd_or_path: int | str | os.PathLike[str]) -> None:
    """Give a (temporary) file the mode ``open()`` would have given it (:func:`open_mode`)."""
    if isinstance(fd_or_path, int):
        os.fchmod(fd_or_path, open_mode())
    else:
        os.chmod(fd_or_path, open_mode())
