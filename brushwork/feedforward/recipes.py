"""Training recipes for our feed-forward networks (run by `training.fit`).

- `PerceptualRecipe`: Johnson et al. 2016 (one style) and Dumoulin et al. 2017 (N styles,
  conditional instance norm): content at relu2_2, Gram matrices at relu1_1 ... relu4_1, a little
  total variation; Adam.
- `AdaINRecipe`: the AdaIN decoder (Huang & Belongie 2017): content loss at relu4_1 against the
  AdaIN target, mean/std style loss at relu1_1 ... relu4_1; Adam with inverse decay.

Losses are on features divided by their tap's typical activation (`networks.FEATURE_SCALE`);
the division is applied to the small statistics (Gram matrices, means, stds, the MSE) rather
than to the full feature maps, which is the same loss for less work.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..features import vgg19
from ..features.stats import adain, gram
from ..losses import TVLoss
from ..training.data import BatchSource, step_generator
from ..training.loop import Settings, inverse_decay
from ..training.precision import autocast
from .modelfile import TrainedModel, load_model, make_card, save_model
from .networks import ADAIN_TAPS, FEATURE_SCALE, AdaINNet, TransformerNet


def _scaled_mean_std(feat: torch.Tensor, scale: float, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """`features.stats.mean_std(feat / scale)` without dividing the whole map."""
    var, mean = torch.var_mean(feat.float(), dim=(2, 3), keepdim=True, correction=0)
    return mean / scale, (var / scale**2 + eps).sqrt()


class OneAdam:
    """The single-network recipes' optimizer part: one Adam over the trainable parameters."""

    networks: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    product = "net"

    def _adam(self, net: nn.Module, lr: float) -> None:
        self.networks = {"net": net}
        self.optimizers = {"adam": torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)}
        self.schedulers = {}

    def _update(self, losses: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        adam = self.optimizers["adam"]
        inverse_decay(adam, self.lr, self.lr_decay, step)
        adam.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        adam.step()
        return {k: float(v.detach()) for k, v in losses.items()}

    def save(self, path: Path, training: dict[str, Any], device: torch.device) -> TrainedModel:
        net = self.networks[self.product]
        save_model(net, path, make_card(self.kind, net, self.styles, training))
        return load_model(path, device)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass


class PerceptualRecipe(OneAdam):
    """One network for one (`kind` "fast") or several ("multistyle") styles, trained on photos."""

    def __init__(self, kind: str, net: TransformerNet, style_images: Sequence[torch.Tensor], data: BatchSource,
                 settings: Settings, seed: int, weights: tuple[float, float, float], content_layer: str,
                 style_layers: Sequence[str], preview_photo: torch.Tensor, config: dict[str, Any],
                 styles: list[dict[str, str]], data_cards: dict[str, dict[str, Any]]):
        self.kind, self.data, self.config, self.styles, self.data_cards = kind, data, config, styles, data_cards
        self.lr, self.lr_decay = settings.lr, settings.lr_decay
        self.device, self.dtype, self.seed = settings.device, settings.dtype, seed
        self._adam(net, settings.lr)
        self.n = len(style_images)
        self.content_layer, self.style_layers = content_layer, tuple(style_layers)
        self.vgg = vgg19(tuple(dict.fromkeys([content_layer, *style_layers])), device=self.device)
        self.vgg_content = vgg19((content_layer,), device=self.device)
        with torch.no_grad():
            feats = [self.vgg(s.to(self.device)) for s in style_images]
            self.targets = {t: torch.cat([gram(f[t].float() / FEATURE_SCALE[t]) for f in feats])
                            for t in style_layers}
        cw, sw, tw = weights
        self.content_weight = cw / FEATURE_SCALE[content_layer] ** 2
        self.style_weight = sw  # per layer
        self.tv = TVLoss(tw) if tw > 0 else None
        self.preview_photo = preview_photo

    def train_step(self, x: torch.Tensor, step: int) -> dict[str, float]:
        net, cl = self.networks["net"], self.content_layer
        with autocast(self.device, self.dtype):
            if self.n > 1:
                idx = torch.randint(self.n, (x.shape[0],), generator=step_generator(self.seed, step, 9)).to(self.device)
                y = net(x, F.one_hot(idx, self.n).float())
            else:
                idx = torch.zeros(x.shape[0], dtype=torch.long, device=self.device)
                y = net(x)
            fy = self.vgg(y)
            with torch.no_grad():
                fx = self.vgg_content(x)[cl]
            losses = {"content": self.content_weight * F.mse_loss(fy[cl].float(), fx.float())}
            losses["style"] = self.style_weight * sum(
                F.mse_loss(gram(fy[t]) / FEATURE_SCALE[t] ** 2, self.targets[t][idx]) for t in self.style_layers)
            if self.tv is not None:
                losses["tv"] = self.tv(y.float(), {})
        return self._update(losses, step)

    def preview(self) -> torch.Tensor:
        net, x = self.networks["net"], self.preview_photo.to(self.device)
        if self.n == 1:
            return net(x)
        return torch.cat([net(x, F.one_hot(torch.tensor(i), self.n).float()) for i in range(min(self.n, 8))],
                         dim=-1)


class AdaINRecipe(OneAdam):
    """An AdaIN decoder behind the frozen VGG-19 encoder, trained on (photo, painting) batches."""

    kind = "adain"

    def __init__(self, net: AdaINNet, data: BatchSource, settings: Settings, weights: tuple[float, float],
                 preview: tuple[torch.Tensor, torch.Tensor], config: dict[str, Any], styles: list[dict[str, str]],
                 data_cards: dict[str, dict[str, Any]]):
        self.data, self.config, self.styles, self.data_cards = data, config, styles, data_cards
        self.lr, self.lr_decay = settings.lr, settings.lr_decay
        self.device, self.dtype = settings.device, settings.dtype
        self._adam(net, settings.lr)
        self.vgg = vgg19(ADAIN_TAPS, device=self.device)
        self.weights = weights
        self.preview_pair = preview

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        c, s = batch
        deep = "relu4_1"
        with autocast(self.device, self.dtype):
            with torch.no_grad():  # photos and paintings through the encoder in one pass
                f = self.vgg(torch.cat([c, s]))
                fc = f[deep][: len(c)].float() / FEATURE_SCALE[deep]
                style_stats = {t: _scaled_mean_std(v[len(c):], FEATURE_SCALE[t]) for t, v in f.items()}
                c_mean, c_std = _scaled_mean_std(fc, 1.0)
                target = adain(fc, c_mean, c_std, *style_stats[deep])
            g = self.vgg(self.networks["net"].decode(target))
            style = 0.0
            for t in ADAIN_TAPS:
                gm, gs = _scaled_mean_std(g[t], FEATURE_SCALE[t])
                sm, ss = style_stats[t]
                style = style + F.mse_loss(gm, sm) + F.mse_loss(gs, ss)
            content = F.mse_loss(g[deep].float() / FEATURE_SCALE[deep], target)
        cw, sw = self.weights
        return self._update({"content": cw * content, "style": sw * style}, step)

    def preview(self) -> torch.Tensor:
        photo, style = self.preview_pair
        return self.networks["net"](photo.to(self.device), style.to(self.device))
