"""The job-kind table: one row per capability the service offers.

A row says everything the rest of the service needs to know about a kind of job: which endpoint
and quality select it, the queue it runs on, the files it takes (so a row can take two sounds
instead of a photo), the form fields it reads, how big its output may be, how long it takes, and
the producer that makes it through the Python API. Submission, running, status and pages read
the row; none of them branches on the kind. A new capability is a new row (and its producer).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError
from . import producers
from .config import ServiceConfig
from .uploads import Checked, check_image, check_sound, check_video, fit_side


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its form field, its role among the job's stored files, how messages
    name it, how it is checked (by decoding) and how large it may be."""
    field: str
    role: str
    what: str
    check: Callable[[Path, ServiceConfig, str], Checked]
    limit: Callable[[ServiceConfig], int]
    required: bool = True


@dataclass(frozen=True)
class JobKind:
    name: str
    kind: str                     # as stored and shown: the endpoint family ("image", "video")
    quality: str                  # as stored and shown ("fast", "best")
    queue: str                    # "fast" (seconds) or "slow" (minutes)
    uploads: tuple[Upload, ...]   # the first one is the job's main input (its size plans the output)
    fields: tuple[str, ...]       # the form fields it reads (see jobs.parse_request)
    max_side: Callable[[ServiceConfig], int]
    plan: Callable[[int, int, int | None, ServiceConfig], tuple[int, int]]   # (W, H, size) -> output (W, H)
    estimate: Callable[[int, int, int, ServiceConfig], float]               # (W, H, frames) -> seconds
    producer: producers.Producer
    result: str                   # the result's file name in the job's folder
    media_type: str
    publishable: bool = False     # may be shown in the gallery
    needs_style_upload: str | None = None   # refused without a painting: the reason
    picture: str | None = None    # a picture made beside the result (a sound's spectrograms), if any

    @property
    def main(self) -> Upload:
        return self.uploads[0]


PHOTO = Upload("photo", "content", "photo", check_image, lambda c: c.max_upload_bytes)
STYLE = Upload("style", "style", "painting", check_image, lambda c: c.max_upload_bytes, required=False)
CLIP = Upload("video", "content", "clip", check_video, lambda c: c.max_video_bytes)
# A job with no photo: the painting is its main upload (its size plans nothing: a QR code is square).
PAINTING = Upload("style", "style", "painting", check_image, lambda c: c.max_upload_bytes)
SOUND = Upload("content", "content", "content sound", check_sound, lambda c: c.max_sound_bytes)
STYLE_SOUND = Upload("style", "style", "style sound", check_sound, lambda c: c.max_sound_bytes)
PAINT_FIELDS = ("preset", "strength", "keep_colors", "size", "email", "webhook")
FAST_FIELDS = PAINT_FIELDS + ("stroke_scale",)   # the one-pass networks' stroke size
PATTERN = Upload("pattern", "pattern", "pattern", check_image, lambda c: c.max_upload_bytes)
GARMENT_MASK = Upload("mask", "mask", "garment mask", check_image, lambda c: c.max_upload_bytes, required=False)
FASHION_FIELDS = ("email", "webhook")
REFERENCE = Upload("style", "style", "reference photo", check_image, lambda c: c.max_upload_bytes)
PHOTO_FIELDS = ("strength", "email", "webhook")


def _even(dims: tuple[int, int]) -> tuple[int, int]:
    """Video encoders want even sides."""
    w, h = dims
    return max(2, w - w % 2), max(2, h - h % 2)


def _shipped_translators() -> list[str]:
    from ..translate.run import shipped_models
    return list(shipped_models())


def translation_kinds(names: list[str]) -> tuple[JobKind, ...]:
    """One row per translation model shipped with brushwork: kind "translate", the quality names the model."""
    return tuple(JobKind(f"translate-{name}", "translate", name, "fast", (PHOTO,), ("size", "email", "webhook"),
                         max_side=lambda c: c.max_output_side,
                         plan=lambda w, h, size, c: fit_side(w, h, size, c.max_output_side, c.max_output_pixels),
                         estimate=lambda w, h, frames, c: 1.0 + 2.0 * w * h / 1e6,
                         producer=producers.translate, result="result.png", media_type="image/png",
                         publishable=True) for name in names)


