"""Training translation networks: `train_pix2pix` (paired), `train_cyclegan` and `train_cut` (unpaired).

Each validates its options before any network is built, loads its folders, builds its recipe
(recipes.py) and hands it to `training.fit`: deterministic batches, checkpoints `<out>.ckpt` with
exact resume, previews, progress with every loss, the `.bw` file with its card. The defaults are
the papers' (256 px crops, 64 filters, batch 1); a CPU wants smaller: e.g. `ngf=16, size=128`.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import torch

from ..errors import InputError
from ..image import fit, load_image, resize
from ..progress import Callback
from ..training import (Batches, ImageFolder, PairedFolder, Settings, Unpaired, fit as fit_recipe, non_negative,
                        positive_int)
from ..feedforward.modelfile import check_model_path
from .losses import GAN_MODES
from .model import DIRECTIONS, TranslationModel
from .networks import UPSAMPLES, PatchDiscriminator, ResnetGenerator, UnetGenerator
from .recipes import CUTRecipe, CycleGANRecipe, Pix2PixRecipe

__all__ = ["train_cut", "train_cyclegan", "train_pix2pix"]

RESNET_ARCHS = {"resnet6": 6, "resnet9": 9}


def _settings(output: str | os.PathLike, multiple: int, kw: dict[str, Any]) -> Settings:
    return Settings.make(check_model_path(output), lr_decay=0.0, multiple=multiple, **kw)


def _domain(path: str | os.PathLike, what: str) -> ImageFolder:
    folder = ImageFolder(path, what)
    if len(folder) < 2:
        raise InputError(f"{folder.root}: the {what} domain has one image; a domain needs at least two")
    return folder


def _shrunk(img: torch.Tensor, size: int) -> torch.Tensor:
    return resize(img, fit(img.shape[-2:], size))


def _data_card(folder: Any, settings: Settings) -> dict[str, Any]:
    return {**folder.describe(), "augmentation": settings.augment().describe()}


def _check_common(ngf: int, ndf: int) -> None:
    positive_int(ngf, "generator width (ngf)")
    positive_int(ndf, "discriminator width (ndf)")


def train_pix2pix(data: str | os.PathLike, output: str | os.PathLike, *, direction: str = "AtoB",
                  steps: int = 20_000, batch_size: int = 1, size: int = 256, ngf: int = 64, ndf: int = 64,
                  downs: int | None = None, l1_weight: float = 100.0, gan_weight: float = 1.0,
                  gan_mode: str = "vanilla", upsample: str = "transposed", vgg_weight: float = 0.0,
                  augment: bool = False, holdout: int = 0, more_pairs: str | os.PathLike | None = None,
                  lr: float = 2e-4,
                  scale_jitter: Sequence[float] = (1.0, 1.12),
                  checkpoint_every: int | None = 1000, resume: bool = False, preview_every: int | None = None,
                  seed: int | None = None, device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                  workers: int | None = None, callback: Callback | None = None,
                  minutes: float | None = None) -> TranslationModel:
    """Train pix2pix (Isola et al. 2017) on `data`/A and `data`/B (same names and sizes), A -> B
    (or B -> A with `direction="BtoA"`), and save it to `output` (.bw).

    The U-Net has `downs` levels (default: log2(size), so the innermost map is 1x1 at the crop
    size: 8 for 256 px, 7 for 128); the discriminator is the 70x70 PatchGAN on (input, output).
    `l1_weight` is λ (100); `gan_weight` 0 trains the plain L1 U-Net (the paper's baseline: no
    discriminator); `gan_mode` "vanilla" (BCE, the paper's) or "lsgan"; `upsample` "transposed"
    (the paper's) or "resize" (nearest doubling + conv: no checkerboard); `vgg_weight` adds
    pix2pixHD's VGG-19 feature loss to the true image (0: the paper's pix2pix); `augment` shows
    the discriminator DiffAugmented pairs (Zhao et al. 2020), which keeps it from memorising a
    few hundred photos within a few hundred steps. `holdout` keeps
    the last N pairs (by name) out of training: the card lists them, the preview shows the first.
    `more_pairs` is a second folder of A/ and B/ pairs (e.g. edge maps made from more photos) that
    is only trained on, never held out.
    The learning rate is constant for half the steps, then falls linearly to zero.
    """
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be AtoB or BtoA, not {direction!r}")
    if gan_mode not in GAN_MODES:
        raise InputError(f"GAN loss must be one of {', '.join(GAN_MODES)}, not {gan_mode!r}")
    if upsample not in UPSAMPLES:
        raise InputError(f"upsampling must be one of {', '.join(UPSAMPLES)}, not {upsample!r}")
    non_negative(l1_weight, "L1 weight")
    non_negative(gan_weight, "GAN weight")
    non_negative(vgg_weight, "VGG weight")
    _check_common(ngf, ndf)
    positive_int(holdout, "held-out pairs", 0)
    levels = downs if downs is not None else max(5, size.bit_length() - 1) if isinstance(size, int) else 8
    positive_int(levels, "U-Net levels", 5)
    kw = dict(steps=steps, batch_size=batch_size, size=size, lr=lr, scale_jitter=scale_jitter,
              checkpoint_every=checkpoint_every, resume=resume, preview_every=preview_every, seed=seed,
              device=device, dtype=dtype, workers=workers, callback=callback, minutes=minutes)
    opt = _settings(output, 2**levels, kw)
    folder = PairedFolder(data, holdout=holdout)
    if more_pairs is not None:
        folder = folder.joined(PairedFolder(more_pairs, "more pairs"))
    seed_ = opt.resolve_seed()
    batches = Batches(folder, opt.augment(), opt.batch_size, seed_, workers=opt.workers)
    pair = _shrunk(torch.cat([load_image(p) for p in (folder.held_out or folder.pairs)[0]], 1), opt.size * 2)
    torch.manual_seed(seed_)
    g = UnetGenerator(ngf, levels, upsample=upsample)
    d = PatchDiscriminator(6, ndf)
    config = {"data_path": str(folder.root), "direction": direction, "data_size": opt.size,
              "batch_size": opt.batch_size, "lr": opt.lr, "lr_schedule": "constant, then linear to 0 from half-way",
              "scale_jitter": list(opt.scale_jitter), "gan_mode": gan_mode, "holdout": holdout,
              "loss_weights": {"gan": gan_weight, "l1": l1_weight, "vgg": vgg_weight}, "ngf": ngf, "ndf": ndf,
              "discriminator": "PatchGAN 70x70, conditional (input, output)"
                               + (", DiffAugment (colour, translation, cutout)" if augment else "")}
    recipe = Pix2PixRecipe(g, d, batches, opt.steps, opt.lr, seed_, opt.device, opt.dtype, l1_weight, gan_weight,
                           gan_mode, direction == "BtoA", vgg_weight, augment, (pair[:, :3], pair[:, 3:]), config,
                           {"data": _data_card(folder, opt)})
    return fit_recipe(recipe, opt, seed_)


def _unpaired(a: str | os.PathLike, b: str | os.PathLike, opt: Settings, seed: int
              ) -> tuple[ImageFolder, ImageFolder, Unpaired]:
    fa, fb = _domain(a, "A"), _domain(b, "B")
    augment = opt.augment()
    return fa, fb, Unpaired(Batches(fa, augment, opt.batch_size, seed, stream=0, workers=opt.workers),
                            Batches(fb, augment, opt.batch_size, seed, stream=1, workers=opt.workers))


def _resnet(arch: str, ngf: int) -> ResnetGenerator:
    if arch not in RESNET_ARCHS:
        raise InputError(f"generator must be one of {', '.join(RESNET_ARCHS)}, not {arch!r}")
    return ResnetGenerator(ngf, RESNET_ARCHS[arch])


def train_cyclegan(a: str | os.PathLike, b: str | os.PathLike, output: str | os.PathLike, *,
                   steps: int = 20_000, batch_size: int = 1, size: int = 256, generator: str = "resnet9",
                   ngf: int = 64, ndf: int = 64, cycle_weight: float = 10.0, identity_weight: float = 0.5,
                   pool_size: int = 50, lr: float = 2e-4, scale_jitter: Sequence[float] = (1.0, 1.12),
                   checkpoint_every: int | None = 1000, resume: bool = False, preview_every: int | None = None,
                   seed: int | None = None, device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                   workers: int | None = None, callback: Callback | None = None,
                   minutes: float | None = None) -> TranslationModel:
    """Train CycleGAN (Zhu et al. 2017) between the image folders `a` and `b`: both directions,
    saved in one `.bw` (translate with direction AtoB or BtoA).

    ResNet generators (`generator` resnet9 for 256 px, resnet6 for 128), PatchGAN discriminators,
    LSGAN, cycle loss λ = `cycle_weight` (10), identity `identity_weight`·λ (0.5; 0 = off), a
    history pool of `pool_size` (50) generated images per discriminator.
    """
    for value, what in ((cycle_weight, "cycle weight"), (identity_weight, "identity weight")):
        non_negative(value, what)
    positive_int(pool_size, "pool size", 0)
    _check_common(ngf, ndf)
    _resnet(generator, ngf)
    kw = dict(steps=steps, batch_size=batch_size, size=size, lr=lr, scale_jitter=scale_jitter,
              checkpoint_every=checkpoint_every, resume=resume, preview_every=preview_every, seed=seed,
              device=device, dtype=dtype, workers=workers, callback=callback, minutes=minutes)
    opt = _settings(output, ResnetGenerator.multiple, kw)
    seed_ = opt.resolve_seed()
    fa, fb, data = _unpaired(a, b, opt, seed_)
    torch.manual_seed(seed_)
    g_a, g_b = _resnet(generator, ngf), _resnet(generator, ngf)
    d_a, d_b = PatchDiscriminator(3, ndf), PatchDiscriminator(3, ndf)
    config = {"a_path": str(fa.root), "b_path": str(fb.root), "generator": generator, "ngf": ngf, "ndf": ndf,
              "data_size": opt.size, "batch_size": opt.batch_size, "lr": opt.lr,
              "lr_schedule": "constant, then linear to 0 from half-way", "scale_jitter": list(opt.scale_jitter),
              "gan_mode": "lsgan", "pool_size": pool_size,
              "loss_weights": {"gan": 1.0, "cycle": cycle_weight, "identity": identity_weight * cycle_weight}}
    recipe = CycleGANRecipe(g_a, g_b, d_a, d_b, data, opt.steps, opt.lr, seed_, opt.device, opt.dtype,
                            cycle_weight, identity_weight, pool_size, (_shrunk(fa.load(0), opt.size * 2),
                                                                       _shrunk(fb.load(0), opt.size * 2)),
                            config, {"data": _data_card(fa, opt), "b_data": _data_card(fb, opt)})
    return fit_recipe(recipe, opt, seed_)


def train_cut(a: str | os.PathLike, b: str | os.PathLike, output: str | os.PathLike, *,
              fast: bool = False, steps: int = 20_000, batch_size: int = 1, size: int = 256,
              generator: str = "resnet9", ngf: int = 64, ndf: int = 64, nce_weight: float | None = None,
              patches: int = 256, temperature: float = 0.07, lr: float = 2e-4,
              scale_jitter: Sequence[float] = (1.0, 1.12), checkpoint_every: int | None = 1000,
              resume: bool = False, preview_every: int | None = None, seed: int | None = None,
              device: str | torch.device = "auto", dtype: str | torch.dtype = "auto", workers: int | None = None,
              callback: Callback | None = None, minutes: float | None = None) -> TranslationModel:
    """Train CUT (Park et al. 2020), one way, `a` -> `b`: one generator, one discriminator and
    PatchNCE; cheaper than CycleGAN (no second generator or cycle pass).

    `fast` is FastCUT: no identity NCE on B, λ_NCE 10 (CUT: identity NCE, λ_NCE 1);
    `nce_weight` overrides λ_NCE. `patches` per layer (256) and `temperature` τ (0.07).
    """
    _check_common(ngf, ndf)
    positive_int(patches, "patches", 2)
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise InputError(f"temperature must be positive, not {temperature!r}")
    nce = (10.0 if fast else 1.0) if nce_weight is None else non_negative(nce_weight, "NCE weight")
    _resnet(generator, ngf)
    kw = dict(steps=steps, batch_size=batch_size, size=size, lr=lr, scale_jitter=scale_jitter,
              checkpoint_every=checkpoint_every, resume=resume, preview_every=preview_every, seed=seed,
              device=device, dtype=dtype, workers=workers, callback=callback, minutes=minutes)
    opt = _settings(output, ResnetGenerator.multiple, kw)
    seed_ = opt.resolve_seed()
    fa, fb, data = _unpaired(a, b, opt, seed_)
    torch.manual_seed(seed_)
    g, d = _resnet(generator, ngf), PatchDiscriminator(3, ndf)
    config = {"a_path": str(fa.root), "b_path": str(fb.root), "variant": "FastCUT" if fast else "CUT",
              "generator": generator, "ngf": ngf, "ndf": ndf, "data_size": opt.size, "batch_size": opt.batch_size,
              "lr": opt.lr, "lr_schedule": "constant, then linear to 0 from half-way",
              "scale_jitter": list(opt.scale_jitter), "gan_mode": "lsgan", "patches": patches,
              "temperature": temperature, "nce_layers": list(g.nce_layers()),
              "loss_weights": {"gan": 1.0, "nce": nce}, "nce_identity": not fast}
    recipe = CUTRecipe(g, d, data, opt.steps, opt.lr, seed_, opt.device, opt.dtype, nce, not fast, patches,
                       temperature, _shrunk(fa.load(0), opt.size * 2), config,
                       {"data": _data_card(fa, opt), "b_data": _data_card(fb, opt)})
    return fit_recipe(recipe, opt, seed_)
