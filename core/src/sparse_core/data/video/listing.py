"""Finding the videos of a dataset: class folders (folder name -> label), flat folders and list files.

One listing serves every package: ``root/<class>/<video>`` gives labels from the sorted class names
(Kinetics / UCF layout), a flat folder gives unlabelled videos (label ``-1``), a text file lists
``<path> [<label>]`` per line, and a folder of frame images can count as one video
(``frame_folders=True``, the BAIR / KTH frame-dump layout).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sparse_core.data.errors import DatasetError

__all__ = ["IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "Layout", "VideoListing", "list_videos"]

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
Layout = Literal["auto", "classes", "flat"]


@dataclass
class VideoListing:
    """The videos of a dataset and their labels.

    Attributes:
        items: ``(path, label)`` pairs, label ``-1`` when unknown.
        classes: Class names in label order (empty for unlabelled listings and list files).
    """

    items: list[tuple[Path, int]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of videos."""
        return len(self.items)

    @property
    def paths(self) -> list[Path]:
        """The video paths, in listing order."""
        return [p for p, _ in self.items]


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def _is_frame_folder(p: Path) -> bool:
    return p.is_dir() and any(f.suffix.lower() in IMAGE_EXTENSIONS for f in p.iterdir())


def _files(folder: Path, extensions: tuple[str, ...], frame_folders: bool) -> list[Path]:
    """Video files (recursive) and, with ``frame_folders``, folders of frame images under ``folder``."""
    out = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions and _visible(p)]
    if frame_folders:
        out += [p for p in [folder, *folder.rglob("*")] if _is_frame_folder(p)]
    return sorted(set(out))


def _read_list_file(path: Path, extensions: tuple[str, ...]) -> VideoListing:
    """The ``<path> [<label>]`` lines of a list file; a file that lists no existing path is refused."""
    not_a_list = (f"{path} is a file but neither a video ({', '.join(extensions)}) nor a list file of videos "
                  "(one '<path> [<label>]' per line)")
    try:
        text = path.read_text()
    except (UnicodeDecodeError, OSError) as err:
        raise DatasetError(f"{not_a_list}: {type(err).__name__}") from None
    entries: list[tuple[Path, int]] = []
    for line in text.splitlines():
        parts = line.strip().rsplit(maxsplit=1)
        if not parts:
            continue
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            p, label = parts[0], int(parts[1])
        else:
            p, label = line.strip(), -1
        entries.append(((path.parent / p) if not Path(p).is_absolute() else Path(p), label))
    if entries and not any(p.exists() for p, _ in entries):
        raise DatasetError(f"{not_a_list}: none of its {len(entries)} line(s) names an existing file "
                           f"(first: {str(entries[0][0])!r:.120})")
    return VideoListing(entries)


def list_videos(
    source: str | os.PathLike[str] | Sequence[Any],
    layout: Layout = "auto",
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS,
    frame_folders: bool = False,
) -> VideoListing:
    """List the videos of ``source``.

    Args:
        source: A folder; a video file (one unlabelled video); a text file with one ``<path> [<label>]``
            per line (paths relative to the file's folder); or a sequence of paths or ``(path, label)``.
        layout: For a folder: ``"classes"`` (``root/<class>/...``: every visible sub-folder is a class,
            labels follow the sorted names, files are searched recursively inside each class),
            ``"flat"`` (every file under ``root``, recursively, label ``-1``) or ``"auto"`` (classes if
            ``root`` has visible sub-folders, else flat).
        extensions: File suffixes that count as videos (lower case, with the dot).
        frame_folders: Also count a folder holding frame images (:data:`IMAGE_EXTENSIONS`) as a video
            (flat layout).

    Returns:
        The listing, items sorted by class then path.

    Raises:
        DatasetError: ``source`` does not exist, or no video is found.
    """
    if not isinstance(source, (str, os.PathLike)):
        items = [(Path(s[0]), int(s[1])) if isinstance(s, (tuple, list)) else (Path(s), -1) for s in source]
        listing = VideoListing(items)
    else:
        root = Path(source)
        if not root.exists():
            raise DatasetError(
                f"video path {root} does not exist; expected a folder of videos "
                f"(root/<class>/<video>{extensions[0]} or root/<video>) or a list file"
            )
        if root.is_file():
            suffix = root.suffix.lower()
            listing = VideoListing([(root, -1)]) if suffix in extensions else _read_list_file(root, extensions)
        else:
            dirs = sorted(d for d in root.iterdir() if d.is_dir() and _visible(d))
            if layout == "classes" or (layout == "auto" and dirs and not frame_folders):
                listing = VideoListing(
                    [(f, i) for i, d in enumerate(dirs) for f in _files(d, extensions, False)],
                    [d.name for d in dirs],
                )
            elif layout in ("flat", "auto"):
                listing = VideoListing([(f, -1) for f in _files(root, extensions, frame_folders)])
            else:
                raise ValueError(f"unknown layout {layout!r}; choose 'auto', 'classes' or 'flat'")
    if not listing.items:
        kinds = ", ".join(extensions) + (f"; frame folders of {', '.join(IMAGE_EXTENSIONS)}" if frame_folders else "")
        raise DatasetError(f"no video files ({kinds}) found in {source!s:.200} (classes found: {listing.classes})")
    return listing
