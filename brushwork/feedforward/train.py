"""Training our feed-forward networks with VGG perceptual losses (the recipes are in recipes.py,
the loop in `brushwork.training`).

- `train_fast`: one style (Johnson et al. 2016): content at relu2_2, Gram matrices at
  relu1_1 ... relu4_1, a little total variation; Adam, lr 1e-3, batch 4.
- `train_multistyle`: N styles in one network with conditional instance norm (Dumoulin et al.
  2017): the same losses, each image of a batch drawn with one of the styles.
- `train_adain`: the AdaIN decoder (Huang & Belongie 2017): content loss at relu4_1 against the
  AdaIN target, mean/std style loss at relu1_1 ... relu4_1; Adam, lr 1e-4 with inverse decay.

Features are divided by their tap's typical activation (`networks.FEATURE_SCALE`), so the
papers' loss weights carry over; `content_weight`/`style_weight`/`tv_weight` multiply
calibrated defaults (1 = the default balance).

Each function validates its options (before any network is built), loads its images, builds
its recipe and hands it to `training.fit`: deterministic batches, checkpoints to `<out>.ckpt`
(a resumed run is bit-identical to an uninterrupted one on the same machine), previews beside
the output, progress through the callback, and at the end the `.bw` file with its card. The
returned model is the one in the file (fp16 weights).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch

from ..errors import InputError
from ..features import check_taps
from ..image import ImageSource, fit, load_image, resize
from ..progress import Callback
from ..training import (Batches, ImageFolder, Settings, Unpaired, checkpoint_path, data_dir, fit as fit_recipe,
                        non_negative, positive_int)
from .modelfile import AdaINModel, FastModel, MultiStyleModel, check_model_path, load_model, thumbnail
from .networks import ADAIN_TAPS, FEATURE_SCALE, AdaINNet, TransformerNet
from .recipes import AdaINRecipe, PerceptualRecipe

__all__ = ["checkpoint_path", "train_adain", "train_fast", "train_multistyle"]

# Base weights on normalised features. AdaIN: Huang & Belongie's (content 1, style 10). Fast and
# multistyle started from pytorch/examples' fast_neural_style ratio (content 1e5 : style 1e10 on
# torchvision's VGG-16), but on our features the optimum of that loss is a tinted photo
# (bench/training_balance.py), and a CPU run converged to one; 3x the style weight asks for a
# painting that keeps the photo's shapes. 10x lost the content in early training.
FAST_CONTENT, FAST_STYLE, FAST_TV = 1.0, 3e5, 1e-4
ADAIN_CONTENT, ADAIN_STYLE = 1.0, 10.0
CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
DATA_NOTE = ("trained on research/evaluation images: most sources state no licence, some are "
             "non-commercial (see the data set's SOURCES.md)")


def _style_image(src: ImageSource, side: int | None) -> torch.Tensor:
    img = load_image(src)
    if min(img.shape[-2:]) < 16:
        raise InputError(f"{src if isinstance(src, (str, os.PathLike)) else 'a style image'}: "
                         f"{img.shape[-1]}x{img.shape[-2]} px is too small for a style (at least 16 px a side)")
    return img if side is None else resize(img, fit(img.shape[-2:], side))


def _style_name(src: ImageSource, i: int) -> str:
    return Path(src).stem if isinstance(src, (str, os.PathLike)) else f"style {i + 1}"


def _data_card(folder: ImageFolder, augment: Any) -> dict[str, Any]:
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
        non_negative(value, what)
    check_taps([content_layer, *style_layers])
    if not style_layers:
        raise InputError("at least one style layer is needed")
    for t in (content_layer, *style_layers):
        if t not in FEATURE_SCALE:
            raise InputError(f"layer {t!r} cannot be used for training; use one of {', '.join(FEATURE_SCALE)}")
    if style_size is not None:
        positive_int(style_size, "style size", 16)
    opt = Settings.make(check_model_path(output), multiple=TransformerNet.multiple, **kw)
    style_imgs = [_style_image(s, style_size) for s in styles]
    folder = ImageFolder(data if data is not None else data_dir("photos"), "data")
    seed = opt.resolve_seed()
    augment = opt.augment()
    batches = Batches(folder, augment, opt.batch_size, seed, workers=opt.workers)

    torch.manual_seed(seed)
    net = TransformerNet(len(style_imgs), channels, residual_blocks)
    # per style layer; the card's total is the per-layer weight × layers (as checkpoints have it)
    cw, sw, tw = FAST_CONTENT * content_weight, FAST_STYLE * style_weight / len(style_layers), FAST_TV * tv_weight
    config = {"data_path": str(folder.root), "data_size": opt.size, "batch_size": opt.batch_size, "lr": opt.lr,
              "lr_decay": opt.lr_decay, "scale_jitter": list(opt.scale_jitter), "style_size": style_size,
              "content_layer": content_layer, "style_layers": list(style_layers),
              "loss_weights": {"content": cw, "style": sw * len(style_layers), "tv": tw},
              "style_images": [s if isinstance(s, str) else str(s) if isinstance(s, os.PathLike) else f"image {i}"
                               for i, s in enumerate(styles)]}
    names = [_style_name(s, i) for i, s in enumerate(styles)]
    recipe = PerceptualRecipe(kind, net, style_imgs, batches, opt, seed, (cw, sw, tw), content_layer, style_layers,
                              _preview_content(folder, opt.size), config,
                              [{"name": nm, "thumbnail": thumbnail(img)} for nm, img in zip(names, style_imgs)],
                              {"data": _data_card(folder, augment)})
    return fit_recipe(recipe, opt, seed)


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

def photos_and_paintings(content: str | os.PathLike | None,
                         styles: str | os.PathLike | None) -> tuple[ImageFolder, ImageFolder]:
    """The photo and painting folders of an any-style training (default: the shared data's)."""
    return (ImageFolder(content if content is not None else data_dir("photos"), "content"),
            ImageFolder(styles if styles is not None else data_dir("paintings"), "style"))


def init_decoder(net: AdaINNet, source: str | os.PathLike) -> None:
    """Copy a trained decoder's weights into `net` (see `train_adain`'s `init`)."""
    from ..photoreal.decoders import SHIPPED
    model = load_model(SHIPPED if str(source) == "photowct" else source, "cpu")
    if model.kind == "adain":
        net.decoder.load_state_dict(model.network.decoder.state_dict())
        return
    if model.kind != "photowct":
        raise InputError(f"{source}: a {model.kind} model; an AdaIN decoder starts from an adain or photowct model")
    convs = model.network.decoders["relu4_1"].convs
    with torch.no_grad():
        for (_, _, up), mine, theirs in zip(net.decoder.LAYERS, net.decoder.convs, convs, strict=True):
            mine.load_state_dict(theirs.state_dict())
            if up:  # unpooling fills one pixel in four, nearest upsampling all four: halve what follows
                mine[1].weight.mul_(0.5)
        last = net.decoder.convs[-1][1]  # PhotoWCT's decoder ends in RGB, ours in a sigmoid's logit:
        last.weight.mul_(4.0)            # logit(y) ~ 4 (y - 0.5) around mid-grey
        last.bias.sub_(0.5).mul_(4.0)


def train_adain(output: str | os.PathLike, content: str | os.PathLike | None = None,
                styles: str | os.PathLike | None = None, *,
                steps: int = 100_000, batch_size: int = 8, size: int = 256,
                content_weight: float = 1.0, style_weight: float = 1.0,
                lr: float = 1e-4, lr_decay: float = 5e-5, scale_jitter: Sequence[float] = (1.0, 2.0),
                checkpoint_every: int | None = 1000, resume: bool = False, preview_every: int | None = None,
                seed: int | None = None, device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                workers: int | None = None, callback: Callback | None = None,
                minutes: float | None = None, init: str | os.PathLike | None = None) -> AdaINModel:
    """Train an AdaIN decoder: photos from `content` (default $BRUSHWORK_DATA/photos), styles
    from `styles` (default $BRUSHWORK_DATA/paintings). The encoder is the frozen VGG-19.

    `init` starts the decoder from trained weights instead of at random: an AdaIN `.bw`, or a
    PhotoWCT `.bw` ("photowct": the shipped one), whose relu4_1 decoder has the same
    convolutions (it was trained with unpooling, so it starts blurred, but it starts as a photo).

    Content loss: the decoded image's relu4_1 against the AdaIN target; style loss: channel
    mean and std at relu1_1 ... relu4_1 against the style image's (weights 1 and 10 × the
    multipliers). Crops of `size` px from images whose short side is `size` × U(scale_jitter).
    """
    for value, what in ((content_weight, "content weight"), (style_weight, "style weight")):
        non_negative(value, what)
    kw = _common_kw(steps, batch_size, size, lr, lr_decay, scale_jitter, checkpoint_every, resume,
                    preview_every, seed, device, dtype, workers, callback, minutes)
    opt = Settings.make(check_model_path(output), multiple=AdaINNet.multiple, **kw)
    photos, paintings = photos_and_paintings(content, styles)
    seed = opt.resolve_seed()
    augment = opt.augment()
    pairs = Unpaired(Batches(photos, augment, opt.batch_size, seed, stream=0, workers=opt.workers),
                     Batches(paintings, augment, opt.batch_size, seed, stream=1, workers=opt.workers))

    torch.manual_seed(seed)
    net = AdaINNet()
    if init is not None and not opt.resume:
        init_decoder(net, init)
    cw, sw = ADAIN_CONTENT * content_weight, ADAIN_STYLE * style_weight
    preview_photo = _preview_content(photos, opt.size)
    preview_style = _preview_content(paintings, opt.size)
    config = {"data_path": str(photos.root), "style_path": str(paintings.root), "data_size": opt.size,
              "batch_size": opt.batch_size, "lr": opt.lr, "lr_decay": opt.lr_decay,
              "scale_jitter": list(opt.scale_jitter), "content_layer": "relu4_1", "style_layers": list(ADAIN_TAPS),
              "style_loss": "channel mean and std", "init": None if init is None else str(init),
              "loss_weights": {"content": cw, "style": sw}}
    styles_card = [{"name": f"{paintings.root.name} ({len(paintings)} images)",
                    "thumbnail": thumbnail(preview_style)}]
    data_cards = {"data": _data_card(photos, augment), "style_data": _data_card(paintings, augment)}
    recipe = AdaINRecipe(net, pairs, opt, (cw, sw), (preview_photo, preview_style), config, styles_card, data_cards)
    return fit_recipe(recipe, opt, seed)
