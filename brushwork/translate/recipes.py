"""Training recipes for image-to-image translation (run by `training.fit`).

- `Pix2PixRecipe` (Isola et al. 2017): a U-Net G and a conditional PatchGAN D on (A, B) pairs;
  D: BCE on (A, B) real and (A, G(A)) fake, halved; G: fool D + λ·L1 to B (λ 100). With GAN
  weight 0 it is the plain L1-trained U-Net (no discriminator at all): the paper's baseline.
  Options for small sets: pix2pixHD's VGG-19 feature loss to B, and DiffAugment on every pair D
  sees (real and fake alike, drawn per step so a resumed run draws the same).
- `CycleGANRecipe` (Zhu et al. 2017): G_A: A->B, G_B: B->A, D_A judges B, D_B judges A; LSGAN;
  cycle λ 10 each way, identity 0.5·λ; the discriminators learn from a pool of 50 past fakes.
- `CUTRecipe` (Park et al. 2020): one G, one D, PatchNCE between the input's and the output's
  encoder features (256 patches per layer, τ 0.07) through small MLP heads; with identity NCE
  on B (CUT) or without (FastCUT, λ_NCE 10).

All: Adam β = (0.5, 0.999); the learning rate is constant for the first half of the planned steps
and falls linearly to zero over the second. Images come in [0, 1] and are worked in [-1, 1].
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..training.data import BatchSource, step_generator
from ..training.precision import autocast
from ..feedforward.modelfile import load_model, make_card, save_model
from ..features.vgg import vgg19
from .losses import VGG_TAPS, ImagePool, diff_augment, gan_loss, patch_nce, vgg_loss
from .model import Translator
from .networks import PatchMLP, Unit, init_weights

BETAS = (0.5, 0.999)


def _adam(nets: list[nn.Module], lr: float) -> torch.optim.Adam:
    return torch.optim.Adam([p for n in nets for p in n.parameters()], lr=lr, betas=BETAS)


def linear_decay(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Constant for the first half of `steps`, then linearly to zero at `steps`."""
    half = steps // 2
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 1.0 - max(0, s - half) / max(1, steps - half))


def _grad(nets: list[nn.Module], on: bool) -> None:
    for n in nets:
        n.requires_grad_(on)


