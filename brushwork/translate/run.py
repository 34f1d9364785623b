"""`translate`: an image (or a folder) through a translation network, at full resolution.

    out = translate("sketch.png", model="edges2photo.bw")
    out = translate("photo.jpg", model="photo2art.bw", direction="BtoA")
    out = translate("photo.jpg", model="their_G_A.pth", arch="resnet9")   # a reference checkpoint
    out = translate("photo.jpg", model="edges2photo")                      # a shipped model, by name

The painting itself is `feedforward.apply`'s: padding to the network's multiple, tiles above a
pixel budget with the whole image's instance-norm statistics, progress per tile.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch

from ..batch import FolderResult, plan_folder, run_folder
from ..errors import InputError
from ..feedforward.apply import check_tile, load_content, run_stylizer
from ..feedforward.modelfile import SUFFIX, load_model
from ..image import ImageSource, parse_size
from ..progress import Callback
from .model import KINDS, TranslationModel
from .reference import ARCHS, load_reference

MODELS = Path(__file__).parent / "models"  # the shipped models: <name>.bw
DEMO_MODEL = "photo2painting"              # what `brushwork translate --demo` shows, on the demo photo


def shipped_models() -> dict[str, Path]:
    """The translation models installed with brushwork, by name."""
    return {p.stem: p for p in sorted(MODELS.glob(f"*{SUFFIX}"))}


def load_translator(model: Any, direction: str | None = None, arch: str | None = None,
                    device: str | torch.device = "auto") -> TranslationModel:
    """A translation model: a loaded one, a `.bw` file, a shipped model's name, or a reference
    `.pth` state dict (with `arch` to check its layout); set to paint `direction` if given."""
    if isinstance(model, TranslationModel):
        if arch is not None:
            raise InputError("--arch is for reference .pth checkpoints, not for a brushwork model")
        return model.with_direction(direction)
    if not isinstance(model, (str, os.PathLike)):
        raise InputError(f"a translation model is a .bw or .pth file or a shipped model's name, not "
                         f"{type(model).__name__}")
    path = Path(model)
    shipped = shipped_models()
    if path.suffix.lower() != SUFFIX and not path.exists() and str(model) in shipped:
        path = shipped[str(model)]
    if path.suffix.lower() == SUFFIX:
        if arch is not None:
            raise InputError("--arch is for reference .pth checkpoints; a .bw file describes its own network")
        loaded = load_model(path, device)
        if not isinstance(loaded, TranslationModel):
            raise InputError(f"{path}: a {loaded.kind} style model, not a translation model "
                             f"({', '.join(KINDS)}); run it with brushwork apply --model")
        return loaded.with_direction(direction)
    if path.suffix.lower() in (".pth", ".pt") or arch is not None:
        loaded = load_reference(path, arch, device)
        return loaded.with_direction(direction)
    names = ", ".join(shipped) or "none installed"
    raise InputError(f"{model}: not a model (.bw, or a reference .pth with --arch {'|'.join(ARCHS)}) "
                     f"nor a shipped model's name ({names})")


def translate(image: ImageSource, model: Any, direction: str | None = None, arch: str | None = None,
              size: int | tuple[int, int] | str | None = None, tile: int | None = None, device: str = "auto",
              callback: Callback | None = None) -> torch.Tensor:
    """Translate `image` with `model`; returns (1, 3, H, W) RGB in [0, 1] at the image's size.

    model      a `.bw` translation model (pix2pix, cyclegan, cut), a shipped model's name
               (`shipped_models()`), a reference implementation's generator `.pth` (`arch`:
               resnet6, resnet9, unet128, unet256; checked against the file), or a loaded model
    direction  AtoB (default) or BtoA (a two-way CycleGAN model)
    size       resize the image first (long side, (H, W) or "WxH"); default: as it is
    tile       None: tiles above ~2.4 MP; 0: never; or a tile side (see `apply`)
    callback   a Progress after each tile
    """
    tile = check_tile(tile)
    size = parse_size(size)
    translator = load_translator(model, direction, arch, device)
    return run_stylizer(translator, load_content(image, size), tile=tile, callback=callback)


def translate_folder(folder: str | os.PathLike, output: str | os.PathLike, model: Any,
                     direction: str | None = None, arch: str | None = None,
                     size: int | tuple[int, int] | str | None = None, tile: int | None = None,
                     device: str = "auto", overwrite: bool = False, callback: Callback | None = None,
                     on_skip: Callable[[Path, InputError], None] | None = None) -> FolderResult:
    """`translate` every image directly inside `folder` into `output`/<name>.png (see `batch.run_folder`:
    everything is checked before the first image; a damaged one is skipped and reported)."""
    tile = check_tile(tile)
    size = parse_size(size)
    pairs = plan_folder(folder, output, overwrite=overwrite)
    translator = load_translator(model, direction, arch, device)

    def paint(img: torch.Tensor) -> torch.Tensor:
        return run_stylizer(translator, load_content(img, size), tile=tile)
    return run_folder(pairs, paint, callback, on_skip)

