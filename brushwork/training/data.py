"""Training images: folders of photos or paintings, paired (A/ and B/) and unpaired folders,
augmentation, and deterministic batches prepared ahead.

Batch k depends only on (seed, k): a run resumed at step k sees exactly the batches an
uninterrupted run would, and batches can be prepared ahead in threads without changing them.
"""
from __future__ import annotations

import copy
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

import torch
from PIL import Image

from ..errors import InputError
from ..image import load_image, resize

SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def data_dir(*parts: str) -> Path:
    """A folder of the shared data set: $BRUSHWORK_DATA (default ../shared/data) / parts."""
    return Path(os.environ.get("BRUSHWORK_DATA", "../shared/data"), *parts)


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """The random numbers of one training step (and one use of them: `stream`)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 7 + stream)


def _images_under(root: Path, what: str) -> list[Path]:
    if not root.is_dir():
        raise InputError(f"{root}: {what} folder does not exist" if not root.exists()
                         else f"{root}: {what} must be a folder of images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"{root}: no images ({', '.join(SUFFIXES)}) in the {what} folder")
    return files


class ImageFolder:
    """Every .jpg/.jpeg/.png/.webp under a folder (recursively), in a fixed order.

    `holdout` keeps that many images out, evenly spread over the order (so over the sub-folders
    too): they are in `held_out`, not drawn for training.
    """

    def __init__(self, root: str | os.PathLike, what: str = "data", holdout: int = 0):
        self.root = Path(root)
        files = _images_under(self.root, what)
        if not 0 <= holdout <= len(files) - 1:
            raise InputError(f"{self.root}: cannot hold out {holdout} of its {len(files)} images "
                             "(at least one must stay for training)")
        out = {int((i + 0.5) * len(files) / holdout) for i in range(holdout)} if holdout else set()
        self.files = [f for i, f in enumerate(files) if i not in out]
        self.held_out = [f for i, f in enumerate(files) if i in out]

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
        out: dict = {"path": str(self.root), "count": len(self.files)}
        if self.held_out:
            out["held_out"] = [f.relative_to(self.root).as_posix() for f in self.held_out]
        return out


class PairedFolder:
    """Aligned pairs (pix2pix): `root/A/name` with `root/B/name`, same names (any suffix) and sizes.

    `load(i)` returns A and B stacked along channels, (1, 6, H, W), so that one augmentation
    crops and flips both alike. `holdout` keeps the last pairs (in name order) out: they are in
    `held_out`, not drawn for training. `joined` adds another folder's pairs to the training ones.
    """

    def __init__(self, root: str | os.PathLike, what: str = "paired data", holdout: int = 0):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: {what} folder does not exist" if not self.root.exists()
                             else f"{self.root}: {what} must be a folder with A/ and B/ inside")
        a, b = (self.root / side for side in "AB")
        for side in (a, b):
            if not side.is_dir():
                raise InputError(f"{self.root}: {what} needs two folders A/ and B/ (no {side.name}/)")
        names_a = {p.relative_to(a).with_suffix("").as_posix(): p for p in _images_under(a, f"{what} A")}
        names_b = {p.relative_to(b).with_suffix("").as_posix(): p for p in _images_under(b, f"{what} B")}
        for here, there, side in ((names_a, names_b, "B"), (names_b, names_a, "A")):
            missing = sorted(set(here) - set(there))
            if missing:
                raise InputError(f"{self.root}: {len(missing)} image(s) without a partner in {side}/ "
                                 f"(first: {missing[0]})")
        pairs = [(names_a[k], names_b[k]) for k in sorted(names_a)]
        if not 0 <= holdout <= len(pairs) - 1:
            raise InputError(f"{self.root}: cannot hold out {holdout} of its {len(pairs)} pairs "
                             "(at least one must stay for training)")
        self.pairs, self.held_out = pairs[:len(pairs) - holdout], pairs[len(pairs) - holdout:]
        self.more: list[PairedFolder] = []
        for pa, pb in pairs:
            size_a, size_b = (_pixel_size(p) for p in (pa, pb))
            if size_a != size_b:
                raise InputError(f"{pa.relative_to(self.root)} is {size_a[0]}x{size_a[1]} px but "
                                 f"{pb.relative_to(self.root)} is {size_b[0]}x{size_b[1]}; pairs must match")

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> torch.Tensor:
        pa, pb = self.pairs[index % len(self.pairs)]
        return torch.cat([load_image(pa), load_image(pb)], dim=1)

    def joined(self, more: "PairedFolder") -> "PairedFolder":
        """This folder with `more`'s pairs added for training (none of them held out)."""
        out = copy.copy(self)
        out.pairs = self.pairs + more.pairs
        out.more = [*self.more, more]
        return out

    def describe(self) -> dict:
        out = {"path": str(self.root), "count": len(self.pairs), "paired": True}
        if self.held_out:
            out["held_out"] = [pa.relative_to(self.root / "A").as_posix() for pa, _ in self.held_out]
        if self.more:
            out["more_pairs"] = [{"path": str(m.root), "count": len(m.pairs)} for m in self.more]
        return out


