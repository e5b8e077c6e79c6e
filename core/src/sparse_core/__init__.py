"""sparse-core: building blocks for efficient self-supervised learning via sparsity.

Importing the package registers the ``sparse_vit_*`` models with timm, so
``timm.create_model("sparse_vit_small_patch16_224")`` works after ``import sparse_core``.
"""

from . import models  # noqa: F401  (registers the timm models)

__version__ = "0.1.0"
