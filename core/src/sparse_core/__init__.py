"""sparse-core: building blocks for efficient self-supervised learning via sparsity.

Importing the package loads nothing heavy (a CLI answers ``--help`` without torch); its submodules load on first
use. ``import sparse_core.models`` (or any module that builds a model) registers the ``sparse_vit_*`` models with
timm, so ``timm.create_model("sparse_vit_small_patch16_224")`` works afterwards.
"""

from .lazy import lazy_getattr

__version__ = "0.1.0"

__getattr__ = lazy_getattr(__name__, {})
