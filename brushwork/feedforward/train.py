"""Training our feed-forward networks with VGG perceptual losses.

- `train_fast`: one style (Johnson et al. 2016): content at relu2_2, Gram matrices at
  relu1_1 ... relu4_1, a little total variation; Adam, lr 1e-3, batch 4.
- `train_multistyle`: N styles in one network with conditional instance norm (Dumoulin et al.
  2017): the same losses, each image of a batch drawn with one of the styles.
- `train_adain`: the AdaIN decoder (Huang & Belongie 2017): content loss at relu4_1 against the
  AdaIN target, mean/std style loss at relu1_1 ... relu4_1; Adam, lr 1e-4 with inverse decay.

Features are divided by their tap's typical activation (`networks.FEATURE_SCALE`), so the
papers' loss weights carry over; `content_weight`/`style_weight`/`tv_weight` multiply
calibrated defaults (1 = the default balance).

One loop serves all three: deterministic batches (see data.py), checkpoints to `<out>.ckpt`
(weights, Adam state and step: a resumed run is bit-identical to an uninterrupted one on the
same machine), previews beside the output, progress through the callback, and at the end the
`.bw` file with its card. The returned model is the one in the file (fp16 weights).
"""
from __future__ import annotations

import json
import math
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..device import resolve_device
from ..errors import InputError
from ..features import check_taps, vgg19
from ..image import ImageSource, fit, load_image, resize, save_image
from ..losses import TVLoss, gram
from ..progress import Callback, Progress
from .data import Augment, Batches, ImageFolder, data_dir, step_generator
from .modelfile import (FastModel, MultiStyleModel, AdaINModel, check_model_path, load_model, make_card,
                        save_model, thumbnail)
from .networks import ADAIN_TAPS, FEATURE_SCALE, AdaINNet, TransformerNet, adain, mean_std

# Base weights on normalised features. AdaIN: Huang & Belongie's (content 1, style 10). Fast and
# multistyle started from pytorch/examples' fast_neural_style ratio (content 1e5 : style 1e10 on
# torchvision's VGG-16), but on our features the optimum of that loss is a tinted photo
# (bench/training_balance.py), and a CPU run converged to one; 3x the style weight asks for a
# painting that keeps the photo's shapes. 10x lost the content in early training.
FAST_CONTENT, FAST_STYLE, FAST_TV = 1.0, 3e5, 1e-4
ADAIN_CONTENT, ADAIN_STYLE = 1.0, 10.0
CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
CHECKPOINT_FORMAT = "brushwork-checkpoint"
DATA_NOTE = ("trained on research/evaluation images: most sources state no licence, some are "
             "non-commercial (see the data set's SOURCES.md)")


def checkpoint_path(output: str | os.PathLike) -> Path:
    """Where a training run keeps its checkpoint: beside the output, `.ckpt` for `.bw`."""
    return Path(output).with_suffix(".ckpt")


# --- validation -----------------------------------------------------------------------------

