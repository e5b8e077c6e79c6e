"""ViDROP data: procedural clips, raw / k-means-coded video folders and multi-clip views.

Video listing, decoding, writing and the procedural generator are sparse-core's
(:mod:`sparse_core.data.video`); this package keeps what is ViDROP's: the code folders of the lossy
codec, the multi-clip views and the registered ``vidrop.*`` sources.
"""

from vidrop.data.build import DATA_SOURCES, build_dataset
from vidrop.data.datasets import CodeFolderDataset, ProceduralClipDataset, VideoFolderDataset
from vidrop.data.views import MultiClipViews, ViewsConfig

__all__ = ["DATA_SOURCES", "build_dataset", "CodeFolderDataset", "ProceduralClipDataset", "VideoFolderDataset",
           "MultiClipViews", "ViewsConfig"]
