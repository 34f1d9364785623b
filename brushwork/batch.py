"""Folder batches: every photo in a folder to OUT/<name>.png, planned before any work starts.

    pairs = plan_folder("photos/", "out/")   # clashes, bad files and replaced inputs refused up front
    result = run_folder(pairs, paint)        # a photo found damaged inside is skipped, not fatal

Any one-image producer (`feedforward.apply_folder`, the service, translation) batches this way.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .errors import InputError
from .image import SAVE_FORMATS, load_image_alpha, probe_image, save_image
from .paths import same_file
from .progress import Callback, Progress

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")


@dataclass
class FolderResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)   # (photo, why)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The images directly inside `folder`, by name: files with an image suffix; hidden files
    (and our own temp files) skipped. Each is checked to be a readable image (its header only:
    cheap) so that a bad file stops a batch before any work. No images is an InputError."""
    d = Path(folder)
    found = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise InputError(f"{d}: no images in this folder (looked for {', '.join(IMAGE_SUFFIXES)})")
    for p in found:
        probe_image(p)
    return found


def plan_folder(folder: str | os.PathLike, output: str | os.PathLike, suffix: str = ".png",
                overwrite: bool = False) -> list[tuple[Path, Path]]:
    """(photo, output/<stem><suffix>) for every image in `folder`, refusing before any work: an
    output that is a file or whose parent is missing, two photos with one target name, and a
    target that is its own photo (unless `overwrite`: then the photo is replaced by its result)."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; for a folder of photos give an output folder")
    if not out.exists():
        if out.suffix.lower() in SAVE_FORMATS:
            raise InputError(f"{out}: for a folder of photos give an output folder, not an image file")
        if not out.parent.is_dir():
            raise InputError(f"{out.parent}: does not exist (the output folder is created, not its parents)")
    elif not os.access(out, os.W_OK):
        raise InputError(f"{out}: output folder is not writable")
    images = list_images(folder)
    pairs = [(p, out / f"{p.stem}{suffix}") for p in images]
    seen: dict[Path, Path] = {}
    for p, t in pairs:
        if t in seen:
            raise InputError(f"{seen[t].name} and {p.name} would both be written to {t}; rename one")
        seen[t] = p
        if not overwrite and same_file(t, p):
            raise InputError(f"{t}: the output would replace the input photo; choose another output folder")
    return pairs


def run_folder(pairs: list[tuple[Path, Path]], paint: Callable[[torch.Tensor], torch.Tensor],
               callback: Callback | None = None,
               on_skip: Callable[[Path, InputError], None] | None = None) -> FolderResult:
    """Paint every photo ((1, 3, H, W) -> same) and save it to its target, keeping its alpha
    (atomically: a photo replaced in place is never half-written). The output folder is created.

    A photo that turns out damaged or unusable (an InputError while loading or painting it) is
    skipped and `on_skip(photo, error)` is told; the others are still written. `callback` gets a
    Progress after each photo (unit 'image', `image` the result); returning True stops the batch.
    """
    result = FolderResult()
    if not pairs:
        return result
    pairs[0][1].parent.mkdir(exist_ok=True)
    start = time.perf_counter()
    for i, (src, dst) in enumerate(pairs):
        image = None
        try:
            photo, alpha = load_image_alpha(src)
            image = paint(photo)
            save_image(image, dst, alpha=alpha)
            result.written.append(dst)
        except InputError as e:
            result.skipped.append((src, str(e)))
            if on_skip is not None:
                on_skip(src, e)
        if callback is not None and callback(Progress(i + 1, len(pairs), 0.0, elapsed=time.perf_counter() - start,
                                                      image=image, unit="image")):
            break
    return result
