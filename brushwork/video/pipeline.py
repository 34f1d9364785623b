"""Video jobs: decode, paint frame by frame through a frame cache, encode atomically.

    stylize_video("clip.mp4", "out.mp4", preset=7)                        # fast, consistent
    stylize_video("clip.mp4", "out.mp4", style="starry.jpg", method="optimize")  # Ruder et al.
    stylize_video("frames/", "out/", painter=my_fn, size=(720, 1280))     # any per-frame painter

`run_video` is the loop behind it for any producer (`fast.Consistent`, `ruder.Ruder` or your
own): frames are decoded one at a time, each result is saved to `OUT.frames/` before the next
frame starts, and only when every frame is there is the output written (under a temporary
name, then renamed) and the cache removed. Running the same job again after an interruption
continues from the first missing frame.
"""
from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch

from ..errors import InputError
from ..image import ImageSource, fit, parse_size
from ..paths import check_not_input
from ..progress import Progress
from .cache import FrameCache, cache_path
from .fast import Consistent, FramePainter, Past, check_consistency
from .io import VideoInfo, VideoWriter, check_output, probe, read_frames

METHODS = ("fast", "optimize")
MAX_AUTO_PIXELS = 1920 * 1088  # larger inputs need an explicit --size (4K on a CPU takes hours)


class Producer(Protocol):
    """Makes output frame t from input frame t and up to `history` earlier (input, output) pairs."""

    history: int

    def settings(self) -> dict[str, Any]: ...

    def __call__(self, frame: np.ndarray, past: Past) -> tuple[np.ndarray, dict[str, Any]]: ...


@dataclass
class FrameProgress(Progress):
    """Progress of a video job: `step`/`total` count frames (total may be an estimate).

    `phase` is 'paint' or 'encode'; `fps` counts frames painted by this run per second, `eta`
    the seconds left (None until known); `resumed` frames came from the cache; `reliable` is
    the fraction of the last frame carried over from the previous one. The first report comes
    before any frame is painted (step = frames already in the cache).
    """

    phase: str = "paint"
    unit: str = "frame"
    fps: float = 0.0
    eta: float | None = None
    resumed: int = 0
    reliable: float | None = None
    cut: bool = False


@dataclass
class VideoResult:
    path: Path
    frames: int
    fps: Fraction
    size: tuple[int, int]             # (H, W)
    audio: bool                       # an audio track was written
    resumed: int                      # frames taken from an earlier, interrupted run
    cuts: list[int] = field(default_factory=list)  # frames where a scene cut reset the history
    variable_rate: bool = False       # the input had a variable frame rate (resampled to `fps`)
    seconds: float = 0.0
    audio_error: str | None = None    # why the input's audio track is missing from the output


def output_size(info: VideoInfo, size: int | tuple[int, int] | str | None, even: bool) -> tuple[int, int]:
    """(H, W) of the frames to paint: `size` as in `image.fit`, the input's size when None.

    Inputs larger than Full HD need an explicit size. `even` rounds down to even sides (H.264).
    """
    size = parse_size(size)
    if size is None:
        if info.width * info.height > MAX_AUTO_PIXELS:
            raise InputError(f"{info.path}: {info.width}x{info.height} is larger than Full HD; painting every "
                             "frame at that size needs several GB of memory and hours on a CPU. Give --size 1920 "
                             f"(or --size {info.width}x{info.height} to keep it)")
        h, w = info.height, info.width
    else:
        h, w = fit((info.height, info.width), size)
    if even:
        h, w = max(2, h - h % 2), max(2, w - w % 2)
    return h, w


def _source_id(info: VideoInfo) -> dict[str, Any]:
    st = info.path.stat()
    return {"path": str(info.path.resolve()), "bytes": st.st_size if not info.is_folder else None,
            "mtime": int(st.st_mtime), "frames": info.frames}


