"""The `.bw` model file and the models it holds.

A `.bw` file is a safetensors file: the network's weights (fp16 by default, restored to fp32 on
load) and, in the safetensors metadata under the key "brushwork", one JSON model card:

    format, version         "brushwork-model", FORMAT_VERSION
    kind                    "fast" | "multistyle" | "adain", or a kind registered by another
                            package (`register_kind`: translate's "pix2pix" | "cyclegan" | "cut")
    architecture            the network's name and hyperparameters (enough to rebuild it)
    styles                  [{name, thumbnail (base64 PNG, <= 128 px)}] (AdaIN: the style set)
    training                data (path, count, augmentation), steps, batch, size, lr, loss
                            weights and layers, final losses, seed, device
    dtype, date, brushwork_version, notes

Loading never unpickles anything. `load_model` returns a `FastModel`, `MultiStyleModel` or
`AdaINModel`, each a `Stylizer` (see base.py) that `apply` can run; a multistyle model takes
style weights (`with_weights`), an AdaIN model its style images (`with_style`).
"""
from __future__ import annotations

import base64
import copy
import datetime as _dt
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..device import resolve_device
from ..errors import InputError
from ..files import atomic_path
from ..image import ImageSource, check_writable_file, fit, load_image, load_mask, resize, to_pil
from ..weights import blend_weights
from .base import Painter, TorchStylizer
from .networks import AdaINNet, TransformerNet, mean_std, pad_to_multiple

FORMAT = "brushwork-model"
FORMAT_VERSION = 1
OLDEST_FORMAT_VERSION = 1  # the oldest card this brushwork still reads
METADATA_KEY = "brushwork"
SUFFIX = ".bw"
THUMBNAIL_SIDE = 128


# --- the card -------------------------------------------------------------------------------

def thumbnail(image: ImageSource, side: int = THUMBNAIL_SIDE) -> str:
    """A small PNG of an image (long side <= `side`), base64-encoded."""
    img = load_image(image)
    if max(img.shape[-2:]) > side:
        img = resize(img, fit(img.shape[-2:], side))
    buf = io.BytesIO()
    to_pil(img).save(buf, "PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnail_image(data: str) -> torch.Tensor:
    """A card's thumbnail back as a (1, 3, h, w) image."""
    from PIL import Image
    return load_image(Image.open(io.BytesIO(base64.b64decode(data))))


def architecture(network: nn.Module) -> dict[str, Any]:
    """The card's description of a network: its name and what rebuilds it."""
    if isinstance(network, TransformerNet):
        return {"name": "transformer", **network.config, "norm": "conditional_instance" if network.n_styles > 1
                else "instance", "upsample": "nearest", "padding": "reflection", "output": "sigmoid",
                "multiple": network.multiple}
    if isinstance(network, AdaINNet):
        return {"name": "adain", **network.config, "decoder": "vgg19 mirror to relu4_1, nearest upsampling",
                "multiple": network.multiple}
    if hasattr(network, "architecture"):  # a registered kind's network describes itself
        return network.architecture()
    raise TypeError(f"no .bw architecture for {type(network).__name__}")


def build_network(arch: dict[str, Any]) -> nn.Module:
    """Rebuild the (untrained) network a card describes; InputError for one we do not know."""
    name = arch.get("name")
    try:
        if name == "transformer":
            return TransformerNet(int(arch["n_styles"]), tuple(int(c) for c in arch["channels"]),
                                  int(arch["residual_blocks"]), int(arch.get("outer_kernel", 9)))
        if name == "adain":
            return AdaINNet()
        if name in _BUILDERS:
            return _BUILDERS[name](arch)
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"model card: incomplete architecture {name!r} ({e})") from None
    raise InputError(f"model card: unknown architecture {name!r}")


def make_card(kind: str, network: nn.Module, styles: Sequence[dict[str, str]] = (),
              training: dict[str, Any] | None = None, dtype: str = "float16", **extra: Any) -> dict[str, Any]:
    """A complete model card (see the module docstring)."""
    from .. import __version__
    if kind not in _WRAPPERS:
        raise ValueError(f"unknown model kind {kind!r}")
    return {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind, "architecture": architecture(network),
            "styles": list(styles), "training": training or {}, "dtype": dtype,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "brushwork_version": __version__, **extra}


