"""The translation losses: adversarial (vanilla or least squares), PatchNCE, and the history pool.

L1, cycle and identity terms are plain `F.l1_loss` in the recipes.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

GAN_MODES = ("vanilla", "lsgan")


def gan_loss(logits: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """How far a discriminator's patch logits are from saying `real` (BCE, or LSGAN's squared error)."""
    target = torch.full_like(logits, 1.0 if real else 0.0)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    raise ValueError(f"unknown GAN loss {mode!r}")


def patch_nce(q: torch.Tensor, k: torch.Tensor, batch: int, temperature: float = 0.07) -> torch.Tensor:
    """PatchNCE (Park et al. 2020): each output patch `q` must pick its own input patch `k` among
    the other patches of the same image. q, k: (batch·patches, dim), L2-normalised."""
    k = k.detach()
    dim = q.shape[1]
    qb, kb = q.view(batch, -1, dim), k.view(batch, -1, dim)
    positive = (qb * kb).sum(-1, keepdim=True)                       # (B, P, 1)
    negative = qb @ kb.transpose(1, 2)                               # (B, P, P)
    n = negative.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=q.device)[None]
    negative = negative.masked_fill(eye, -10.0)                      # the positive is not a negative
    logits = torch.cat([positive, negative], dim=2).flatten(0, 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=q.device))


class ImagePool:
    """The history of generated images a discriminator learns from (Shrivastava et al. 2017).

    Until `size` images are stored each one is kept and returned; then each new image is, with
    probability 1/2, swapped for a random stored one (which is returned instead). The draws come
    from the generator passed in, so a run is reproducible and resumable.
    """

    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            img = img[None]
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand((), generator=g).item() < 0.5:
                i = int(torch.randint(len(self.images), (), generator=g))
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
            else:
                out.append(img)
        return torch.cat(out)

    def state(self) -> dict[str, Any]:
        return {"size": self.size, "images": list(self.images)}

    def load(self, state: dict[str, Any], device: torch.device) -> None:
        self.size = int(state["size"])
        self.images = [t.to(device) for t in state["images"]]


def diff_augment(x: torch.Tensor, g: torch.Generator, colour_channels: slice = slice(None)) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020) for what a discriminator sees, in [-1, 1]: random brightness,
    saturation and contrast (on `colour_channels`), a shift by up to 1/8 of the side (zero-filled)
    and one cutout of half the side, each drawn per image from `g`. Differentiable, so the
    generator learns through it; a discriminator that sees both real and fake images augmented
    this way overfits a few hundred images far later (the paper's 100-image results)."""
    n, _, h, w = x.shape
    r = lambda *shape: torch.rand(*shape, generator=g).to(x.device, x.dtype)  # noqa: E731
    c = x[:, colour_channels]
    c = c + (r(n, 1, 1, 1) - 0.5)
    mean = c.mean(1, keepdim=True)
    c = (c - mean) * (r(n, 1, 1, 1) * 2) + mean
    mean = c.mean((1, 2, 3), keepdim=True)
    c = (c - mean) * (r(n, 1, 1, 1) + 0.5) + mean
    x = x.clone()
    x[:, colour_channels] = c
    sy, sx = h // 8, w // 8
    dy = torch.randint(-sy, sy + 1, (n,), generator=g).tolist()
    dx = torch.randint(-sx, sx + 1, (n,), generator=g).tolist()
    padded = F.pad(x, (sx, sx, sy, sy))
    x = torch.stack([padded[i, :, sy + dy[i]:sy + dy[i] + h, sx + dx[i]:sx + dx[i] + w] for i in range(n)])
    ch, cw = h // 2, w // 2
    cy = torch.randint(0, h - ch + 1, (n,), generator=g).tolist()
    cx = torch.randint(0, w - cw + 1, (n,), generator=g).tolist()
    keep = torch.ones(n, 1, h, w, device=x.device, dtype=x.dtype)
    for i in range(n):
        keep[i, :, cy[i]:cy[i] + ch, cx[i]:cx[i] + cw] = 0
    return x * keep


VGG_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
VGG_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


def vgg_loss(vgg: Any, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's perceptual term: L1 between VGG-19 relu1_1..relu5_1 features of the two images
    (in [-1, 1]), weighted 1/32 .. 1 from shallow to deep, the target's taken without gradient.
    VGG's activations are in caffe units (0-255 input), so they are divided by 255 to match."""
    with torch.no_grad():
        want = vgg((real + 1) / 2)
    got = vgg((fake + 1) / 2)
    return sum(wt * F.l1_loss(got[t].float(), want[t].float()) for t, wt in zip(VGG_TAPS, VGG_WEIGHTS)) / 255.0
