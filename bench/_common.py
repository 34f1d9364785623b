"""What the brushwork-vs-pastiche benchmark shares: inputs, pastiche's loss definition, objective.

pastiche (1.6.0, defaults, --tv-weight 0) minimises

    0.01 · MSE(relu4_2(x), relu4_2(content))
  + Σ_l (10 / C_l²) · MSE(G_p(x)_l, G_p(style)_l),   G_p = F Fᵀ / (H·W),   l = relu1_1 … relu5_1

on caffe-preprocessed VGG-19 features (same weights as ours). Our `gram` is F Fᵀ / (C·H·W) =
G_p / C, so MSE(G_ours) = MSE(G_p) / C² and pastiche's per-layer weight 10/C² on its Gram is
exactly weight 10 on ours. `vs_pastiche.py` checks this on pastiche's own output against
`PasticheArtist._calc_loss` (relative difference printed and stored in the JSON).

One more detail makes the definitions identical: pastiche's VGG max-pools with floor
(`MaxPool2d(2, 2)`), ours with `ceil_mode=True`. They agree when a side is a multiple of 16
(256x192, 512x384 here) but the style image, sized by pixel count (280x175 at 256 px), is not,
so the benchmark computes style targets and evaluates objectives with a floor-pooling copy of
our network (`pastiche_net`). The optimised image itself is a multiple of 16 at every size used,
so the engine's own network sees exactly the same features for it.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import nn

from brushwork.features import Extractor, VGG19Features
from brushwork.image import load_image, resize
from brushwork.losses import ContentLoss, GramLoss, gram

REPO = Path(__file__).resolve().parent.parent
CONTENT_TAP = "relu4_2"
STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
TAPS = (CONTENT_TAP,) + STYLE_TAPS
CONTENT_WEIGHT = 0.01   # pastiche: content layer weight .01 × --content-weight 1
STYLE_WEIGHT = 10.0     # pastiche: 10 / C² on F Fᵀ/(HW)  ==  10 on our F Fᵀ/(CHW)


def data_dir() -> Path:
    return Path(os.environ.get("BRUSHWORK_DATA", REPO.parent / "shared" / "data"))


def pastiche_content_hw(w: int, h: int, size: int) -> tuple[int, int]:
    """pastiche.load_image(size=S): long side S, the other rounded."""
    if w > h:
        return int(round((size / w) * h, 0)), size
    if w < h:
        return size, int(round((size / h) * w, 0))
    return size, size


def pastiche_pixels_hw(w: int, h: int, pixels: int) -> tuple[int, int]:
    """pastiche.load_image(pixels=P): the style is sized to the content's pixel count."""
    h_ = int(round(math.sqrt(pixels * h / w), 0))
    w_ = int(round((w / h) * h_, 0))
    return h_, w_


def prepare(size: int, out_dir: Path, content: Path | None = None, style: Path | None = None) -> dict:
    """Resize content (long side = size) and style (same pixel count) once, with PIL bilinear
    exactly as pastiche does, and write PNGs both tools read. Returns paths, sizes and the
    `--style-size-pixels` that makes pastiche keep the style file as it is.

    That last one matters: pastiche sizes the style to the *content's* pixel count, and from the
    prepared 562x351 file (512 px) that is 560x350, a 0.4 % bilinear resample that alone changes
    the relu4_1 style term by ~30x the whole objective. Given the file's own pixel count it
    computes the file's size again and PIL returns the pixels unchanged.
    """
    from PIL import Image

    content = content or data_dir() / "samples" / "content" / "tubingen.jpg"
    style = style or data_dir() / "samples" / "style" / "starry_night.jpg"
    c = Image.open(content).convert("RGB")
    ch, cw = pastiche_content_hw(*c.size, size)
    s = Image.open(style).convert("RGB")
    sh, sw = pastiche_pixels_hw(*s.size, ch * cw)
    out_dir.mkdir(parents=True, exist_ok=True)
    cp, sp = out_dir / f"content_{size}.png", out_dir / f"style_{size}.png"
    c.resize((cw, ch), Image.BILINEAR).save(cp)
    s.resize((sw, sh), Image.BILINEAR).save(sp)
    # Re-reading the prepared files with these settings, pastiche computes the same sizes again.
    assert pastiche_content_hw(cw, ch, size) == (ch, cw)
    assert pastiche_pixels_hw(sw, sh, sh * sw) == (sh, sw)
    return {"content": str(cp), "style": str(sp), "content_hw": [ch, cw], "style_hw": [sh, sw],
            "style_size_pixels": sh * sw}


