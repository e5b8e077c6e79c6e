"""Dataset errors and the bookkeeping for skipped (corrupt) samples.

Two kinds of failure are distinguished:

* A wrong path, an empty folder or a folder without any usable file is a configuration error:
  the dataset constructor raises :class:`DatasetError` naming the path and what was expected, so
  the run stops before training starts.
* A single corrupt, truncated, empty or unreadable file is a data error: ``__getitem__`` logs a
  warning, increments the dataset's ``num_skipped`` counter and returns ``None``. Because a
  ``DataLoader`` worker holds its own copy of the dataset, the counter only covers samples read in
  the current process; :func:`sparse_core.data.collate.collate_skip_none` therefore also counts the
  ``None`` entries of every batch into ``batch["num_skipped"]``, which the training loop can log.

A checkpoint or weight file given by path that is missing or damaged raises :class:`MissingFileError` or
:class:`WeightsFileError` (both :class:`DatasetError`), so every CLI prints one line and exits 2, with our own
message and never torch's advice to unpickle the file.
"""

from __future__ import annotations

import logging
import os
from collections import Counter

logger = logging.getLogger("sparse_core.data")


class DatasetError(ValueError):
    """A dataset cannot be built: wrong path, empty folder, missing or malformed files."""


class WeightsFileError(DatasetError):
    """A checkpoint or weight file given by path cannot be used: empty, truncated, not a weight file.

    The message names the file and says it is not a valid checkpoint / weights file; it never repeats
    torch's advice to unpickle the file. CLIs print it as one line and exit 2, as any :class:`DatasetError`.
    """


class MissingFileError(DatasetError, FileNotFoundError):
    """A file given by path (a checkpoint, weights, an autoencoder) does not exist."""


class UntrustedPickleError(WeightsFileError, RuntimeError):
    """A torch file that stores Python objects besides tensors, refused: reading it would unpickle code.

    ``trust_pickle=True`` reads it, for a file one trusts.
    """


class SkipCounter:
    """Mixin giving a dataset a ``num_skipped`` counter and a uniform skip warning."""

    num_skipped: int = 0
    skip_reasons: Counter[str] | None = None
    """Skipped samples of this process by reason (``"too short"``, ``"too small"`` or the exception's type)."""
    skip_example: dict[str, str] | None = None
    """The first skipped file of each reason and the full reason: ``{kind: "<file>: <reason>"}``."""

    def _skip(self, path: str | os.PathLike[str], err: BaseException | str) -> None:
        """Record that the sample stored at ``path`` was skipped because of ``err``.

        Args:
            path: File (or sample description) that could not be used.
            err: The exception raised while reading it, or a short reason.
        """
        self.num_skipped = self.num_skipped + 1
        reason = f"{type(err).__name__}: {err}" if isinstance(err, BaseException) else err
        kind = skip_kind(err)
        if self.skip_reasons is None:
            self.skip_reasons = Counter()
        self.skip_reasons[kind] += 1
        if self.skip_example is None:
            self.skip_example = {}
        self.skip_example.setdefault(kind, f"{os.path.basename(os.fspath(path))}: {reason}"[:200])
        logger.warning(
            "%s: skipping %s sample %s (%s); %d skipped so far in this process",
            type(self).__name__,
            "unusable" if kind in ("too short", "too small") else "unreadable",
            os.fspath(path),
            reason,
            self.num_skipped,
        )


def skip_kind(err: BaseException | str) -> str:
    """The reason a sample was skipped, in a word or two.

    ``"too short"`` / ``"too small"`` for a video the model cannot use (:mod:`sparse_core.data.video.needs`,
    whose messages start so), else the exception's type (or the text before a colon).
    """
    if isinstance(err, BaseException):
        text = str(err)
        for kind in ("too short", "too small"):
            if text.startswith(kind):
                return kind
        return type(err).__name__
    return err.split(":")[0][:40]