def _positive_int(value: int, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{what} must be a whole number of at least {minimum}, not {value!r}")
    return value


def _non_negative(value: float, what: str) -> float:
    if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
        raise InputError(f"{what} must be zero or positive, not {value!r}")
    return float(value)


def _style_image(src: ImageSource, side: int | None) -> torch.Tensor:
    img = load_image(src)
    if min(img.shape[-2:]) < 16:
        raise InputError(f"{src if isinstance(src, (str, os.PathLike)) else 'a style image'}: "
                         f"{img.shape[-1]}x{img.shape[-2]} px is too small for a style (at least 16 px a side)")
    return img if side is None else resize(img, fit(img.shape[-2:], side))


def _style_name(src: ImageSource, i: int) -> str:
    return Path(src).stem if isinstance(src, (str, os.PathLike)) else f"style {i + 1}"


@dataclass
class _Common:
    """Options every training run shares, validated before anything is built."""

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
             callback: Callback | None, minutes: float | None, multiple: int) -> "_Common":
        out = check_model_path(output)
        _positive_int(steps, "steps")
        _positive_int(batch_size, "batch size")
        _positive_int(size, "image size", 16)
        if size % multiple:
            raise InputError(f"image size must be a multiple of {multiple}, not {size}")
        if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
            raise InputError(f"learning rate must be positive, not {lr!r}")
        _non_negative(lr_decay, "learning-rate decay")
        jitter = tuple(float(s) for s in scale_jitter)
        if len(jitter) != 2 or not 0 < jitter[0] <= jitter[1] or not math.isfinite(jitter[1]):
            raise InputError(f"scale jitter must be two numbers 0 < lo <= hi, not {list(scale_jitter)}")
        for value, what in ((checkpoint_every, "checkpoint interval"), (preview_every, "preview interval")):
            if value is not None:
                _positive_int(value, what)
        if minutes is not None and not (isinstance(minutes, (int, float)) and 0 < minutes < math.inf):
            raise InputError(f"time limit must be a positive number of minutes, not {minutes!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise InputError(f"seed must be a whole number >= 0, not {seed!r}")
        dev = resolve_device(device)
        if dtype == "auto":
            dt = torch.bfloat16 if dev.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        elif dtype in ("float32", torch.float32):
            dt = torch.float32
        elif dtype in ("bfloat16", torch.bfloat16):
            dt = torch.bfloat16
        else:
            raise InputError(f"training dtype must be auto, float32 or bfloat16, not {dtype!r}")
        if workers is None:
            workers = min(4, os.cpu_count() or 1) if dev.type != "cpu" else 0
        if resume and not checkpoint_path(out).is_file():
            raise InputError(f"{checkpoint_path(out)}: no checkpoint to resume from")
        return cls(out, steps, batch_size, size, float(lr), float(lr_decay), jitter,  # type: ignore[arg-type]
                   checkpoint_every, resume, preview_every, seed, dev, dt, workers, callback, minutes, multiple)

    def augment(self, scale: tuple[float, float] | None = None) -> Augment:
        return Augment(self.size, scale or self.scale_jitter)


@dataclass
class _Job:
    """What a recipe hands the loop."""

    kind: str
    network: nn.Module
    batch: Callable[[int], Any]                     # step -> batch (CPU tensors)
    losses: Callable[[nn.Module, Any, int], dict[str, torch.Tensor]]
    preview: Callable[[nn.Module], torch.Tensor]    # -> (1, 3, H, W)
    config: dict[str, Any]                          # must match on resume; goes to the card
    styles: list[dict[str, str]] = field(default_factory=list)
    iterate: Callable[[int, int], Any] | None = None  # (start, stop) -> batches, prefetched


def _seed(opt: _Common) -> int:
    if opt.resume and opt.seed is None:
        return int(_read_checkpoint(checkpoint_path(opt.output), opt.device)["seed"])
    return opt.seed if opt.seed is not None else secrets.randbelow(2**31)


# --- checkpoints ----------------------------------------------------------------------------

def _read_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # a truncated or foreign file
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise InputError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a brushwork training checkpoint")
    return ck


def _save_checkpoint(path: Path, job: _Job, seed: int, step: int, opt_state: dict, recent: dict) -> None:
    state = {k: v.detach().cpu() for k, v in job.network.state_dict().items()}
    ck = {"format": CHECKPOINT_FORMAT, "version": 1, "kind": job.kind, "config": json.dumps(job.config, sort_keys=True),
          "seed": seed, "step": step, "model": state, "optimizer": opt_state,
          "recent": {k: list(v) for k, v in recent.items()}}
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            torch.save(ck, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as e:
        raise InputError(f"{path}: cannot write checkpoint ({e.strerror or e})") from None


# --- the loop -------------------------------------------------------------------------------

def _channels_last(batch: Any) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.contiguous(memory_format=torch.channels_last)
    return tuple(_channels_last(b) for b in batch)


def _fit(job: _Job, opt: _Common, seed: int, data: dict[str, Any]) -> Any:
    net = job.network.to(opt.device).train()
    cuda = opt.device.type == "cuda"
    if cuda:  # one crop size for the whole run: cuDNN's autotuned, channels-last kernels pay off
        torch.backends.cudnn.benchmark = True
        net.to(memory_format=torch.channels_last)
    params = [p for p in net.parameters() if p.requires_grad]
    adam = torch.optim.Adam(params, lr=opt.lr)
    ckpt = checkpoint_path(opt.output)
    start, recent = 0, {}
    if opt.resume:
        ck = _read_checkpoint(ckpt, opt.device)
        if ck.get("kind") != job.kind:
            raise InputError(f"{ckpt}: a checkpoint of a {ck.get('kind')} network, not {job.kind}")
        saved = json.loads(ck["config"])
        diff = [k for k in sorted(set(saved) | set(job.config)) if saved.get(k) != job.config.get(k)]
        if diff or int(ck["seed"]) != seed:
            what = diff[0] if diff else "seed"
            raise InputError(f"{ckpt}: made with different settings ({what}: {saved.get(what, ck['seed'])!r} "
                             f"there, {job.config.get(what, seed)!r} now); resume with the same options")
        net.load_state_dict(ck["model"])
        adam.load_state_dict(ck["optimizer"])
        start = int(ck["step"])
        recent = ck.get("recent", {})
    window = {k: deque(v, maxlen=100) for k, v in recent.items()}
    autocast = opt.dtype != torch.float32
    batches = job.iterate(start, opt.steps) if job.iterate else (job.batch(s) for s in range(start, opt.steps))
    t0, step = time.perf_counter(), start
    deadline = t0 + 60 * opt.minutes if opt.minutes else math.inf
    try:
        for _ in range(start, opt.steps):
            batch = next(batches)
            if cuda:
                batch = _channels_last(batch)
            for g in adam.param_groups:
                g["lr"] = opt.lr / (1.0 + opt.lr_decay * step)
            with torch.autocast(opt.device.type, dtype=opt.dtype, enabled=autocast):
                losses = job.losses(net, batch, step)
            total = sum(losses.values())
            if not torch.isfinite(total):
                raise InputError(f"training diverged at step {step + 1} (loss {total.item()}); "
                                 "try a smaller learning rate or loss weights")
            adam.zero_grad(set_to_none=True)
            total.backward()
            adam.step()
            done = step = step + 1
            values = {k: float(v.detach()) for k, v in losses.items()}
            for k, v in values.items():
                window.setdefault(k, deque(maxlen=100)).append(v)
            image = None
            if opt.preview_every and done % opt.preview_every == 0:
                image = _preview(job, net, opt, done)
            if opt.checkpoint_every and done % opt.checkpoint_every == 0 and done < opt.steps:
                _save_checkpoint(ckpt, job, seed, done, adam.state_dict(), window)
            stop = time.perf_counter() >= deadline
            if opt.callback is not None:
                report = Progress(done, opt.steps, float(total.detach()), values, size=(opt.size, opt.size),
                                  elapsed=time.perf_counter() - t0, image=image)
                stop = bool(opt.callback(report)) or stop
            if stop:
                break
        else:
            step = max(opt.steps, start)
    except KeyboardInterrupt:
        if step > start:
            _save_checkpoint(ckpt, job, seed, step, adam.state_dict(), window)
        raise
    finally:
        close = getattr(batches, "close", None)
        if close:
            close()
    _save_checkpoint(ckpt, job, seed, step, adam.state_dict(), window)
    data = {k: {**v, "quality_note": _augmentation_note(v["count"], step * opt.batch_size, opt.augment())}
            for k, v in data.items()}
    training = {**data, **job.config, "steps": step, "planned_steps": opt.steps, "seed": seed,
                "device": str(opt.device),
                "precision": str(opt.dtype).replace("torch.", ""), "resumed_at": start or None,
                "final_losses": {k: sum(v) / len(v) for k, v in window.items() if v},
                "seconds": round(time.perf_counter() - t0, 1)}
    card = make_card(job.kind, net, job.styles, training)
    save_model(net, opt.output, card)
    return load_model(opt.output, opt.device)


@torch.no_grad()
def _preview(job: _Job, net: nn.Module, opt: _Common, step: int) -> torch.Tensor:
    net.eval()
    try:
        image = job.preview(net).float().clamp(0, 1).cpu()
    finally:
        net.train()
    save_image(image, opt.output.with_name(f"{opt.output.stem}.step{step:06d}.png"))
    return image


def _augmentation_note(count: int, views: int, augment: Augment) -> str:
    """What the augmentation does for quality on a set of `count` images seen `views` times in all."""
    lo, hi = augment.scale
    return (f"{count} images, each drawn about {views / count:.0f} times: a random {augment.size} px crop "
            f"after rescaling by {lo:g}-{hi:g}x, flipped half the time, makes nearly every view new, so the "
            "network learns the style rather than memorising so few photos; scale jitter shows it strokes "
            "at several sizes relative to the content, so results depend less on the photo's resolution. "
            "It adds no new subjects: scenes unlike the training photos may be painted less evenly.")


def _data_card(folder: ImageFolder, augment: Augment) -> dict[str, Any]:
    out = {**folder.describe(), "augmentation": augment.describe()}
    try:
        if folder.root.resolve().is_relative_to(data_dir().resolve()):
            out["note"] = DATA_NOTE
    except OSError:
        pass
    return out


def _preview_content(folder: ImageFolder, size: int) -> torch.Tensor:
    img = folder.load(0)
    return resize(img, fit(img.shape[-2:], size))


# --- fast and multistyle (Johnson, Dumoulin) ------------------------------------------------

def _perceptual_job(kind: str, styles: Sequence[ImageSource], output: str | os.PathLike,
                    data: str | os.PathLike | None, content_weight: float, style_weight: float, tv_weight: float,
                    style_size: int | None, content_layer: str, style_layers: Sequence[str],
                    channels: Sequence[int], residual_blocks: int, kw: dict[str, Any]) -> Any:
    for value, what in ((content_weight, "content weight"), (style_weight, "style weight"),
                        (tv_weight, "tv weight")):
        _non_negative(value, what)
    check_taps([content_layer, *style_layers])
    if not style_layers:
        raise InputError("at least one style layer is needed")
    for t in (content_layer, *style_layers):
        if t not in FEATURE_SCALE:
            raise InputError(f"layer {t!r} cannot be used for training; use one of {', '.join(FEATURE_SCALE)}")
    if style_size is not None:
        _positive_int(style_size, "style size", 16)
    opt = _Common.make(output, multiple=TransformerNet.multiple, **kw)
    style_imgs = [_style_image(s, style_size) for s in styles]
    folder = ImageFolder(data if data is not None else data_dir("photos"), "data")
    seed = _seed(opt)
    augment = opt.augment()
    batches = Batches(folder, augment, opt.batch_size, seed, workers=opt.workers)
    n = len(style_imgs)

    torch.manual_seed(seed)
    net = TransformerNet(n, channels, residual_blocks)
    taps = tuple(dict.fromkeys([content_layer, *style_layers]))
    vgg = vgg19(taps, device=opt.device)
    vgg_content = vgg19((content_layer,), device=opt.device)
    with torch.no_grad():
        feats = [vgg(s.to(opt.device)) for s in style_imgs]
        targets = {t: torch.cat([gram(f[t].float() / FEATURE_SCALE[t]) for f in feats]) for t in style_layers}
    tv = TVLoss(FAST_TV * tv_weight)
    cw, sw = FAST_CONTENT * content_weight, FAST_STYLE * style_weight / len(style_layers)

    def losses(net: nn.Module, x: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        x = x.to(opt.device)
        if n > 1:
            idx = torch.randint(n, (x.shape[0],), generator=step_generator(seed, step, 9)).to(opt.device)
            y = net(x, F.one_hot(idx, n).float())
        else:
            idx = torch.zeros(x.shape[0], dtype=torch.long, device=opt.device)
            y = net(x)
        fy = vgg(y)
        with torch.no_grad():
            fx = vgg_content(x)[content_layer].float() / FEATURE_SCALE[content_layer]
        out = {"content": cw * F.mse_loss(fy[content_layer].float() / FEATURE_SCALE[content_layer], fx)}
        out["style"] = sw * sum(F.mse_loss(gram(fy[t] / FEATURE_SCALE[t]), targets[t][idx]) for t in style_layers)
        if tv_weight > 0:
            out["tv"] = tv(y.float(), {})
        return out

    preview_photo = _preview_content(folder, opt.size)

    def preview(net: nn.Module) -> torch.Tensor:
        x = preview_photo.to(opt.device)
        if n == 1:
            return net(x)
        return torch.cat([net(x, F.one_hot(torch.tensor(i), n).float()) for i in range(min(n, 8))], dim=-1)

    config = {"data_path": str(folder.root), "data_size": opt.size, "batch_size": opt.batch_size, "lr": opt.lr,
              "lr_decay": opt.lr_decay, "scale_jitter": list(opt.scale_jitter), "style_size": style_size,
              "content_layer": content_layer, "style_layers": list(style_layers),
              "loss_weights": {"content": cw, "style": sw * len(style_layers), "tv": FAST_TV * tv_weight},
              "style_images": [s if isinstance(s, str) else str(s) if isinstance(s, os.PathLike) else f"image {i}"
                               for i, s in enumerate(styles)]}
    names = [_style_name(s, i) for i, s in enumerate(styles)]
    job = _Job(kind, net, batches.__getitem__, losses, preview, config,
               [{"name": nm, "thumbnail": thumbnail(img)} for nm, img in zip(names, style_imgs)],
               batches.iterate)
    return _fit(job, opt, seed, {"data": _data_card(folder, augment)})


def _common_kw(steps, batch_size, size, lr, lr_decay, scale_jitter, checkpoint_every, resume, preview_every,
               seed, device, dtype, workers, callback, minutes) -> dict[str, Any]:
    return dict(steps=steps, batch_size=batch_size, size=size, lr=lr, lr_decay=lr_decay, scale_jitter=scale_jitter,
                checkpoint_every=checkpoint_every, resume=resume, preview_every=preview_every, seed=seed,
                device=device, dtype=dtype, workers=workers, callback=callback, minutes=minutes)


def train_fast(style: ImageSource, output: str | os.PathLike, data: str | os.PathLike | None = None, *,
               steps: int = 20_000, batch_size: int = 4, size: int = 256, style_size: int | None = 512,
               content_weight: float = 1.0, style_weight: float = 1.0, tv_weight: float = 1.0,
               content_layer: str = CONTENT_LAYER, style_layers: Sequence[str] = STYLE_LAYERS,
               channels: Sequence[int] = (32, 64, 128), residual_blocks: int = 5,
               lr: float = 1e-3, lr_decay: float = 0.0, scale_jitter: Sequence[float] = (1.0, 1.5),
               checkpoint_every: int | None = 1000, resume: bool = False, preview_every: int | None = None,
               seed: int | None = None, device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
               workers: int | None = None, callback: Callback | None = None, minutes: float | None = None) -> FastModel:
    """Train a one-style network (Johnson et al. 2016) on the photos in `data` and save it to `output` (.bw).

    `data` defaults to $BRUSHWORK_DATA/photos. Crops of `size` px (scale jitter `scale_jitter`,
    random flips); the style image is used at `style_size` px on its long side. Every
    `checkpoint_every` steps (and at the end) weights and optimiser state go to `<output>.ckpt`;
    `resume=True` continues from there with the same options. `preview_every` saves the network's
    painting of the first photo as `<output stem>.stepNNNNNN.png`. `minutes` ends training early
    at that wall-clock limit (the model and checkpoint are saved; the card says how many steps
    ran). Returns the saved model.
    """
    kw = _common_kw(steps, batch_size, size, lr, lr_decay, scale_jitter, checkpoint_every, resume,
                    preview_every, seed, device, dtype, workers, callback, minutes)
    return _perceptual_job("fast", [style], output, data, content_weight, style_weight, tv_weight, style_size,
                           content_layer, style_layers, channels, residual_blocks, kw)


def train_multistyle(styles: Sequence[ImageSource], output: str | os.PathLike, data: str | os.PathLike | None = None,
                     *, steps: int = 40_000, batch_size: int = 4, size: int = 256, style_size: int | None = 512,
                     content_weight: float = 1.0, style_weight: float = 1.0, tv_weight: float = 1.0,
                     content_layer: str = CONTENT_LAYER, style_layers: Sequence[str] = STYLE_LAYERS,
                     channels: Sequence[int] = (32, 64, 128), residual_blocks: int = 5,
                     lr: float = 1e-3, lr_decay: float = 0.0, scale_jitter: Sequence[float] = (1.0, 1.5),
                     checkpoint_every: int | None = 1000, resume: bool = False, preview_every: int | None = None,
                     seed: int | None = None, device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                     workers: int | None = None, callback: Callback | None = None,
                     minutes: float | None = None) -> MultiStyleModel:
    """Train one network for several styles (Dumoulin et al. 2017, conditional instance norm).

    Each image of a batch is painted in a randomly drawn style; the styles share every conv and
    differ only in their norm layers' (γ, β). Options as `train_fast`. Returns the saved model;
    `model.with_weights([...])` blends the styles.
    """
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if len(styles) < 2:
        raise InputError("a multistyle network needs at least two style images (for one, use train fast)")
    kw = _common_kw(steps, batch_size, size, lr, lr_decay, scale_jitter, checkpoint_every, resume,
                    preview_every, seed, device, dtype, workers, callback, minutes)
    return _perceptual_job("multistyle", styles, output, data, content_weight, style_weight, tv_weight, style_size,
                           content_layer, style_layers, channels, residual_blocks, kw)


# --- AdaIN (Huang & Belongie) ---------------------------------------------------------------

def train_adain(output: str | os.PathLike, content: str | os.PathLike | None = None,
                styles: str | os.PathLike | None = None, *,
                steps: int = 100_000, batch_size: int = 8, size: int = 256,
                content_weight: float = 1.0, style_weight: float = 1.0,
                lr: float = 1e-4, lr_decay: float = 5e-5, scale_jitter: Sequence[float] = (1.0, 2.0),
                checkpoint_every: int | None = 1000, resume: bool = False, preview_every: int | None = None,
                seed: int | None = None, device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                workers: int | None = None, callback: Callback | None = None,
                minutes: float | None = None) -> AdaINModel:
    """Train an AdaIN decoder: photos from `content` (default $BRUSHWORK_DATA/photos), styles
    from `styles` (default $BRUSHWORK_DATA/paintings). The encoder is the frozen VGG-19.

    Content loss: the decoded image's relu4_1 against the AdaIN target; style loss: channel
    mean and std at relu1_1 ... relu4_1 against the style image's (weights 1 and 10 × the
    multipliers). Crops of `size` px from images whose short side is `size` × U(scale_jitter).
    """
    for value, what in ((content_weight, "content weight"), (style_weight, "style weight")):
        _non_negative(value, what)
    kw = _common_kw(steps, batch_size, size, lr, lr_decay, scale_jitter, checkpoint_every, resume,
                    preview_every, seed, device, dtype, workers, callback, minutes)
    opt = _Common.make(output, multiple=AdaINNet.multiple, **kw)
    photos = ImageFolder(content if content is not None else data_dir("photos"), "content")
    paintings = ImageFolder(styles if styles is not None else data_dir("paintings"), "style")
    seed = _seed(opt)
    augment = opt.augment()
    c_batches = Batches(photos, augment, opt.batch_size, seed, stream=0, workers=opt.workers)
    s_batches = Batches(paintings, augment, opt.batch_size, seed, stream=1, workers=opt.workers)

    torch.manual_seed(seed)
    net = AdaINNet()
    vgg = vgg19(ADAIN_TAPS, device=opt.device)
    cw, sw = ADAIN_CONTENT * content_weight, ADAIN_STYLE * style_weight

    def features(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {t: f.float() / FEATURE_SCALE[t] for t, f in vgg(x).items()}

    def losses(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        c, s = (b.to(opt.device) for b in batch)
        with torch.no_grad():
            fc = features(c)["relu4_1"]
            fs = features(s)
            target = adain(fc, *mean_std(fc), *mean_std(fs["relu4_1"]))
        g = features(net.decode(target))
        style = 0.0
        for t in ADAIN_TAPS:
            gm, gs = mean_std(g[t])
            sm, ss = mean_std(fs[t])
            style = style + F.mse_loss(gm, sm) + F.mse_loss(gs, ss)
        return {"content": cw * F.mse_loss(g["relu4_1"], target), "style": sw * style}

    preview_photo = _preview_content(photos, opt.size)
    preview_style = _preview_content(paintings, opt.size)

    def preview(net: nn.Module) -> torch.Tensor:
        return net(preview_photo.to(opt.device), preview_style.to(opt.device))

    def iterate(start: int, stop: int):
        return zip(c_batches.iterate(start, stop), s_batches.iterate(start, stop))

    config = {"data_path": str(photos.root), "style_path": str(paintings.root), "data_size": opt.size,
              "batch_size": opt.batch_size, "lr": opt.lr, "lr_decay": opt.lr_decay,
              "scale_jitter": list(opt.scale_jitter), "content_layer": "relu4_1", "style_layers": list(ADAIN_TAPS),
              "style_loss": "channel mean and std",
              "loss_weights": {"content": cw, "style": sw}}
    job = _Job("adain", net, lambda k: (c_batches[k], s_batches[k]), losses, preview, config,
               [{"name": f"{paintings.root.name} ({len(paintings)} images)", "thumbnail": thumbnail(preview_style)}],
               iterate)
    data = {"data": _data_card(photos, augment), "style_data": _data_card(paintings, augment)}
    return _fit(job, opt, seed, data)
