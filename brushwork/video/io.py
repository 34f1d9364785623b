"""Video in and out: files through PyAV (FFmpeg), or folders of numbered frames.

Frames are (H, W, 3) uint8 RGB arrays in display orientation (the display matrix of phone
clips is applied on decoding). Reading and writing stream: one frame at a time, so an HD clip
of any length needs a few frames' worth of memory.

In: anything FFmpeg decodes (mp4, mov, mkv, webm, avi, gif, ...) or a folder of images sorted
by name. A variable-frame-rate clip is resampled to constant rate at its average rate (each
time slot shows the latest frame), so frames stay in sync with the audio.
Out: H.264 in .mp4/.mov/.mkv (the input's audio track remuxed, or re-encoded to AAC when the
container cannot hold it), .gif (a palette per frame), or a folder of PNG frames. Outputs are
written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import heapq
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError
from ..files import temp_beside

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts", ".wmv",
                  ".flv", ".ogv", ".3gp")
# output suffix -> (FFmpeg muxer, video encoder); a suffix-less path (or an existing folder) is a frame folder
OUTPUTS = {".mp4": ("mp4", "libx264"), ".m4v": ("mp4", "libx264"), ".mov": ("mov", "libx264"),
           ".mkv": ("matroska", "libx264"), ".gif": ("gif", "gif")}
# audio codecs the mp4/mov muxers take as they are; others are re-encoded to AAC
MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac", "mp2"}
DEFAULT_FPS = Fraction(24)
VFR_TOLERANCE = 0.25      # frame intervals further than this from the median mark a variable rate
VFR_SAMPLE = 600          # packets looked at to decide
_FRAME_NAME = re.compile(r"^\d+\.png$")


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a clip. `width`/`height` are as displayed (after rotation)."""

    path: Path
    is_folder: bool
    width: int
    height: int
    fps: Fraction
    frames: int              # exact for folders and most files; estimated from the duration otherwise
    rotation: int = 0        # degrees counter-clockwise applied to decoded frames (0, 90, 180, 270)
    audio: bool = False
    variable_rate: bool = False
    codec: str = ""
    start: float = 0.0       # time of the first video frame in the file, seconds

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def duration(self) -> float:
        return self.frames / float(self.fps)


def is_video_path(path: str | os.PathLike) -> bool:
    """True for a folder or a file with a video suffix (what `probe` would try to read)."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES


# --- frame folders ----------------------------------------------------------------------------

def _natural_key(p: Path) -> list:
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name.lower())]


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in `folder`, in natural name order (frame2 before frame10)."""
    d = Path(folder)
    found = sorted((p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in FRAME_SUFFIXES), key=_natural_key)
    if not found:
        raise InputError(f"{d}: no frames in this folder (looked for {', '.join(FRAME_SUFFIXES)})")
    return found


