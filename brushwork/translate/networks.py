"""The image-to-image networks (Isola et al. 2017; Zhu et al. 2017; Park et al. 2020), in plain torch.

- `ResnetGenerator`: 7x7 conv, two stride-2 convs, `blocks` residual blocks (reflection padding),
  two transposed convs, 7x7 conv, tanh; instance norm. 6 blocks for 128 px, 9 for 256 px.
- `UnetGenerator`: `downs` stride-2 4x4 convs and as many transposed convs back, each level's
  encoder output concatenated to its decoder input (skips); dropout in the three innermost
  wide levels during training. A 2^downs multiple: 256 for unet256. `upsample="resize"` goes
  back up by nearest-neighbour doubling and a 3x3 conv instead (Odena et al. 2016): no
  checkerboard, which the transposed convs painted under a strong discriminator on a CPU budget.
- `PatchDiscriminator`: the 70x70 PatchGAN (three stride-2 4x4 convs, one stride-1, a 1-channel
  map of real/fake logits, one per overlapping 70 px patch).
- `PatchMLP`: CUT's projection heads (two-layer MLPs, L2-normalised) over sampled feature patches.

Module names and nesting are the reference implementation's (`model.N...`, the U-Net's nested
`model.model.1.model...`), so its state dicts load as they are (`reference.py`). The generators
work on images in [-1, 1]; `Unit` wraps one for [0, 1] images (the Stylizer convention).
Normalisation: "instance" (no affine: CycleGAN's), "affine" (instance norm with γ, β: what the
reference's batch norm computes at batch size 1, which is how pix2pix trains and tests).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..feedforward.networks import pad_to_multiple

NORMS = ("instance", "affine")
UPSAMPLES = ("transposed", "resize")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind not in NORMS:
        raise ValueError(f"unknown norm {kind!r}")
    return nn.InstanceNorm2d(channels, affine=kind == "affine")


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """The papers' initialisation: conv weights ~ N(0, gain), biases 0, norm γ ~ N(1, gain)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


