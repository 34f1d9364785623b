"""Training images: a folder of photos (or paintings), augmented, in deterministic batches.

Batch k depends only on (seed, k): a run resumed at step k sees exactly the batches an
uninterrupted run would, and batches can be prepared ahead in threads without changing them.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from ..errors import InputError
from ..image import load_image, resize

SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def data_dir(*parts: str) -> Path:
    """A folder of the shared data set: $BRUSHWORK_DATA (default ../shared/data) / parts."""
    return Path(os.environ.get("BRUSHWORK_DATA", "../shared/data"), *parts)


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """The random numbers of one training step (and one use of them: `stream`)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 7 + stream)


class ImageFolder:
    """Every .jpg/.jpeg/.png/.webp under a folder (recursively), in a fixed order."""

    def __init__(self, root: str | os.PathLike, what: str = "data"):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: {what} folder does not exist" if not self.root.exists()
                             else f"{self.root}: {what} must be a folder of images")
        self.files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        if not self.files:
            raise InputError(f"{self.root}: no images ({', '.join(SUFFIXES)}) in the {what} folder")

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> torch.Tensor:
        """Image `index` (1, 3, H, W); an unreadable file is skipped for the next one."""
        for k in range(len(self.files)):
            try:
                img = load_image(self.files[(index + k) % len(self.files)])
            except InputError:
                continue
            if min(img.shape[-2:]) >= 8:
                return img
        raise InputError(f"{self.root}: none of its images can be read")

    def describe(self) -> dict:
        return {"path": str(self.root), "count": len(self.files)}


@dataclass(frozen=True)
class Augment:
    """Scale jitter (the short side becomes size × U(scale)), a random square crop, a random flip."""

    size: int = 256
    scale: tuple[float, float] = (1.0, 1.5)
    hflip: bool = True

    def __call__(self, img: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        lo, hi = self.scale
        u = lo + (hi - lo) * torch.rand((), generator=g).item()
        h, w = img.shape[-2:]
        s = self.size * u / min(h, w)
        hw = (max(self.size, round(h * s)), max(self.size, round(w * s)))
        img = resize(img, hw)
        top = int(torch.randint(hw[0] - self.size + 1, (), generator=g))
        left = int(torch.randint(hw[1] - self.size + 1, (), generator=g))
        img = img[..., top:top + self.size, left:left + self.size]
        if self.hflip and torch.rand((), generator=g).item() < 0.5:
            img = img.flip(-1)
        return img[0]

    def describe(self) -> dict:
        return {"crop": self.size, "scale_jitter": list(self.scale), "hflip": self.hflip,
                "resize": "bicubic, antialiased when shrinking"}


class Batches:
    """Deterministic augmented batches from a folder; `stream` separates several folders' draws."""

    def __init__(self, folder: ImageFolder, augment: Augment, batch_size: int, seed: int, stream: int = 0,
                 workers: int = 0):
        self.folder, self.augment, self.batch_size = folder, augment, batch_size
        self.seed, self.stream, self.workers = seed, stream, workers

    def __getitem__(self, step: int) -> torch.Tensor:
        g = step_generator(self.seed, step, self.stream)
        idx = torch.randint(len(self.folder), (self.batch_size,), generator=g).tolist()
        return torch.stack([self.augment(self.folder.load(i), g) for i in idx])

    def iterate(self, start: int, stop: int) -> Iterator[torch.Tensor]:
        """Batches start..stop-1, prepared up to `workers` steps ahead in threads."""
        if self.workers <= 0:
            for step in range(start, stop):
                yield self[step]
            return
        with ThreadPoolExecutor(self.workers) as pool:
            ahead = [pool.submit(self.__getitem__, s) for s in range(start, min(stop, start + self.workers))]
            for step in range(start, stop):
                batch = ahead.pop(0).result()
                nxt = step + self.workers
                if nxt < stop:
                    ahead.append(pool.submit(self.__getitem__, nxt))
                yield batch