# --- the models -----------------------------------------------------------------------------

class TrainedModel:
    """A network of ours with its card, on a device, ready to paint (eval mode, no grad)."""

    kind = ""
    native_strength = False

    def __init__(self, network: nn.Module, card: dict[str, Any], device: str | torch.device = "auto"):
        self.device = resolve_device(device)
        self.network = network.to(self.device).eval()
        self.network.requires_grad_(False)
        self.card = card
        self.multiple = int(getattr(network, "multiple", 4))
        self.name = card.get("name") or ", ".join(self.styles) or self.kind

    @property
    def styles(self) -> list[str]:
        """The names of the styles it was trained on."""
        return [s.get("name", f"style {i}") for i, s in enumerate(self.card.get("styles", []))]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} on {self.device}>"


class FastModel(TrainedModel):
    """One style, one pass (Johnson et al.)."""

    kind = "fast"

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        """See base.Stylizer; tiles are normalised with the whole image's instance-norm statistics."""
        return TorchStylizer(self._forward, self.device, self.name, self.network).painter(whole, strength, tiled)

    def __call__(self, content: torch.Tensor) -> torch.Tensor:
        """Stylize a whole image (1, 3, H, W) in [0, 1] in one pass (any size)."""
        return self.painter(content)(content)


class MultiStyleModel(FastModel):
    """N styles in one network (Dumoulin et al.): paints a blend of them set by `weights`."""

    kind = "multistyle"

    def __init__(self, network: nn.Module, card: dict[str, Any], device: str | torch.device = "auto",
                 weights: Sequence[float] | None = None):
        super().__init__(network, card, device)
        n = len(self.styles) or network.n_styles
        self.weights = [1.0] + [0.0] * (n - 1) if weights is None else list(weights)
        self._update_name()

    def _update_name(self) -> None:
        names = self.styles + [f"style {i + 1}" for i in range(len(self.styles), len(self.weights))]
        parts = [names[i] if w == 1 else f"{names[i]} {w:.0%}" for i, w in enumerate(self.weights) if w]
        self.name = f"{self.card.get('name', self.kind)}: {' + '.join(parts)}"

    def with_weights(self, weights: Sequence[float] | int | str) -> "MultiStyleModel":
        """The same network painting one style (an index or a name) or a blend (weights, normalised)."""
        n = self.network.n_styles
        if isinstance(weights, (int, str)):
            idx = weights if isinstance(weights, int) else (self.styles.index(weights)
                                                            if weights in self.styles else -1)
            if not 0 <= idx < n:
                raise InputError(f"no style {weights!r} in this model; it has {', '.join(self.styles)}")
            weights = [1.0 if i == idx else 0.0 for i in range(n)]
        other = copy.copy(self)
        other.weights = blend_weights(list(weights), n)
        other._update_name()
        return other

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x, torch.tensor(self.weights, dtype=torch.float32, device=x.device))


