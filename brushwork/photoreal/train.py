"""Training PhotoWCT's decoders: `train_photowct`, on photos, with the project's training loop.

All four decoders learn in one run from the same crops (the encoder pass to relu4_1 gives every
level's features and pool indices at once): each reconstructs the photo from its tap, with a
pixel loss and a feature loss (the reconstruction's features at the same tap against the photo's,
divided by the tap's typical activation), as in Li et al. 2018. Decoders with unpooling learn
quickly: a CPU run of an hour gives usable ones (see the card's PSNR on held-out photos).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..feedforward.modelfile import check_model_path, load_model, make_card, save_model
from ..features.vgg import FEATURE_SCALE, vgg19
from ..image import fit, load_image, resize
from ..metrics import psnr
from ..progress import Callback
from ..feedforward.recipes import OneAdam
from ..training import Batches, ImageFolder, Settings, autocast, data_dir, fit as fit_recipe, non_negative
from ..training.data import BatchSource
from .decoders import LEVELS, PhotoWCTDecoders, PhotoWCTModel

LR_SCALE = {"relu1_1": 0.05}  # see PhotoWCTRecipe; it starts at its least-squares fit
# The held-out photos' PSNR is measured at this long side (and the preview shows the first).
EVAL_SIDE = 256


class PhotoWCTRecipe(OneAdam):
    """The four decoders behind the frozen VGG-19, one Adam over all of them."""

    kind = "photowct"

    def __init__(self, net: PhotoWCTDecoders, data: BatchSource, settings: Settings, feature_weight: float,
                 held_out: list[torch.Tensor], config: dict[str, Any], data_cards: dict[str, dict[str, Any]]):
        self.data, self.config, self.data_cards = data, config, data_cards
        self.styles: list[dict[str, str]] = []
        self.lr, self.lr_decay = settings.lr, settings.lr_decay
        self.device, self.dtype = settings.device, settings.dtype
        self.networks = {"net": net}
        # relu1_1's decoder is one convolution from 64 large, unbounded activations: at the
        # others' rate each step moves its output by more than the error it corrects
        groups = [{"params": list(net.decoders[tap].parameters()), "lr_scale": LR_SCALE.get(tap, 1.0)}
                  for tap in LEVELS]
        self.optimizers = {"adam": torch.optim.Adam(groups, lr=settings.lr)}
        self.schedulers: dict[str, Any] = {}
        self.feature_weight = feature_weight
        self.held_out = held_out

    def train_step(self, x: torch.Tensor, step: int) -> dict[str, float]:
        net = self.networks["net"]
        losses: dict[str, torch.Tensor] = {}
        with autocast(self.device, self.dtype):
            with torch.no_grad():
                feats, pools = vgg19(LEVELS, device=self.device).forward_with_indices(x)
            for tap in LEVELS:
                out = net.decode(feats[tap], pools, tap)
                again = vgg19((tap,), device=self.device)(out)[tap]
                scale = FEATURE_SCALE[tap]
                losses[f"pixel{tap[4]}"] = F.mse_loss(out.float(), x.float())
                losses[f"feature{tap[4]}"] = self.feature_weight * F.mse_loss(again.float() / scale,
                                                                             feats[tap].float() / scale)
        return self._update(losses, step)

    def preview(self) -> torch.Tensor:
        """The first held-out photo and its reconstruction from each level, side by side."""
        x = self.held_out[0].to(self.device)
        net = self.networks["net"]
        return torch.cat([x] + [net(x, tap).float().clamp(0, 1) for tap in LEVELS], dim=-1)

    def held_out_psnr(self) -> dict[str, float]:
        """Mean PSNR (dB) of each level's reconstruction of the held-out photos."""
        net = self.networks["net"].eval()
        out = {}
        with torch.no_grad():
            for tap in LEVELS:
                values = [psnr(net(x.to(self.device), tap).float().clamp(0, 1).cpu(), x) for x in self.held_out]
                out[tap] = round(sum(values) / len(values), 2)
        return out

    def save(self, path: Path, training: dict[str, Any], device: torch.device) -> PhotoWCTModel:
        net = self.networks["net"]
        training = {**training, "held_out_psnr_db": self.held_out_psnr(), "psnr_side": EVAL_SIDE}
        save_model(net, path, make_card(self.kind, net, [], training))
        model = load_model(path, device)
        assert isinstance(model, PhotoWCTModel)
        return model