class ResnetBlock(nn.Module):
    """x + (pad, conv3, norm, ReLU, [dropout], pad, conv3, norm)(x)."""

    def __init__(self, channels: int, norm: str, bias: bool, dropout: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
                                   _norm(norm, channels), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), _norm(norm, channels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator; `encode(x, layers)` gives the CUT features at `layers` (indices into `model`)."""

    multiple = 4

    def __init__(self, ngf: int = 64, blocks: int = 9, norm: str = "instance", bias: bool = True,
                 dropout: bool = False, in_channels: int = 3, out_channels: int = 3):
        super().__init__()
        self.config = {"type": "resnet", "ngf": ngf, "blocks": blocks, "norm": norm, "bias": bias,
                       "dropout": dropout, "in_channels": in_channels, "out_channels": out_channels}
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias),
                                   _norm(norm, ngf), nn.ReLU(True)]
        for i in range(2):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), _norm(norm, 2 * c), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm, bias, dropout) for _ in range(blocks)]
        for i in range(2):
            c = ngf * 2**(2 - i)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                       _norm(norm, c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def nce_layers(self) -> tuple[int, ...]:
        """CUT's feature layers: the padded input, both downsamplings, and two residual blocks."""
        first, b = 10, self.config["blocks"]  # the first residual block's index in `model`
        return (0, 4, 8) + tuple(sorted({first + b // 3 - 1, first + b - 3})) if b >= 3 else (0, 4, 8)

    def layer_channels(self, layers: Sequence[int]) -> list[int]:
        ngf, out = self.config["ngf"], []
        for i in layers:
            out.append(self.config["in_channels"] if i < 1 else ngf if i < 4 else ngf * 2 if i < 7 else ngf * 4)
        return out

    def encode(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        feats, last = [], max(layers)
        for i, layer in enumerate(self.model):
            x = layer(x)
            if i in layers:
                feats.append(x)
            if i == last:
                break
        return feats


def _up(cin: int, cout: int, bias: bool, how: str) -> nn.Module:
    """Twice the size: a 4x4 stride-2 transposed conv (the reference's), or nearest doubling + 3x3 conv."""
    if how == "transposed":
        return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=bias)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1, bias=bias))


class UnetBlock(nn.Module):
    """One U-Net level: down (LeakyReLU, conv4 s2, norm), the inner levels, up (ReLU, convT4 s2, norm), skip.

    The outermost level has no activation before its conv and ends in tanh without a skip; the
    innermost has no norm after its conv and no inner levels.
    """

    def __init__(self, outer: int, inner: int, in_channels: int | None = None, sub: "UnetBlock | None" = None,
                 outermost: bool = False, innermost: bool = False, norm: str = "affine", bias: bool = False,
                 dropout: bool = False, upsample: str = "transposed"):
        super().__init__()
        self.outermost = outermost
        cin = outer if in_channels is None else in_channels
        down = nn.Conv2d(cin, inner, 4, stride=2, padding=1, bias=bias)
        if outermost:
            up = _up(inner * 2, outer, True, upsample)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = _up(inner, outer, bias, upsample)
            layers = [nn.LeakyReLU(0.2), down, nn.ReLU(True), up, _norm(norm, outer)]
        else:
            up = _up(inner * 2, outer, bias, upsample)
            layers = [nn.LeakyReLU(0.2), down, _norm(norm, inner), sub, nn.ReLU(True), up, _norm(norm, outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        # the skip carries the activated input (the reference's in-place LeakyReLU does the same)
        x = self.model[0](x)
        return torch.cat([x, self.model[1:](x)], 1)


class UnetGenerator(nn.Module):
    """The pix2pix generator: `downs` levels (7 for 128 px crops, 8 for 256), widths ngf·(1, 2, 4, 8, 8...)."""

    def __init__(self, ngf: int = 64, downs: int = 8, norm: str = "affine", bias: bool = False,
                 dropout: bool = True, in_channels: int = 3, out_channels: int = 3, upsample: str = "transposed"):
        super().__init__()
        if downs < 5:
            raise ValueError("a U-Net needs at least 5 levels")
        if upsample not in UPSAMPLES:
            raise ValueError(f"unknown upsampling {upsample!r}")
        self.config = {"type": "unet", "ngf": ngf, "downs": downs, "norm": norm, "bias": bias,
                       "dropout": dropout, "in_channels": in_channels, "out_channels": out_channels,
                       "upsample": upsample}
        self.multiple = 2**downs
        kw: dict[str, Any] = {"norm": norm, "bias": bias, "upsample": upsample}
        block = UnetBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, sub=block, dropout=dropout, **kw)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, sub=block, **kw)
        self.model = UnetBlock(out_channels, ngf, in_channels, sub=block, outermost=True, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: `layers` stride-2 convs (3: 70x70 receptive field), a stride-1 conv, a logit map."""

    def __init__(self, in_channels: int = 3, ndf: int = 64, layers: int = 3, norm: str = "instance"):
        super().__init__()
        seq: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < layers else 1
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=norm == "instance"),
                    _norm(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        seq.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchMLP(nn.Module):
    """CUT's heads: for each feature layer, an MLP (C -> n -> n) over `patches` sampled positions, L2-normalised."""

    def __init__(self, channels: Sequence[int], n: int = 256):
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, n), nn.ReLU(), nn.Linear(n, n)) for c in channels)

    def forward(self, feats: Sequence[torch.Tensor], patches: int, ids: list[torch.Tensor] | None = None,
                 generator: torch.Generator | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(per layer: (N·patches, n) embeddings, the positions sampled); `ids` reuses positions."""
        out, chosen = [], []
        for k, (f, mlp) in enumerate(zip(feats, self.mlps)):
            flat = f.flatten(2).transpose(1, 2)  # (N, HW, C)
            if ids is None:
                idx = torch.randperm(flat.shape[1], generator=generator)[:patches].to(f.device)
            else:
                idx = ids[k]
            x = mlp(flat[:, idx].flatten(0, 1))
            out.append(F.normalize(x, dim=1))
            chosen.append(idx)
        return out, chosen


class Unit(nn.Module):
    """A generator for images in [0, 1] (in and out), as the Stylizer protocol has them, of any size
    (padded to the generator's multiple, the output cropped back)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator
        self.multiple = int(getattr(generator, "multiple", 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded, (h, w) = pad_to_multiple(x, self.multiple)
        return (self.generator(padded * 2 - 1)[..., :h, :w] + 1) / 2


def build_generator(config: dict[str, Any]) -> nn.Module:
    """A generator from its `config` (as `.config` has it); ValueError/KeyError for a bad one."""
    kind = config["type"]
    common = {k: config[k] for k in ("ngf", "norm", "bias", "dropout", "in_channels", "out_channels") if k in config}
    if kind == "resnet":
        return ResnetGenerator(blocks=int(config["blocks"]), **common)
    if kind == "unet":
        return UnetGenerator(downs=int(config["downs"]), upsample=config.get("upsample", "transposed"), **common)
    raise ValueError(f"unknown generator type {kind!r}")
