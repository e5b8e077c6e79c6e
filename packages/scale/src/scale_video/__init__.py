"""SCALE: spatio-temporal crop aggregation over frozen clip features (Sameni 2024, thesis chapter 4).

Extraction (``scale-extract``):

* :mod:`scale_video.boxes` — crops and their normalised boxes (eq. 4.5), the uniform 5 x 3 test grid;
* :mod:`scale_video.clips` — sets of random spatio-temporal crops + augmentations per (video, pass);
* :mod:`scale_video.backbones` — frozen clip encoders behind one interface (EfficientNet-Lite0, timm, VideoViT /
  VideoMAE, open_clip) and their registry;
* :mod:`scale_video.sources` — videos from core's procedural generator or a folder;
* :mod:`scale_video.extract` — sets -> features -> sharded stores (:mod:`sparse_core.features`), resumable;
* :mod:`scale_video.config` — typed run configs.
"""

__version__ = "0.1.0"