class AdaINStylizer:
    """An AdaIN model with its style image(s): a Stylizer whose strength is AdaIN's α.

    The photo's relu4_1 statistics are measured once, on the whole photo (or apply's overview of
    it), in `painter`, so every tile is normalised alike. With `masks` (one per style, white =
    that style) the image must be painted in one piece.
    """

    native_strength = True

    def __init__(self, model: "AdaINModel", styles: list[torch.Tensor], names: list[str],
                 weights: list[float], masks: list[torch.Tensor] | None):
        self.model, self.weights, self.masks = model, weights, masks
        self.multiple = model.multiple
        net = model.network
        with torch.inference_mode():
            self.stats = [net.style_stats(s.to(model.device)) for s in styles]
        self.name = "adain: " + " + ".join(names)

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        """See base.Stylizer: the relu4_1 statistics of `whole` normalise every tile."""
        if tiled and self.masks is not None:
            raise InputError("style masks need the image painted in one piece, not in tiles; "
                             "use a smaller size or a larger tile")
        net, device = self.model.network, self.model.device
        h, w = whole.shape[-2:]
        padded, _ = pad_to_multiple(whole.to(device), self.multiple)
        masks = None if self.masks is None else [resize(m, (h, w)).to(device) for m in self.masks]
        with torch.inference_mode():
            f = net.encode(padded)["relu4_1"]
            if masks is None:
                c_stats = [mean_std(f)]
            else:
                at_f = [F.interpolate(pad_to_multiple(m, self.multiple)[0],
                                      size=f.shape[-2:], mode="bilinear", align_corners=False) for m in masks]
                c_stats = [mean_std(f, m) for m in at_f]
        padded_hw = (h + -h % self.multiple, w + -w % self.multiple)

        @torch.inference_mode()
        def paint(tile: torch.Tensor) -> torch.Tensor:
            tile_masks = None
            if masks is not None:
                if tuple(tile.shape[-2:]) not in ((h, w), padded_hw):
                    raise InputError("style masks need the image painted in one piece, not in tiles")
                tile_masks = [pad_to_multiple(m, self.multiple)[0][..., :tile.shape[-2], :tile.shape[-1]]
                              for m in masks]
            x, (th, tw) = pad_to_multiple(tile.to(device), self.multiple)
            t = net.transfer(net.encode(x)["relu4_1"], self.stats, self.weights, strength, tile_masks, c_stats)
            return net.decode(t)[..., :th, :tw]
        return paint

    def __call__(self, content: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        """Paint a whole image (1, 3, H, W) in one pass at strength α."""
        return self.painter(content, alpha)(content)


class AdaINModel(TrainedModel):
    """Arbitrary style (Huang & Belongie): give it style images with `with_style`."""

    kind = "adain"
    native_strength = True

    def with_style(self, styles: ImageSource | Sequence[ImageSource], weights: Sequence[float] | None = None,
                   masks: Sequence[ImageSource] | None = None, style_size: int | None = 512) -> AdaINStylizer:
        """A Stylizer painting in one style, a weighted blend of several, or (with `masks`, one per
        style, content-sized, white = that style) different styles in different regions.
        Style images are resized to `style_size` on the long side (None: as they are)."""
        items = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        if not items:
            raise InputError("at least one style image is needed")
        imgs, names = [], []
        for i, s in enumerate(items):
            img = load_image(s)
            if min(img.shape[-2:]) < 16:
                raise InputError(f"a style image of {img.shape[-1]}x{img.shape[-2]} px is too small "
                                 "(at least 16 px a side)")
            imgs.append(img if style_size is None else resize(img, fit(img.shape[-2:], style_size)))
            names.append(Path(s).name if isinstance(s, (str, os.PathLike)) else f"style {i + 1}")
        mask_list = None
        if masks is not None:
            if len(masks) != len(imgs):
                raise InputError(f"{len(masks)} masks given for {len(imgs)} style images; give one per style")
            mask_list = [load_mask(m) for m in masks]
        return AdaINStylizer(self, imgs, names, blend_weights(weights, len(imgs)), mask_list)

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        raise InputError("an AdaIN model needs a style image: use model.with_style(style)")


_WRAPPERS: dict[str, Callable[..., TrainedModel]] = {"fast": FastModel, "multistyle": MultiStyleModel,
                                                     "adain": AdaINModel}
_BUILDERS: dict[str, Callable[[dict[str, Any]], nn.Module]] = {}


def register_kind(kind: str, wrapper: Callable[..., TrainedModel], architecture_name: str | None = None,
                  builder: Callable[[dict[str, Any]], nn.Module] | None = None) -> None:
    """Let `.bw` files hold another package's models: `kind` is wrapped by `wrapper`, and a card's
    architecture named `architecture_name` is rebuilt by `builder` (the network's `architecture()`
    writes it); without them the network is one this module rebuilds itself."""
    _WRAPPERS[kind] = wrapper
    if architecture_name is not None and builder is not None:
        _BUILDERS[architecture_name] = builder


def known_kinds() -> tuple[str, ...]:
    return tuple(_WRAPPERS)


def wrap(network: nn.Module, card: dict[str, Any], device: str | torch.device = "auto") -> TrainedModel:
    return _WRAPPERS[card["kind"]](network, card, device)


# --- save / load ----------------------------------------------------------------------------

def check_model_path(path: str | os.PathLike) -> Path:
    """Refuse an output path for a model before any training starts."""
    p = Path(path)
    if p.suffix.lower() != SUFFIX:
        raise InputError(f"{p}: a model file's name must end in {SUFFIX}")
    return check_writable_file(p)


def save_model(network: nn.Module | TrainedModel, path: str | os.PathLike, card: dict[str, Any] | None = None,
               half: bool = True) -> Path:
    """Write a `.bw` file atomically: weights (fp16 when `half`) plus the card as metadata."""
    from safetensors.torch import save
    if isinstance(network, TrainedModel):
        card = card or network.card
        network = network.network
    if card is None:
        raise ValueError("a model card is needed")
    card = {**card, "dtype": "float16" if half else "float32"}
    p = check_model_path(path)
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in network.state_dict().items()}
    data = save(tensors, metadata={METADATA_KEY: json.dumps(card, separators=(",", ":"))})
    with atomic_path(p) as tmp, open(tmp, "xb") as f:  # open() applies the umask (safetensors' writer: 0600)
        f.write(data)
    return p


