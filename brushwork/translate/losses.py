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