def _pixel_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size
    except OSError:
        raise InputError(f"{path}: not an image") from None


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


class BatchSource(Protocol):
    """What the training loop draws from: batch `step` by index, or a run of them prepared ahead."""

    def __getitem__(self, step: int) -> Any: ...

    def iterate(self, start: int, stop: int) -> Iterator[Any]: ...


class Batches:
    """Deterministic augmented batches from a folder; `stream` separates several folders' draws.

    A `PairedFolder` gives (A, B) batches, cropped and flipped alike.
    """

    def __init__(self, folder: ImageFolder | PairedFolder, augment: Augment, batch_size: int, seed: int,
                 stream: int = 0, workers: int = 0):
        self.folder, self.augment, self.batch_size = folder, augment, batch_size
        self.seed, self.stream, self.workers = seed, stream, workers

    def __getitem__(self, step: int) -> Any:
        g = step_generator(self.seed, step, self.stream)
        idx = torch.randint(len(self.folder), (self.batch_size,), generator=g).tolist()
        batch = torch.stack([self.augment(self.folder.load(i), g) for i in idx])
        return tuple(batch.split(3, dim=1)) if isinstance(self.folder, PairedFolder) else batch

    def iterate(self, start: int, stop: int) -> Iterator[Any]:
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


class Unpaired:
    """Two domains drawn independently (CycleGAN; AdaIN's photos and paintings): (a, b) batches."""

    def __init__(self, a: Batches, b: Batches):
        if a.stream == b.stream and a.seed == b.seed:
            raise ValueError("the two domains need different streams")
        self.a, self.b = a, b

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.a[step], self.b[step]

    def iterate(self, start: int, stop: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return zip(self.a.iterate(start, stop), self.b.iterate(start, stop))


class Prefetch:
    """Items of an iterable produced `depth` ahead in a background thread (exceptions re-raised here).

    The thread's work (image decoding, resizing) overlaps the training step; `close()` stops it.
    """

    _END = object()

    def __init__(self, items: Iterable[Any], depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(iter(items),), daemon=True,
                                        name="brushwork-batches")
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, items: Iterator[Any]) -> None:
        try:
            for item in items:
                if not self._put((True, item)):
                    break
            else:
                self._put((True, self._END))
        except BaseException as e:  # handed to the consumer, which raises it
            self._put((False, e))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    def __iter__(self) -> "Prefetch":
        return self

    def __next__(self) -> Any:
        ok, item = self._queue.get()
        if not ok:
            raise item
        if item is self._END:
            raise StopIteration
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def augmentation_note(count: int, views: int, augmentation: dict) -> str:
    """What the augmentation (an `Augment.describe()`) does for quality on `count` images seen `views` times."""
    lo, hi = augmentation["scale_jitter"]
    return (f"{count} images, each drawn about {views / count:.0f} times: a random {augmentation['crop']} px crop "
            f"after rescaling by {lo:g}-{hi:g}x, flipped half the time, makes nearly every view new, so the "
            "network learns the style rather than memorising so few photos; scale jitter shows it strokes "
            "at several sizes relative to the content, so results depend less on the photo's resolution. "
            "It adds no new subjects: scenes unlike the training photos may be painted less evenly.")
