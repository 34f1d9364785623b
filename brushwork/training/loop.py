"""One training loop for every recipe, and the options every image-network training shares.

`fit(recipe, settings, seed)` draws batch k for step k (prepared ahead in a background thread),
moves it to the device (channels-last on CUDA), calls `recipe.train_step`, and around the steps keeps
checkpoints (`<output>.ckpt`, every `checkpoint_every` steps, at the end and on Ctrl-C), resumes
from one bit-exactly, stops at `minutes` or when the callback says so, saves previews beside
the output, reports progress, and writes the product network with its model card.
"""
from __future__ import annotations

import math
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from ..device import resolve_device
from ..errors import InputError
from ..image import save_image
from ..progress import Callback, Progress
from .checkpoint import check_matches, checkpoint_path, read_checkpoint, restore, save_checkpoint
from .data import Augment, Prefetch, augmentation_note
from .precision import training_dtype
from .recipe import Recipe

PREFETCH_DEPTH = 2
RECENT = 100  # the final losses on the card average this many steps


def positive_int(value: int, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{what} must be a whole number of at least {minimum}, not {value!r}")
    return value


def non_negative(value: float, what: str) -> float:
    if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
        raise InputError(f"{what} must be zero or positive, not {value!r}")
    return float(value)


@dataclass
class Settings:
    """Options every training run shares, validated (`make`) before anything is built."""

    output: Path
    steps: int
    batch_size: int
    size: int
    lr: float
    lr_decay: float
    scale_jitter: tuple[float, float]
    checkpoint_every: int | None
    resume: bool
    preview_every: int | None
    seed: int | None
    device: torch.device
    dtype: torch.dtype
    workers: int
    callback: Callback | None
    minutes: float | None
    multiple: int = 4

    @classmethod
    def make(cls, output: str | os.PathLike, steps: int, batch_size: int, size: int, lr: float, lr_decay: float,
             scale_jitter: Sequence[float], checkpoint_every: int | None, resume: bool, preview_every: int | None,
             seed: int | None, device: str | torch.device, dtype: str | torch.dtype, workers: int | None,
             callback: Callback | None, minutes: float | None, multiple: int) -> "Settings":
        out = Path(output)
        positive_int(steps, "steps")
        positive_int(batch_size, "batch size")
        positive_int(size, "image size", 16)
        if size % multiple:
            raise InputError(f"image size must be a multiple of {multiple}, not {size}")
        if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
            raise InputError(f"learning rate must be positive, not {lr!r}")
        non_negative(lr_decay, "learning-rate decay")
        jitter = tuple(float(s) for s in scale_jitter)
        if len(jitter) != 2 or not 0 < jitter[0] <= jitter[1] or not math.isfinite(jitter[1]):
            raise InputError(f"scale jitter must be two numbers 0 < lo <= hi, not {list(scale_jitter)}")
        for value, what in ((checkpoint_every, "checkpoint interval"), (preview_every, "preview interval")):
            if value is not None:
                positive_int(value, what)
        if minutes is not None and not (isinstance(minutes, (int, float)) and 0 < minutes < math.inf):
            raise InputError(f"time limit must be a positive number of minutes, not {minutes!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise InputError(f"seed must be a whole number >= 0, not {seed!r}")
        dev = resolve_device(device)
        dt = training_dtype(dev, dtype)
        if workers is None:  # threads decoding and augmenting images; on a CPU they would take its cores
            workers = min(4, os.cpu_count() or 1) if dev.type != "cpu" else 0
        if resume and not checkpoint_path(out).is_file():
            raise InputError(f"{checkpoint_path(out)}: no checkpoint to resume from")
        return cls(out, steps, batch_size, size, float(lr), float(lr_decay), jitter,  # type: ignore[arg-type]
                   checkpoint_every, resume, preview_every, seed, dev, dt, workers, callback, minutes, multiple)

    def augment(self) -> Augment:
        return Augment(self.size, self.scale_jitter)

    def resolve_seed(self) -> int:
        """The run's seed: as given, the checkpoint's when resuming without one, else a fresh one."""
        if self.resume and self.seed is None:
            return int(read_checkpoint(checkpoint_path(self.output), self.device)["seed"])
        return self.seed if self.seed is not None else secrets.randbelow(2**31)


def inverse_decay(optimizer: torch.optim.Optimizer, lr: float, decay: float, step: int) -> None:
    """Set the learning rate of `step`: lr / (1 + decay · step) (decay 0: constant), times a
    parameter group's "lr_scale" where it has one."""
    for g in optimizer.param_groups:
        g["lr"] = g.get("lr_scale", 1.0) * lr / (1.0 + decay * step)


def _layout(device: torch.device) -> torch.memory_format:
    """channels-last on CUDA (cuDNN's fastest convolutions); contiguous on the CPU, where the
    trained networks (reflection padding, instance norm, upsampling) ran 1.17x slower channels-last
    (BENCHMARKS.md "Training speed")."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device).contiguous(memory_format=_layout(device))
    return tuple(_to_device(b, device) for b in batch)


def fit(recipe: Recipe, settings: Settings, seed: int) -> Any:
    """Train `recipe` for `settings.steps` steps (or up to the time limit); returns the saved model."""
    opt = settings
    for net in recipe.networks.values():
        net.to(opt.device, memory_format=_layout(opt.device)).train()
    if opt.device.type == "cuda":  # one crop size for the whole run: cuDNN's autotuned kernels pay off
        torch.backends.cudnn.benchmark = True
    ckpt = checkpoint_path(opt.output)
    start, recent, before = 0, {}, 0.0
    if opt.resume:
        ck = read_checkpoint(ckpt, opt.device)
        check_matches(ck, ckpt, recipe, seed)
        start = restore(ck, ckpt, recipe)
        recent, before = ck.get("recent", {}), float(ck.get("seconds", 0.0))
    window = {k: deque(v, maxlen=RECENT) for k, v in recent.items()}
    batches = Prefetch(recipe.data.iterate(start, opt.steps), PREFETCH_DEPTH)
    t0, step = time.perf_counter(), start
    deadline = t0 + 60 * opt.minutes if opt.minutes else math.inf

    def spent() -> float:
        """Training time over every run of this model, resumed ones included."""
        return before + time.perf_counter() - t0

    try:
        for batch in batches:
            values = recipe.train_step(_to_device(batch, opt.device), step)
            total = sum(values.values())
            if not math.isfinite(total):
                raise InputError(f"training diverged at step {step + 1} (loss {total}); "
                                 "try a smaller learning rate or loss weights")
            done = step = step + 1
            for k, v in values.items():
                window.setdefault(k, deque(maxlen=RECENT)).append(v)
            image = None
            if opt.preview_every and done % opt.preview_every == 0:
                image = _preview(recipe, opt.output, done)
            if opt.checkpoint_every and done % opt.checkpoint_every == 0 and done < opt.steps:
                save_checkpoint(ckpt, recipe, seed, done, window, spent())
            stop = time.perf_counter() >= deadline
            if opt.callback is not None:
                report = Progress(done, opt.steps, total, values, size=(opt.size, opt.size),
                                  elapsed=time.perf_counter() - t0, image=image)
                stop = bool(opt.callback(report)) or stop
            if stop:
                break
        else:
            step = max(opt.steps, start)
    except KeyboardInterrupt:
        if step > start:
            save_checkpoint(ckpt, recipe, seed, step, window, spent())
        raise
    finally:
        batches.close()
    save_checkpoint(ckpt, recipe, seed, step, window, spent())
    data = {k: {**v, "quality_note": augmentation_note(v["count"], step * opt.batch_size, v["augmentation"])}
            for k, v in recipe.data_cards.items()}
    training = {**data, **recipe.config, "steps": step, "planned_steps": opt.steps, "seed": seed,
                "device": str(opt.device),
                "precision": str(opt.dtype).replace("torch.", ""), "resumed_at": start or None,
                "final_losses": {k: sum(v) / len(v) for k, v in window.items() if v},
                "seconds": round(spent(), 1)}
    return recipe.save(opt.output, training, opt.device)


@torch.no_grad()
def _preview(recipe: Recipe, output: Path, step: int) -> torch.Tensor:
    nets = list(recipe.networks.values())
    for net in nets:
        net.eval()
    try:
        image = recipe.preview().float().clamp(0, 1).cpu()
    finally:
        for net in nets:
            net.train()
    save_image(image, output.with_name(f"{output.stem}.step{step:06d}.png"))
    return image
