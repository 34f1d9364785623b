"""Generators trained by the reference PyTorch implementation of pix2pix and CycleGAN, from
their state-dict files (`.pth`), as `TranslationModel`s.

Layouts read (the key names tell them apart; `arch` checks what was found):
- ResNet (`resnet_6blocks`, `resnet_9blocks`): `model.1.weight` (7x7 conv), `model.N.conv_block.K`
  residual blocks (K = 1, 5; 1, 6 with dropout); instance norm without parameters, or batch norm
  (`model.2.weight`, running statistics) with bias-free convs. A variant that names the blocks'
  Sequential `block` and uses affine instance norm (the vintagify wheel's) reads too.
- U-Net (`unet_128`, `unet_256`): nested `model.model.1.model.…` levels, batch norm by default.

Batch norm becomes instance norm with the same γ, β: the reference tests its generators in
training mode at batch size 1, where batch norm normalises with the image's own statistics;
the running averages are not used. Instance-norm running statistics that old versions saved
are dropped. Dropout is off (eval mode). Files are read with `torch.load(weights_only=True)`:
nothing is unpickled beyond tensors.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from .model import TranslationModel, Translator
from .networks import ResnetGenerator, UnetGenerator

ARCHS = {"resnet6": ("resnet", 6), "resnet9": ("resnet", 9), "unet128": ("unet", 7), "unet256": ("unet", 8)}
_STATS = ("running_mean", "running_var", "num_batches_tracked")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file" if not p.exists() else f"{p}: is a folder, not a checkpoint")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
        raise InputError(f"{p}: not a readable PyTorch state dict ({reason})") from None
    for key in ("state_dict", "model", "netG", "G"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{p}: not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _norm_kind(state: dict[str, torch.Tensor], prefix: str) -> str:
    return "affine" if f"{prefix}.weight" in state else "instance"


def resnet_from_state(state: dict[str, torch.Tensor], where: str) -> tuple[ResnetGenerator, dict[str, torch.Tensor]]:
    """Our ResNet generator shaped like the state dict, and the state dict in our names."""
    state = {re.sub(r"^(model\.\d+)\.block\.", r"\1.conv_block.", k): v for k, v in state.items()}
    blocks = sorted({int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    if "model.1.weight" not in state or not blocks:
        raise InputError(f"{where}: not a ResNet generator layout (no model.1.weight / conv_block keys)")
    first = state["model.1.weight"]
    ngf, cin = first.shape[0], first.shape[1]
    sixth = state.get(f"model.{blocks[0]}.conv_block.6.weight")
    dropout = sixth is not None and sixth.ndim == 4  # a conv there, not the second norm's γ
    last = max(int(k.split(".")[1]) for k in state if k.startswith("model."))
    net = ResnetGenerator(ngf, len(blocks), _norm_kind(state, "model.2"), "model.1.bias" in state, dropout,
                          cin, state[f"model.{last}.weight"].shape[0])
    return net, state


def unet_from_state(state: dict[str, torch.Tensor], where: str) -> tuple[UnetGenerator, dict[str, torch.Tensor]]:
    if "model.model.0.weight" not in state:
        raise InputError(f"{where}: not a U-Net generator layout (no model.model.0.weight)")
    levels, prefix = 1, "model.model.1.model."  # each level's inner level is its Sequential's item 3
    while any(k.startswith(prefix) for k in state):
        levels, prefix = levels + 1, prefix + "3.model."
    first = state["model.model.0.weight"]
    ngf, cin = first.shape[0], first.shape[1]
    out = state["model.model.3.weight"].shape[1]
    net = UnetGenerator(ngf, levels, _norm_kind(state, "model.model.1.model.2"), "model.model.1.model.1.bias" in state,
                        True, cin, out)
    return net, state


def load_reference(path: str | os.PathLike, arch: str | None = None, device: str | torch.device = "auto",
                   name: str | None = None) -> TranslationModel:
    """A reference generator (`.pth`) as a one-way `TranslationModel` (kind "cyclegan" for a ResNet,
    "pix2pix" for a U-Net); `arch` (resnet6, resnet9, unet128, unet256) must match the file."""
    if arch is not None and arch not in ARCHS:
        raise InputError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    p = Path(path)
    state = read_state_dict(p)
    state = {k: v for k, v in state.items() if not k.endswith(_STATS)}
    kind = "unet" if "model.model.0.weight" in state else "resnet" if "model.1.weight" in state else None
    if kind is None:
        raise InputError(f"{p}: an unknown layout (neither a ResNet nor a U-Net generator of the reference "
                         f"implementation; first key {next(iter(state))!r})")
    net, state = (unet_from_state if kind == "unet" else resnet_from_state)(state, str(p))
    depth = net.config["downs"] if kind == "unet" else net.config["blocks"]
    found = next((a for a, spec in ARCHS.items() if spec == (kind, depth)), f"{kind} of depth {depth}")
    if arch is not None and ARCHS[arch] != (kind, depth):
        raise InputError(f"{p}: a {found} generator, not {arch}")
    expected = net.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        raise InputError(f"{p}: an unknown layout ({len(missing)} weights missing, {len(extra)} unexpected, "
                         f"e.g. {(missing or extra)[0]})")
    for k, v in state.items():
        if v.shape != expected[k].shape:
            raise InputError(f"{p}: weight {k} has shape {tuple(v.shape)}, the {found} layout needs "
                             f"{tuple(expected[k].shape)}")
    net.load_state_dict({k: v.float() for k, v in state.items()})
    translator = Translator({"AtoB": net})
    card: dict[str, Any] = {"kind": "pix2pix" if kind == "unet" else "cyclegan", "name": name or p.stem,
                            "architecture": translator.architecture(),
                            "training": {"source": f"reference implementation state dict {p.name} ({found})"}}
    return TranslationModel(translator, card, device)