class _TranslationRecipe:
    """What the three recipes share: optimizers with their schedules, the product, the pools."""

    kind: str
    networks: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    data: BatchSource
    config: dict[str, Any]
    styles: list[dict[str, str]]
    data_cards: dict[str, dict[str, Any]]
    product = "translator"
    generators: dict[str, str]   # direction -> name in `networks`

    def _setup(self, networks: dict[str, nn.Module], groups: dict[str, list[str]], lr: float, steps: int,
               seed: int, device: torch.device, dtype: torch.dtype, gan_mode: str) -> None:
        for net in networks.values():
            init_weights(net)
        self.networks = networks
        self.optimizers = {name: _adam([networks[n] for n in members], lr) for name, members in groups.items()}
        self.schedulers = {name: linear_decay(o, steps) for name, o in self.optimizers.items()}
        self.seed, self.device, self.dtype, self.gan_mode = seed, device, dtype, gan_mode
        self.pools: dict[str, ImagePool] = {}

    def _step(self, name: str, loss: torch.Tensor) -> None:
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def _schedule(self) -> None:
        for s in self.schedulers.values():
            s.step()

    def _gan(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        return gan_loss(logits.float(), real, self.gan_mode)

    def save(self, path: Path, training: dict[str, Any], device: torch.device) -> Any:
        translator = Translator({d: self.networks[n] for d, n in self.generators.items()})
        save_model(translator, path, make_card(self.kind, translator, self.styles, training))
        return load_model(path, device)

    def extra_state(self) -> dict[str, Any]:
        return {k: p.state() for k, p in self.pools.items()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        for k, p in self.pools.items():
            if k in state:
                p.load(state[k], self.device)


class Pix2PixRecipe(_TranslationRecipe):
    kind = "pix2pix"
    generators = {"AtoB": "G"}

    def __init__(self, g: nn.Module, d: nn.Module, data: BatchSource, steps: int, lr: float, seed: int,
                 device: torch.device, dtype: torch.dtype, l1_weight: float, gan_weight: float, gan_mode: str,
                 reverse: bool, vgg_weight: float, augment: bool,
                 preview: tuple[torch.Tensor, torch.Tensor], config: dict[str, Any],
                 data_cards: dict[str, dict[str, Any]]):
        gan = gan_weight > 0  # without the GAN term there is no discriminator
        self._setup({"G": g, "D": d} if gan else {"G": g}, {"G": ["G"], "D": ["D"]} if gan else {"G": ["G"]},
                    lr, steps, seed, device, dtype, gan_mode)
        self.data, self.config, self.styles, self.data_cards = data, config, [], data_cards
        self.l1_weight, self.gan_weight, self.reverse, self.preview_pair = l1_weight, gan_weight, reverse, preview
        self.vgg_weight, self.augment = vgg_weight, augment
        self.vgg = vgg19(VGG_TAPS, device=device) if vgg_weight > 0 else None

    def _judge(self, d: nn.Module, a: torch.Tensor, b: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """D's logits on the pair (a, b), DiffAugmented (colour on b only) when the recipe augments."""
        pair = torch.cat([a, b], 1)
        return d(diff_augment(pair, g, slice(3, 6)) if self.augment else pair)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        a, b = (batch[1], batch[0]) if self.reverse else batch
        a, b = a * 2 - 1, b * 2 - 1
        g, d = self.networks["G"], self.networks.get("D")
        out: dict[str, torch.Tensor] = {}
        rng = step_generator(self.seed, step, 7)
        with autocast(self.device, self.dtype):
            fake = g(a)
            if d is not None:
                out["D"] = 0.5 * (self._gan(self._judge(d, a, fake.detach(), rng), False)
                                  + self._gan(self._judge(d, a, b, rng), True))
        if d is not None:
            self._step("D", out["D"])
            _grad([d], False)
        with autocast(self.device, self.dtype):
            losses = {"L1": self.l1_weight * F.l1_loss(fake.float(), b)}
            if self.vgg is not None:
                losses["VGG"] = self.vgg_weight * vgg_loss(self.vgg, fake, b)
            if d is not None:
                losses["G_gan"] = self.gan_weight * self._gan(self._judge(d, a, fake, rng), True)
        self._step("G", sum(losses.values()))
        if d is not None:
            _grad([d], True)
        self._schedule()
        return {k: float(v.detach()) for k, v in {**out, **losses}.items()}

    def preview(self) -> torch.Tensor:
        a, b = self.preview_pair
        a, b = (b, a) if self.reverse else (a, b)
        a, b = a.to(self.device), b.to(self.device)
        return torch.cat([a, Unit(self.networks["G"])(a), b], dim=-1)


class CycleGANRecipe(_TranslationRecipe):
    kind = "cyclegan"
    generators = {"AtoB": "G_A", "BtoA": "G_B"}

    def __init__(self, g_a: nn.Module, g_b: nn.Module, d_a: nn.Module, d_b: nn.Module, data: BatchSource,
                 steps: int, lr: float, seed: int, device: torch.device, dtype: torch.dtype, cycle_weight: float,
                 identity_weight: float, pool_size: int, preview: tuple[torch.Tensor, torch.Tensor],
                 config: dict[str, Any], data_cards: dict[str, dict[str, Any]]):
        self._setup({"G_A": g_a, "G_B": g_b, "D_A": d_a, "D_B": d_b}, {"G": ["G_A", "G_B"], "D": ["D_A", "D_B"]},
                    lr, steps, seed, device, dtype, "lsgan")
        self.data, self.config, self.styles, self.data_cards = data, config, [], data_cards
        self.cycle_weight, self.identity_weight = cycle_weight, identity_weight
        self.pools = {"A": ImagePool(pool_size), "B": ImagePool(pool_size)}
        self.preview_pair = preview

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        a, b = (x * 2 - 1 for x in batch)
        n = self.networks
        ds = [n["D_A"], n["D_B"]]
        lam = self.cycle_weight
        _grad(ds, False)
        with autocast(self.device, self.dtype):
            fake_b, fake_a = n["G_A"](a), n["G_B"](b)
            losses = {"G_A": self._gan(n["D_A"](fake_b), True), "G_B": self._gan(n["D_B"](fake_a), True),
                      "cycle_A": lam * F.l1_loss(n["G_B"](fake_b).float(), a),
                      "cycle_B": lam * F.l1_loss(n["G_A"](fake_a).float(), b)}
            if self.identity_weight > 0:
                losses["idt_A"] = lam * self.identity_weight * F.l1_loss(n["G_A"](b).float(), b)
                losses["idt_B"] = lam * self.identity_weight * F.l1_loss(n["G_B"](a).float(), a)
        self._step("G", sum(losses.values()))
        _grad(ds, True)
        g = step_generator(self.seed, step, 5)
        pooled_b, pooled_a = self.pools["B"].query(fake_b, g), self.pools["A"].query(fake_a, g)
        with autocast(self.device, self.dtype):
            loss_da = 0.5 * (self._gan(n["D_A"](b), True) + self._gan(n["D_A"](pooled_b), False))
            loss_db = 0.5 * (self._gan(n["D_B"](a), True) + self._gan(n["D_B"](pooled_a), False))
        self._step("D", loss_da + loss_db)
        self._schedule()
        return {**{k: float(v.detach()) for k, v in losses.items()}, "D_A": float(loss_da.detach()),
                "D_B": float(loss_db.detach())}

    def preview(self) -> torch.Tensor:
        a, b = (x.to(self.device) for x in self.preview_pair)
        h = min(a.shape[-2], b.shape[-2])
        a, b = a[..., :h, :], b[..., :h, :]
        return torch.cat([a, Unit(self.networks["G_A"])(a), b, Unit(self.networks["G_B"])(b)], dim=-1)


class CUTRecipe(_TranslationRecipe):
    kind = "cut"
    generators = {"AtoB": "G"}

    def __init__(self, g: nn.Module, d: nn.Module, data: BatchSource, steps: int, lr: float, seed: int,
                 device: torch.device, dtype: torch.dtype, nce_weight: float, nce_identity: bool, patches: int,
                 temperature: float, preview: torch.Tensor, config: dict[str, Any],
                 data_cards: dict[str, dict[str, Any]]):
        self.layers = g.nce_layers()
        mlp = PatchMLP(g.layer_channels(self.layers))
        self._setup({"G": g, "D": d, "F": mlp}, {"G": ["G"], "D": ["D"], "F": ["F"]}, lr, steps, seed, device,
                    dtype, "lsgan")
        self.data, self.config, self.styles, self.data_cards = data, config, [], data_cards
        self.nce_weight, self.nce_identity = nce_weight, nce_identity
        self.patches, self.temperature, self.preview_photo = patches, temperature, preview

    def _nce(self, source: torch.Tensor, target: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        gen, mlp = self.networks["G"], self.networks["F"]
        k, ids = mlp(gen.encode(source, self.layers), self.patches, generator=g)
        q, _ = mlp(gen.encode(target, self.layers), self.patches, ids)
        n = len(source)
        return sum(patch_nce(qi.float(), ki.float(), n, self.temperature) for qi, ki in zip(q, k)) / len(q)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        a, b = (x * 2 - 1 for x in batch)
        gen, d = self.networks["G"], self.networks["D"]
        with autocast(self.device, self.dtype):
            out = gen(torch.cat([a, b]) if self.nce_identity else a)
            fake = out[:len(a)]
            loss_d = 0.5 * (self._gan(d(fake.detach()), False) + self._gan(d(b), True))
        self._step("D", loss_d)
        _grad([d], False)
        g = step_generator(self.seed, step, 6)
        with autocast(self.device, self.dtype):
            losses = {"G_gan": self._gan(d(fake), True), "NCE": self.nce_weight * self._nce(a, fake, g)}
            if self.nce_identity:
                losses["NCE_idt"] = self.nce_weight * self._nce(b, out[len(a):], g)
        total = losses["G_gan"] + (0.5 * (losses["NCE"] + losses["NCE_idt"]) if self.nce_identity
                                   else losses["NCE"])
        for name in ("G", "F"):
            self.optimizers[name].zero_grad(set_to_none=True)
        total.backward()
        for name in ("G", "F"):
            self.optimizers[name].step()
        _grad([d], True)
        self._schedule()
        return {"D": float(loss_d.detach()), **{k: float(v.detach()) for k, v in losses.items()}}

    def preview(self) -> torch.Tensor:
        a = self.preview_photo.to(self.device)
        return torch.cat([a, Unit(self.networks["G"])(a)], dim=-1)