def pastiche_net(dtype: torch.dtype = torch.float32, taps=TAPS, channels_last: bool = False) -> VGG19Features:
    """Our VGG-19, max-pooling with floor like pastiche (see module docstring). Not cached.

    `channels_last` stores the conv weights NHWC, which makes oneDNN run the whole network (and
    its backward) in NHWC: a change the engine could make; here only to measure it.
    """
    net = VGG19Features(taps)
    for m in net.modules():
        if isinstance(m, nn.MaxPool2d):
            m.ceil_mode = False
    net = net.to(dtype=dtype)
    return net.to(memory_format=torch.channels_last) if channels_last else net


class CountingExtractor(Extractor):
    """The engine's Extractor around a given network; counts evaluations with gradient per size."""

    def __init__(self, net: nn.Module, dtype: torch.dtype):
        super().__init__((), "max", "cpu", dtype)
        self.net, self.taps = net, TAPS
        self.evals: dict[tuple[int, int], int] = {}

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if torch.is_grad_enabled():
            hw = tuple(image.shape[-2:])
            self.evals[hw] = self.evals.get(hw, 0) + 1
        return super().__call__(image)


@torch.no_grad()
def pastiche_losses(content: torch.Tensor, style: torch.Tensor, hw: tuple[int, int],
                    features, style_hw: tuple[int, int] | None = None) -> dict[str, nn.Module]:
    """pastiche's loss terms for an image of size `hw` (fp32 targets).

    `features(image) -> {tap: activation}`: an Extractor (its targets come from its own dtype,
    as the recipes do it) or a network.

    `content`/`style` are (1, 3, H, W) in [0, 1]; they are used as they are when already at
    `hw` / `style_hw`, else resized (the coarse stages of a multi-scale run): the content to
    `hw`, the style to the same pixel count, as pastiche would size them for that content.
    """
    c = resize(content, hw)
    if style_hw is None:
        style_hw = pastiche_pixels_hw(style.shape[-1], style.shape[-2], hw[0] * hw[1])
    s = resize(style, style_hw)
    cf = {k: v.float() for k, v in features(c).items()}
    sf = {k: v.float() for k, v in features(s).items()}
    losses: dict[str, nn.Module] = {f"content:{CONTENT_TAP}": ContentLoss(CONTENT_TAP, cf[CONTENT_TAP], CONTENT_WEIGHT)}
    for tap in STYLE_TAPS:
        losses[f"style:{tap}"] = GramLoss(tap, gram(sf[tap]), STYLE_WEIGHT)
    return losses


@torch.no_grad()
def fp32_objective(image: torch.Tensor, content: torch.Tensor, style: torch.Tensor,
                   net: nn.Module | None = None) -> dict[str, float]:
    """pastiche's objective of `image` at its own size, in fp32, terms and total."""
    net = net or pastiche_net(torch.float32)
    hw = tuple(image.shape[-2:])
    losses = pastiche_losses(content, style, hw, net, tuple(style.shape[-2:]) if hw == tuple(content.shape[-2:]) else None)
    feats = net(image.float())
    out = {k: float(loss(image, feats)) for k, loss in losses.items()}
    out["total"] = sum(out.values())
    return out


def load(path: str | Path) -> torch.Tensor:
    return load_image(str(path))