def run_video(source: str | os.PathLike | VideoInfo, output: str | os.PathLike, producer: Producer, *,
              size: int | tuple[int, int] | str | None = None, fps: float | None = None,
              max_frames: int | None = None, cache: str | os.PathLike | None = None, keep_frames: bool = False,
              restart: bool = False, crf: int = 18,
              callback: Callable[[FrameProgress], bool | None] | None = None) -> VideoResult | None:
    """Paint every frame of `source` with `producer` into `output` (.mp4/.mov/.mkv/.gif or a folder).

    `size` sets the frame size (long side or (H, W); default the input's), `fps` the rate of a
    frame folder (default 24), `max_frames` stops after that many frames. Frames are cached in
    `cache` (default OUT.frames); it is removed after success unless `keep_frames`. `restart`
    discards a cache made with other settings. The callback gets a FrameProgress after every
    frame; returning True stops the job, keeps the cache and returns None (no output is written).
    """
    info = source if isinstance(source, VideoInfo) else probe(source, fps)
    out_path = Path(output)
    kind = check_output(out_path)
    check_not_input(out_path, [info.path])
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max frames must be at least 1, not {max_frames}")
    hw = output_size(info, size, even=kind not in ("gif", "folder"))
    total = info.frames if max_frames is None else min(max_frames, info.frames)
    frame_cache = FrameCache(cache if cache is not None else cache_path(out_path),
                             {"source": _source_id(info), "size": list(hw), "max_frames": max_frames,
                              "fps": str(info.fps), **producer.settings()})
    done = frame_cache.open(restart)
    history: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=max(1, producer.history))
    cuts: list[int] = []
    start = time.perf_counter()
    painted = 0
    n = 0

    def report(p: FrameProgress) -> bool:
        return bool(callback(p)) if callback is not None else False

    frames = read_frames(info, hw)
    if max_frames is not None:
        frames = islice(frames, max_frames)
    if report(FrameProgress(min(done, total), total, 0.0, size=hw, phase="paint", resumed=done)):
        return None  # the start: a bar can show resumed frames before the first (maybe slow) frame
    for t, frame in enumerate(frames):
        n = t + 1
        if t < done:
            if t >= done - history.maxlen:
                history.append((frame, frame_cache.load(t)))
            continue
        out, note = producer(frame, list(history))
        if note.get("cut"):
            history.clear()
            cuts.append(t)
        out8 = (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8) if out.dtype != np.uint8 else out
        frame_cache.save(t, out8)
        history.append((frame, out8))
        painted += 1
        elapsed = time.perf_counter() - start
        rate = painted / elapsed if elapsed > 0 else 0.0
        total = max(total, n)
        eta = (total - n) / rate if rate > 0 else None
        image = torch.from_numpy(out8).permute(2, 0, 1)[None].float().div_(255.0)
        if report(FrameProgress(n, total, 0.0, size=hw, elapsed=elapsed, image=image, phase="paint", fps=rate,
                                eta=eta, resumed=done, reliable=note.get("reliable"), cut=bool(note.get("cut")))):
            return None
    if n == 0:
        raise InputError(f"{info.path}: has no video frames")
    total = n
    with VideoWriter(out_path, info.fps, hw, audio_from=None if info.is_folder else info.path,
                     audio_start=info.start, crf=crf) as writer:
        for t in range(n):
            writer.write(frame_cache.load(t))
            if t % 10 == 9 or t == n - 1:
                report(FrameProgress(t + 1, n, 0.0, size=hw, elapsed=time.perf_counter() - start, phase="encode",
                                     resumed=done))
    if not keep_frames:
        frame_cache.clear()
    return VideoResult(out_path, n, info.fps, hw, writer.audio, min(done, n), cuts, info.variable_rate,
                       time.perf_counter() - start, writer.audio_error)


def feedforward_painter(preset: Any = None, style: ImageSource | None = None, model: Any = None,
                        strength: float = 1.0, preserve_color: bool | str | None = False,
                        stroke_scale: float | str = "auto", device: str = "auto") -> FramePainter:
    """A per-frame painter from the feed-forward networks (`brushwork.feedforward`), loaded once."""
    from ..feedforward import apply, load_stylizer
    from ..feedforward.apply import check_preserve_color, check_strength, check_stroke_scale
    strength = check_strength(strength)
    preserve_color = check_preserve_color(preserve_color)
    stroke_scale = check_stroke_scale(stroke_scale)
    stylizer = load_stylizer(preset, style, model, device)

    def paint(frame: torch.Tensor) -> torch.Tensor:
        return apply(frame, model=stylizer, strength=strength, preserve_color=preserve_color,
                     stroke_scale=stroke_scale, device=device)
    return paint