@torch.no_grad()
def fit_first_decoder(net: PhotoWCTDecoders, photos: torch.Tensor, ridge: float = 1e-3) -> None:
    """Start relu1_1's decoder (one 3x3 convolution) at its least-squares fit to `photos`
    (N, 3, H, W): Adam from a random start takes thousands of steps to find this linear map."""
    tap = LEVELS[0]
    feats, pools = net.encode(photos, tap)
    conv = net.decoders[tap].convs[0]
    padded = conv[0](feats / FEATURE_SCALE[tap])                       # the layer's own padding
    x = F.unfold(padded.double(), 3).transpose(1, 2).reshape(-1, padded.shape[1] * 9)
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    y = photos.double().flatten(2).transpose(1, 2).reshape(-1, 3)
    gram_ = x.T @ x
    w = torch.linalg.solve(gram_ + ridge * gram_.diagonal().mean() * torch.eye(len(gram_), dtype=x.dtype), x.T @ y)
    conv[1].weight.copy_(w[:-1].T.reshape(conv[1].weight.shape))
    conv[1].bias.copy_(w[-1])


def train_photowct(output: str | os.PathLike, data: str | os.PathLike | None = None, *,
                   steps: int = 4000, batch_size: int = 2, size: int = 192, feature_weight: float = 0.1,
                   holdout: int = 24, lr: float = 1e-3, lr_decay: float = 2e-4,
                   scale_jitter: Sequence[float] = (1.0, 1.5), checkpoint_every: int | None = 250,
                   resume: bool = False, preview_every: int | None = None, seed: int | None = None,
                   device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                   workers: int | None = None, callback: Callback | None = None,
                   minutes: float | None = None) -> PhotoWCTModel:
    """Train PhotoWCT's four decoders on the photos in `data` (default $BRUSHWORK_DATA/photos),
    `holdout` of them kept out to measure each level's reconstruction PSNR for the card.

    Loss per level: pixel MSE + `feature_weight` × MSE of the reconstruction's features at the
    level's tap (divided by the tap's typical activation). The defaults train in about an hour
    on one core of a CPU with bf16.
    """
    non_negative(feature_weight, "feature weight")
    opt = Settings.make(check_model_path(output), steps=steps, batch_size=batch_size, size=size, lr=lr,
                        lr_decay=lr_decay, scale_jitter=scale_jitter, checkpoint_every=checkpoint_every,
                        resume=resume, preview_every=preview_every, seed=seed, device=device, dtype=dtype,
                        workers=workers, callback=callback, minutes=minutes, multiple=PhotoWCTDecoders.multiple)
    folder = ImageFolder(data if data is not None else data_dir("photos"), "data", holdout=max(1, holdout))
    seed = opt.resolve_seed()
    augment = opt.augment()
    batches = Batches(folder, augment, opt.batch_size, seed, workers=opt.workers)
    held_out = []
    for f in folder.held_out:
        img = load_image(f)
        held_out.append(resize(img, fit(img.shape[-2:], EVAL_SIDE)))
    torch.manual_seed(seed)
    net = PhotoWCTDecoders()
    fit_first_decoder(net, torch.cat([batches[-1 - i] for i in range(4)]))
    config = {"data_size": opt.size, "batch_size": opt.batch_size, "lr": opt.lr, "lr_decay": opt.lr_decay,
              "scale_jitter": list(opt.scale_jitter), "levels": list(LEVELS),
              "loss": "pixel MSE + feature MSE at the level's tap (features / typical activation)",
              "loss_weights": {"pixel": 1.0, "feature": feature_weight}}
    data_card = {**folder.describe(), "augmentation": augment.describe()}
    recipe = PhotoWCTRecipe(net, batches, opt, feature_weight, held_out, config, {"data": data_card})
    return fit_recipe(recipe, opt, seed)
