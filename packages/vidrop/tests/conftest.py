"""pytest configuration of the vidrop tests: offline hub, ``vidrop_testutils`` importable under
``--import-mode=importlib`` (which does not put test folders on ``sys.path``), and a small generated
Fashion-MNIST folder as the garments of ``data.source: moving_fashion`` (the shipped ``tiny`` config), so no
test depends on Debian's ``dataset-fashion-mnist``."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
def fashion_mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A generated Fashion-MNIST-format folder, also set as ``$SPARSE_SSL_FASHION_MNIST`` for the session."""
    from sparse_core.data.fashion_mnist import ROOT_ENV
    from sparse_core.testing import write_fashion_mnist

    root = write_fashion_mnist(tmp_path_factory.mktemp("fashion_mnist"))
    old = os.environ.get(ROOT_ENV)
    os.environ[ROOT_ENV] = str(root)
    yield root
    if old is None:
        os.environ.pop(ROOT_ENV, None)
    else:
        os.environ[ROOT_ENV] = old