def _open(path: str | os.PathLike):
    from safetensors import safe_open
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a model file")
    try:
        return safe_open(str(p), framework="pt")
    except PermissionError:
        raise InputError(f"{p}: cannot be read (permission denied)") from None
    except Exception:  # safetensors raises its own error type for anything malformed
        raise InputError(f"{p}: not a brushwork model file (a .bw file is a safetensors file; "
                         "this one is not, or is damaged)") from None


def _card_from(f: Any, p: Path) -> dict[str, Any]:
    meta = f.metadata() or {}
    if METADATA_KEY not in meta:
        raise InputError(f"{p}: a safetensors file but not a brushwork model (it has no model card)")
    try:
        card = json.loads(meta[METADATA_KEY])
    except json.JSONDecodeError:
        raise InputError(f"{p}: the model card is corrupt (not JSON)") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise InputError(f"{p}: the model card is not a brushwork model card")
    version = card.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError(f"{p}: the model card has no valid format version")
    if version < OLDEST_FORMAT_VERSION:
        raise InputError(f"{p}: made by an older brushwork (model format {version}; this one reads "
                         f"{OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}): train it again with this brushwork")
    if version > FORMAT_VERSION:
        raise InputError(f"{p}: made by a newer brushwork (model format {version}; this one reads up to "
                         f"{FORMAT_VERSION}): upgrade brushwork")
    if card.get("kind") not in _WRAPPERS:
        raise InputError(f"{p}: unknown model kind {card.get('kind')!r}; this brushwork knows "
                         f"{', '.join(known_kinds())}")
    if not isinstance(card.get("architecture"), dict):
        raise InputError(f"{p}: the model card has no architecture")
    return card


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """The model card of a `.bw` file, validated, without loading the weights."""
    with _open(path) as f:
        return _card_from(f, Path(path))


def load_model(path: str | os.PathLike, device: str | torch.device = "auto") -> TrainedModel:
    """Load a `.bw` file (safetensors only: nothing is unpickled) and rebuild its network."""
    p = Path(path)
    with _open(p) as f:
        card = _card_from(f, p)
        network = build_network(card["architecture"])
        expected = network.state_dict()
        keys = set(f.keys())
        if keys != set(expected):
            missing, extra = sorted(set(expected) - keys), sorted(keys - set(expected))
            raise InputError(f"{p}: the weights do not match the card's architecture "
                             f"({len(missing)} missing, {len(extra)} unexpected, e.g. {(missing or extra)[0]})")
        state = {}
        for k in keys:
            t = f.get_tensor(k)
            if t.shape != expected[k].shape or not t.is_floating_point():
                raise InputError(f"{p}: weight {k} has shape {tuple(t.shape)}, the architecture needs "
                                 f"{tuple(expected[k].shape)}")
            state[k] = t.float()
    network.load_state_dict(state)
    card.setdefault("name", p.stem)
    return wrap(network, card, device)