def _load_frame(path: Path) -> np.ndarray:
    from ..image import load_image
    t = load_image(path)
    return (t[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


# --- probing ----------------------------------------------------------------------------------

def _open(path: Path):
    import av
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except av.error.PermissionError:
        raise InputError(f"{path}: cannot be read (permission denied)") from None
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a video file, or a corrupt one ({_reason(e)})") from None


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e).split(": '")[0] or type(e).__name__


def _rotation(frame) -> int:
    r = getattr(frame, "rotation", 0) or 0
    return int(round(r / 90.0)) % 4 * 90


def _is_variable(stream, container) -> bool:
    """Look at the first packets' presentation times: uneven intervals mean a variable rate."""
    times = []
    for pkt in container.demux(stream):
        if pkt.pts is not None and pkt.size:
            times.append(pkt.pts)
        if len(times) >= VFR_SAMPLE:
            break
    if len(times) < 3:
        return False
    d = np.diff(np.sort(np.asarray(times, np.float64)))
    d = d[d > 0]
    if d.size < 2:
        return False
    med = np.median(d)
    return bool(np.mean(np.abs(d - med) > VFR_TOLERANCE * med) > 0.02)


def probe(src: str | os.PathLike, fps: float | Fraction | None = None) -> VideoInfo:
    """Open a clip or frame folder, decode its first frame, and describe it.

    Refuses (InputError, one line) missing files, non-videos, clips without a video stream or
    without a decodable frame, and codecs this FFmpeg build cannot decode. `fps` sets the rate of
    a frame folder (default 24) and is ignored for files.
    """
    p = Path(src)
    if p.is_dir():
        frames = list_frames(p)
        first = _load_frame(frames[0])
        if fps is not None and not fps > 0:
            raise InputError(f"frame rate {fps} must be positive")
        rate = Fraction(fps).limit_denominator(1001) if fps is not None else DEFAULT_FPS
        return VideoInfo(p, True, first.shape[1], first.shape[0], rate, len(frames))
    if not p.exists():
        raise InputError(f"{p}: no such file")
    import av
    try:
        return _probe_file(p)
    except av.error.FFmpegError as e:
        raise InputError(f"{p}: corrupt video ({_reason(e)})") from None


def _probe_file(p: Path) -> VideoInfo:
    import av
    with _open(p) as c:
        if not c.streams.video:
            raise InputError(f"{p}: has no video stream")
        v = c.streams.video[0]
        name = v.codec_context.name if v.codec_context else "unknown"
        try:
            av.codec.Codec(name, "r")
        except (av.error.FFmpegError, ValueError):
            raise InputError(f"{p}: this FFmpeg build cannot decode {name!r} video; convert the clip to H.264 "
                             "(ffmpeg -i IN -c:v libx264 OUT.mp4) or extract its frames to a folder") from None
        rate = v.average_rate or v.guessed_rate or v.base_rate
        rate = Fraction(rate) if rate else DEFAULT_FPS
        variable = _is_variable(v, c)
    with _open(p) as c:
        v = c.streams.video[0]
        try:
            first = next(iter(c.decode(v)), None)
        except av.error.FFmpegError as e:
            raise InputError(f"{p}: cannot decode its video ({_reason(e)})") from None
        if first is None:
            raise InputError(f"{p}: has no video frames")
        rot = _rotation(first)
        w, h = (first.height, first.width) if rot in (90, 270) else (first.width, first.height)
        start = float(first.time or 0.0)
        if v.frames and not variable:
            n = int(v.frames)
        else:
            dur = (float(v.duration * v.time_base) if v.duration else
                   c.duration / 1e6 if c.duration else 0.0)
            n = max(1, round(dur * float(rate)))
        return VideoInfo(p, False, w, h, rate, n, rot, bool(c.streams.audio), variable,
                         v.codec_context.name, start)


# --- reading ----------------------------------------------------------------------------------

def _resize(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or tuple(frame.shape[:2]) == tuple(size):
        return frame
    import cv2
    h, w = size
    shrink = h * w < frame.shape[0] * frame.shape[1]
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _decoded(info: VideoInfo) -> Iterator[tuple[float, np.ndarray]]:
    """(time since the first frame, display-oriented frame) for every decoded frame."""
    import av
    with _open(info.path) as c:
        v = c.streams.video[0]
        v.thread_type = "AUTO"
        k = info.rotation // 90
        i = 0
        try:
            for f in c.decode(v):
                a = f.to_ndarray(format="rgb24")
                if k:
                    a = np.ascontiguousarray(np.rot90(a, k))
                t = float(f.time) - info.start if f.time is not None else i / float(info.fps)
                i += 1
                yield t, a
        except av.error.FFmpegError as e:
            raise InputError(f"{info.path}: corrupt video data after frame {i} ({_reason(e)})") from None


def _constant_rate(frames: Iterator[tuple[float, np.ndarray]], fps: Fraction) -> Iterator[np.ndarray]:
    """Resample timed frames to `fps`: slot k shows the latest frame at or before k/fps (± half a slot)."""
    step = 1.0 / float(fps)
    prev, k, last_t = None, 0, 0.0
    for t, a in frames:
        while prev is not None and (k + 0.5) * step < t:
            yield prev
            k += 1
        prev, last_t = a, t
    if prev is not None:
        yield prev
        k += 1
        while (k + 0.5) * step < last_t + step:
            yield prev
            k += 1


def read_frames(src: str | os.PathLike | VideoInfo, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Stream the frames of a clip or folder as (H, W, 3) uint8 RGB, resized to `size` (H, W) if given."""
    info = src if isinstance(src, VideoInfo) else probe(src)
    if info.is_folder:
        for i, path in enumerate(list_frames(info.path)):
            a = _load_frame(path)
            if (a.shape[1], a.shape[0]) != (info.width, info.height):
                raise InputError(f"{path}: is {a.shape[1]}x{a.shape[0]} but the first frame is "
                                 f"{info.width}x{info.height}; all frames must have one size")
            yield _resize(a, size)
        return
    frames = _decoded(info)
    stream = _constant_rate(frames, info.fps) if info.variable_rate else (a for _, a in frames)
    for a in stream:
        yield _resize(a, size)


# --- writing ----------------------------------------------------------------------------------

def output_kind(path: str | os.PathLike) -> str:
    """'mp4'/'mov'/'matroska'/'gif' for a video file, 'folder' for a frame folder (an existing folder,
    a path ending in '/', or a name without a video or image suffix)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir() or str(path).endswith(("/", os.sep)):
        return "folder"
    if suffix in OUTPUTS:
        return OUTPUTS[suffix][0]
    if suffix in VIDEO_SUFFIXES or suffix in FRAME_SUFFIXES:
        raise InputError(f"{p}: cannot write {suffix} files; use .mp4, .mov, .mkv, .gif, or a folder for PNG frames")
    return "folder"


def _ours(folder: Path) -> bool:
    """A folder we may replace: holds nothing but numbered PNG frames."""
    return all(f.is_file() and _FRAME_NAME.match(f.name) for f in folder.iterdir())


def check_output(path: str | os.PathLike) -> str:
    """Refuse an output we could not write, before any long work; return its kind.

    A frame folder that already exists is replaced only if it holds nothing but numbered PNG
    frames (what this module writes), so a folder of other files is never emptied.
    """
    p = Path(path)
    kind = output_kind(p)
    if kind == "folder":
        if p.exists() and not p.is_dir():
            raise InputError(f"{p}: exists and is not a folder")
        if p.is_dir() and not _ours(p):
            raise InputError(f"{p}: folder holds other files; give a new or empty folder for the frames")
    elif p.is_dir():
        raise InputError(f"{p}: is a folder; give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise InputError(f"{parent}: output folder does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{parent}: output folder is not writable")
    if kind != "folder":
        import av
        encoder = OUTPUTS[p.suffix.lower()][1]
        try:
            av.codec.Codec(encoder, "w")
        except (av.error.FFmpegError, ValueError):
            raise InputError(f"this FFmpeg build (PyAV) has no {encoder} encoder; write a frame folder "
                             "(-o out/) or a .gif instead") from None
    return kind


class VideoWriter:
    """Write frames to a video file or frame folder, atomically: nothing appears at `path`
    until `close()`, which also remuxes the audio of `audio_from` (from `audio_start` seconds on).

        with VideoWriter("out.mp4", fps, (h, w), audio_from="in.mp4") as w:
            for frame in frames:
                w.write(frame)

    H.264 is written with `crf` (18: visually lossless), yuv420p, tagged BT.709; odd sizes are
    padded by one edge pixel (H.264 4:2:0 needs even sides). A GIF gets one palette per frame.
    """

    def __init__(self, path: str | os.PathLike, fps: float | Fraction, size: tuple[int, int], *,
                 audio_from: str | os.PathLike | None = None, audio_start: float = 0.0, crf: int = 18,
                 preset: str = "medium"):
        self.path = Path(path)
        self.kind = check_output(self.path)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.size = (int(size[0]), int(size[1]))
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.audio_start = audio_start
        self.frames = 0
        self.audio = False  # set by close(): whether an audio track was written
        self.audio_error: str | None = None  # why the input's audio was left out, if it was
        self._container = self._stream = None
        if self.kind == "folder":
            self._tmp = temp_beside(self.path)
            self._tmp.mkdir()
            return
        import av
        self._tmp = temp_beside(self.path, self.path.suffix)
        self._container = av.open(str(self._tmp), "w", format=self.kind)
        h, w = self.size
        if self.kind == "gif":
            s = self._container.add_stream("gif", rate=self.fps)
            s.pix_fmt = "pal8"
        else:
            h, w = h + h % 2, w + w % 2
            s = self._container.add_stream("libx264", rate=self.fps, options={"crf": str(crf), "preset": preset})
            s.pix_fmt = "yuv420p"
            cc = s.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = 1  # BT.709
            cc.color_range = 1  # limited (MPEG)
        s.width, s.height = w, h
        self._stream = s

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame of the writer's size."""
        if tuple(frame.shape) != (*self.size, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be {self.size[0]}x{self.size[1]}x3 uint8, not {frame.shape} {frame.dtype}")
        if self.kind == "folder":
            from PIL import Image
            Image.fromarray(frame).save(self._tmp / f"{self.frames:06d}.png", compress_level=3)
            self.frames += 1
            return
        import av
        if self.kind == "gif":
            from PIL import Image
            q = Image.fromarray(frame).quantize(256, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.FLOYDSTEINBERG)
            pal = np.zeros((256, 4), np.uint8)
            rgb = np.asarray(q.getpalette("RGB"), np.uint8).reshape(-1, 3)[:256]
            pal[: len(rgb), 1:] = rgb
            pal[:, 0] = 255
            vf = av.VideoFrame.from_ndarray((np.asarray(q, np.uint8), pal), format="pal8")
        else:
            if frame.shape[0] % 2 or frame.shape[1] % 2:
                frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode="edge")
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p", dst_colorspace="ITU709")
        vf.pts = self.frames
        vf.time_base = 1 / self.fps
        for pkt in self._stream.encode(vf):
            self._container.mux(pkt)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file (flush, add audio) and move it into place."""
        if self.frames == 0:
            self.abort()
            raise InputError(f"{self.path}: no frames to write")
        import av
        try:
            if self.kind == "folder":
                return self._place_folder()
            for pkt in self._stream.encode(None):
                self._container.mux(pkt)
            self._container.close()
            self._container = None
            final = self._tmp
            if self.audio_from is not None and self.kind != "gif":
                muxed = temp_beside(self.path, self.path.suffix)
                try:
                    self.audio = _mux_audio(self._tmp, self.audio_from, muxed, self.kind, self.audio_start,
                                            self.frames / float(self.fps))
                except av.error.FFmpegError as e:  # the painted video is not thrown away for its sound
                    self.audio_error = f"the audio of {self.audio_from.name} could not be copied ({_reason(e)})"
                    muxed.unlink(missing_ok=True)
                except BaseException:
                    muxed.unlink(missing_ok=True)
                    raise
                if self.audio:
                    self._tmp.unlink()
                    final = self._tmp = muxed
            os.replace(final, self.path)
            return self.path
        except OSError as e:
            raise InputError(f"{self.path}: cannot write ({e.strerror or e})") from None
        finally:
            self.abort()

    def _place_folder(self) -> Path:
        old = None
        if self.path.exists():
            if not self.path.is_dir() or not _ours(self.path):  # changed since check_output: keep both
                kept = self.path.with_name(f"{self.path.name}-new-{secrets.token_hex(2)}")
                os.replace(self._tmp, kept)
                raise InputError(f"{self.path}: now holds other files; the frames were left in {kept}")
            old = temp_beside(self.path)
            os.replace(self.path, old)
        os.replace(self._tmp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Drop the partial output (idempotent)."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
            self._container = None
        if self._tmp.is_dir():
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:
            self._tmp.unlink(missing_ok=True)


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float | Fraction, *,
                audio_from: str | os.PathLike | None = None, audio_start: float = 0.0, crf: int = 18) -> Path:
    """Write (H, W, 3) uint8 frames (any iterable, consumed once) with `VideoWriter`."""
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise InputError(f"{path}: no frames to write")
    with VideoWriter(path, fps, first.shape[:2], audio_from=audio_from, audio_start=audio_start, crf=crf) as w:
        w.write(first)
        for f in it:
            w.write(f)
    return Path(path)


# --- audio ------------------------------------------------------------------------------------

def _packet_time(pkt) -> float:
    t = pkt.dts if pkt.dts is not None else pkt.pts
    return float(t * pkt.time_base) if t is not None else 0.0


def _audio_packets(src, out_stream, start: float, end: float, transcode: bool):
    """Audio packets of `src` shifted by -start and cut at `end`, remuxed or re-encoded to AAC."""
    import av
    a = src.streams.audio[0]
    tb = a.time_base
    shift = round(start / tb) if start else 0
    if not transcode:
        for pkt in src.demux(a):
            if pkt.dts is None or not pkt.size:
                continue
            t = float((pkt.pts if pkt.pts is not None else pkt.dts) * tb) - start
            if t >= end:
                break
            if t + float((pkt.duration or 0) * tb) <= 0 and start:
                continue
            pkt.dts -= shift
            if pkt.pts is not None:
                pkt.pts -= shift
            pkt.stream = out_stream
            yield pkt
        return
    resampler = av.AudioResampler(format="fltp", layout=out_stream.layout, rate=out_stream.rate)
    for frame in src.decode(a):
        if frame.time is not None and frame.time - start >= end:
            break
        if frame.time is not None and frame.time - start + frame.samples / frame.sample_rate <= 0:
            continue
        frame.pts = None
        for f in resampler.resample(frame):
            yield from out_stream.encode(f)
    for f in resampler.resample(None):
        yield from out_stream.encode(f)
    yield from out_stream.encode(None)


def _mux_audio(video: Path, audio_from: Path, dest: Path, fmt: str, start: float, end: float) -> bool:
    """Write `video`'s stream plus `audio_from`'s first audio track into `dest`; False if it has none.

    The track is copied as it is when the container takes its codec, else re-encoded to AAC (also
    when the muxer turns down a codec the lists below thought it would take)."""
    import av
    if audio_from.is_dir() or not audio_from.exists():
        return False
    try:
        return _mux(video, audio_from, dest, fmt, start, end, force_transcode=False)
    except av.error.FFmpegError:
        dest.unlink(missing_ok=True)
    return _mux(video, audio_from, dest, fmt, start, end, force_transcode=True)


def _mux(video: Path, audio_from: Path, dest: Path, fmt: str, start: float, end: float,
         force_transcode: bool) -> bool:
    import av
    with _open(audio_from) as src:
        if not src.streams.audio:
            return False
        a_in = src.streams.audio[0]
        with _open(video) as vin, av.open(str(dest), "w", format=fmt) as out:
            v_in = vin.streams.video[0]
            v_out = out.add_stream_from_template(v_in)
            name = a_in.codec_context.name
            transcode = force_transcode or (fmt in ("mp4", "mov") and name not in MP4_AUDIO
                                            and not (fmt == "mov" and name.startswith("pcm_")))
            if transcode:
                a_out = out.add_stream("aac", rate=a_in.rate or 48000)
                a_out.layout = "mono" if a_in.layout and a_in.layout.nb_channels == 1 else "stereo"
            else:
                a_out = out.add_stream_from_template(a_in)

            def video_packets():
                for pkt in vin.demux(v_in):
                    if pkt.dts is None or not pkt.size:
                        continue
                    pkt.stream = v_out
                    yield pkt

            audio = _audio_packets(src, a_out, start, end, transcode)
            for pkt in heapq.merge(video_packets(), audio, key=_packet_time):
                out.mux(pkt)
    return True

