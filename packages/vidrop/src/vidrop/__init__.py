"""ViDROP: video self-distillation with token dropping and mask tokens, and the k-means lossy video codec
(Sameni 2024, thesis chapter 6).

* :mod:`vidrop.task` — :class:`~vidrop.task.ViDROPTask`, the training step on sparse-core's engine;
* :mod:`vidrop.tokens` — which student tokens are dropped and which are masked;
* :mod:`vidrop.model` — the encoder (sparse-core ``VideoViT`` + CLS token);
* :mod:`vidrop.codec` — fit / encode / decode of the k-means pixel-patch codec;
* :mod:`vidrop.data`, :mod:`vidrop.evaluation` — datasets, views and frozen-feature protocols;
* CLIs: ``vidrop-compress``, ``vidrop-train``, ``vidrop-eval``.
"""

__version__ = "0.1.0"
