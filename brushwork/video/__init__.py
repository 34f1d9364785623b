"""Video style transfer with temporal consistency.

    from brushwork.video import stylize_video
    stylize_video("clip.mp4", "out.mp4", preset=7)                               # fast
    stylize_video("clip.mp4", "out.mp4", style="starry.jpg", method="optimize")  # Ruder et al. 2016

io (PyAV decode/encode, frame folders), flow (OpenCV DIS, warping, Ruder's masks), motion
(masks + scene cuts between two frames), fast (painter + flow-guided blending), ruder
(stylize + temporal loss), cache (resumable frame folder), pipeline (the job loop).
Flow helpers are used as `from brushwork.video.flow import flow, warp, consistency`.
"""
from .io import VideoInfo, VideoWriter, probe, read_frames, write_video
from .pipeline import FrameProgress, VideoResult, run_video, stylize_video

__all__ = ["FrameProgress", "VideoInfo", "VideoResult", "VideoWriter", "probe", "read_frames", "run_video",
           "stylize_video", "write_video"]