def stylize_video(source: str | os.PathLike, output: str | os.PathLike, *,
                  preset: Any = None, style: ImageSource | Sequence[ImageSource] | None = None, model: Any = None,
                  painter: FramePainter | None = None, method: str = "fast",
                  size: int | tuple[int, int] | str | None = None, consistency: float = 0.7,
                  strength: float = 1.0, preserve_color: bool | str | None = False,
                  stroke_scale: float | str = "auto", steps: int = 150, later_steps: int = 50, temporal_weight: float = 1.0,
                  long_term: Sequence[int] = (1,), style_weight: float = 1.0, content_weight: float = 1.0,
                  tv_weight: float = 1.0, flow_preset: str = "medium", fps: float | None = None,
                  max_frames: int | None = None, cache: str | os.PathLike | None = None,
                  keep_frames: bool = False, restart: bool = False, crf: int = 18, seed: int | None = 0,
                  device: str = "auto", dtype: str = "auto",
                  callback: Callable[[FrameProgress], bool | None] | None = None,
                  step_callback: Callable[[Progress], Any] | None = None) -> VideoResult | None:
    """Stylize a clip (file or frame folder) into `output` (.mp4/.mov/.mkv/.gif or a folder of PNGs).

    method 'fast': each frame is painted in one pass by a preset, a style image (arbitrary-style
      network), a trained model, or any `painter` ((1, 3, H, W) -> same), then blended with the
      previous output along the flow (`consistency` α in [0, 1): 0 = plain per-frame, default 0.7).
      `strength`, `preserve_color` and `stroke_scale` are those of `brushwork.apply`.
    method 'optimize': Ruder et al. 2016 with `style` image(s): `steps` for the first frame,
      `later_steps` for the others, `temporal_weight` (1 = 1e4, see ruder.BASE_TEMPORAL), `long_term` frame distances
      (e.g. (1, 10, 20, 40)), and the stylize weights; `step_callback` gets each frame's stylize Progress.
    The job is resumable (see `run_video`); returns a VideoResult, or None when stopped by the callback.
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    info = probe(source, fps)  # bad input is refused before any network is loaded
    output_size(info, size, even=check_output(output) not in ("gif", "folder"))
    check_not_input(output, [source, model, *(style if isinstance(style, (list, tuple)) else [style])])
    if method == "fast":
        check_consistency(consistency)
        if painter is None:
            painter = feedforward_painter(preset, style, model, strength, preserve_color, stroke_scale, device)
            from ..feedforward.apply import check_preserve_color, check_stroke_scale
            # the cache records colour modes as the plain flag did (off False, luminance True)
            color = {None: False, "luminance": True}.get(check_preserve_color(preserve_color), "histogram")
            name = {"preset": preset, "style": _describe(style), "model": _describe(model), "strength": strength,
                    "preserve_color": color, "stroke_scale": check_stroke_scale(stroke_scale)}
        else:
            if preset is not None or style is not None or model is not None:
                raise InputError("give a painter or a preset/style/model, not both")
            name = getattr(painter, "__qualname__", type(painter).__name__)
        producer: Producer = Consistent(painter, consistency, flow_preset, name=str(name))
    else:
        if painter is not None or preset is not None or model is not None:
            raise InputError("the optimize method paints with style images (--style); presets, models and "
                             "painters are for the fast method")
        if style is None:
            raise InputError("the optimize method needs a style image (--style)")
        from .ruder import Ruder
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        producer = Ruder(styles, steps, later_steps, temporal_weight, long_term, flow_preset,
                         options=dict(style_weight=style_weight, content_weight=content_weight, tv_weight=tv_weight,
                                      seed=seed, device=device, dtype=dtype),
                         on_step=step_callback, names=[_describe(s) for s in styles])
    return run_video(info, output, producer, size=size, max_frames=max_frames, cache=cache,
                     keep_frames=keep_frames, restart=restart, crf=crf, callback=callback)


def _describe(src: Any) -> str | None:
    """A stable name for a style/model source (a file: its path, size and mtime)."""
    if src is None:
        return None
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        if p.is_file():
            st = p.stat()
            return f"{p.resolve()}:{st.st_size}:{int(st.st_mtime)}"
        return str(src)
    if isinstance(src, torch.Tensor):
        return f"tensor:{tuple(src.shape)}:{float(src.double().sum()):.6g}"
    return type(src).__name__