# Estimates: rough CPU timings on this project's 2-core machine (BENCHMARKS.md); a GPU is faster.
KINDS: tuple[JobKind, ...] = (
    JobKind("image-fast", "image", "fast", "fast", (PHOTO, STYLE), FAST_FIELDS,
            max_side=lambda c: c.max_output_side,
            plan=lambda w, h, size, c: fit_side(w, h, size, c.max_output_side, c.max_output_pixels),
            estimate=lambda w, h, frames, c: 1.0 + 1.2 * w * h / 1e6,
            producer=producers.paint_fast, result="result.png", media_type="image/png", publishable=True),
    JobKind("image-best", "image", "best", "slow", (PHOTO, STYLE), PAINT_FIELDS,
            max_side=lambda c: c.max_best_side,
            plan=lambda w, h, size, c: fit_side(w, h, size or min(512, c.max_best_side), c.max_best_side,
                                                c.max_output_pixels),
            estimate=lambda w, h, frames, c: 5.0 + c.best_steps * 7.5 * w * h / 1e6,
            producer=producers.paint_best, result="result.png", media_type="image/png", publishable=True,
            needs_style_upload="image iteration (quality 'best') paints from a style image: upload a painting, "
                               "or use quality 'fast' with a preset"),
    JobKind("video", "video", "fast", "slow", (CLIP, STYLE), FAST_FIELDS,
            max_side=lambda c: c.max_video_side,
            plan=lambda w, h, size, c: _even(fit_side(w, h, size, c.max_video_side, c.max_output_pixels)),
            estimate=lambda w, h, frames, c: 3.0 + frames * (0.3 + 0.9 * w * h / 1e6),
            producer=producers.paint_video, result="result.mp4", media_type="video/mp4"),
    JobKind("qr", "qr", "best", "slow", (PAINTING,), ("text", "ec", "size", "email", "webhook"),
            max_side=lambda c: c.max_best_side,
            plan=lambda w, h, size, c: (min(size or 512, c.max_best_side),) * 2,
            estimate=lambda w, h, frames, c: 20.0 + 2 * c.best_steps * 7.5 * w * h / 1e6,
            producer=producers.paint_qr, result="result.png", media_type="image/png", publishable=True),
    # fashion: the quality picks the method (fast: the any-style network; best: image iteration at a
    # 512 px work size); the output keeps the photo's size, so `size` is not read
    JobKind("fashion-fast", "fashion", "fast", "fast", (PHOTO, PATTERN, GARMENT_MASK), FASHION_FIELDS,
            max_side=lambda c: c.max_output_side,
            plan=lambda w, h, size, c: fit_side(w, h, None, c.max_output_side, c.max_output_pixels),
            estimate=lambda w, h, frames, c: 3.0 + 1.2 * w * h / 1e6,
            producer=producers.paint_fashion_fast, result="result.png", media_type="image/png", publishable=True),
    JobKind("fashion-best", "fashion", "best", "slow", (PHOTO, PATTERN, GARMENT_MASK), FASHION_FIELDS,
            max_side=lambda c: c.max_output_side,
            plan=lambda w, h, size, c: fit_side(w, h, None, c.max_output_side, c.max_output_pixels),
            estimate=lambda w, h, frames, c: 10.0 + c.best_steps * 10 * min(w * h, 512 * 512) / 1e6,
            producer=producers.paint_fashion_best, result="result.png", media_type="image/png", publishable=True),
    # photorealistic stylization: the look is computed at a 512 px work size and carried to the
    # photo's full size; fast = colour statistics (seconds), best = Deep Photo's iteration (minutes)
    JobKind("photo-fast", "photo", "fast", "fast", (PHOTO, REFERENCE), PHOTO_FIELDS,
            max_side=lambda c: c.max_output_side,
            plan=lambda w, h, size, c: fit_side(w, h, None, c.max_output_side, c.max_output_pixels),
            estimate=lambda w, h, frames, c: 2.0 + 3.0 * w * h / 1e6,
            producer=producers.photo_fast, result="result.png", media_type="image/png", publishable=True),
    JobKind("photo-best", "photo", "best", "slow", (PHOTO, REFERENCE), PHOTO_FIELDS,
            max_side=lambda c: c.max_output_side,
            plan=lambda w, h, size, c: fit_side(w, h, None, c.max_output_side, c.max_output_pixels),
            estimate=lambda w, h, frames, c: 150.0 + 3.0 * w * h / 1e6,
            producer=producers.photo_best, result="result.png", media_type="image/png", publishable=True),
    # a sound's size is its spectrogram's (frames x bins); the result is as long as the content
    JobKind("audio", "audio", "best", "slow", (SOUND, STYLE_SOUND), ("email", "webhook"),
            max_side=lambda c: 0,     # no size field: nothing to cap
            plan=lambda w, h, size, c: (w, h),
            estimate=lambda w, h, frames, c: producers.sound_seconds(w, c),
            producer=producers.make_sound, result="result.wav", media_type="audio/wav",
            picture=producers.SOUND_PICTURE),
    *translation_kinds(_shipped_translators()),
)


def family(kind: str) -> list[JobKind]:
    """The rows of an endpoint family ("image": every quality of it)."""
    return [k for k in KINDS if k.kind == kind]


def select(kind: str, quality: str | None = None) -> JobKind:
    """The row for an endpoint family and a quality (default: its first); InputError if none."""
    rows = family(kind)
    if not rows:
        raise InputError(f"unknown job kind {kind!r}")
    quality = (quality or rows[0].quality).strip().lower()
    for row in rows:
        if row.quality == quality:
            return row
    if len(rows) == 1:
        raise InputError(f"{kind} jobs take quality {rows[0].quality!r} only")
    raise InputError(f"quality {quality!r} is not one of {', '.join(r.quality for r in rows)}")


def of(job) -> JobKind:
    """The row a stored job was made by."""
    return select(job.kind, job.quality)
