"""ViDROP data: procedural clips, raw / k-means-coded video folders and multi-clip views."""

from vidrop.data.build import DATA_SOURCES, build_dataset
from vidrop.data.datasets import CodeFolderDataset, ProceduralClipDataset, VideoFolderDataset
from vidrop.data.procedural import MOTIONS, ProceduralVideos, write_video_folder
from vidrop.data.views import MultiClipViews, ViewsConfig

__all__ = ["DATA_SOURCES", "build_dataset", "CodeFolderDataset", "ProceduralClipDataset", "VideoFolderDataset",
           "MOTIONS", "ProceduralVideos", "write_video_folder", "MultiClipViews", "ViewsConfig"]
