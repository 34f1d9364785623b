"""Training checkpoints: every network, optimizer and scheduler of a recipe, its own state, the
global random state, the step and the recent losses, so that a resumed run is bit-identical to
an uninterrupted one on the same machine.

Version 1 (one network as `model`, one Adam as `optimizer`) is what the single-network trainers
wrote before recipes; it still loads into a recipe with one network and one optimizer.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from ..files import atomic_path
from .recipe import Recipe

CHECKPOINT_FORMAT = "brushwork-checkpoint"
VERSION = 2


def checkpoint_path(output: str | os.PathLike) -> Path:
    """Where a training run keeps its checkpoint: beside the output, `.ckpt` for `.bw`."""
    return Path(output).with_suffix(".ckpt")


def read_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # a truncated or foreign file
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise InputError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a brushwork training checkpoint")
    return ck


def _cpu(state: Any) -> Any:
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: _cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu(v) for v in state)
    return state


def save_checkpoint(path: Path, recipe: Recipe, seed: int, step: int, recent: dict, seconds: float = 0.0) -> None:
    """Write the checkpoint atomically (`seconds`: training time so far, over every resumed run);
    a failure is a one-line `InputError`."""
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    ck = {"format": CHECKPOINT_FORMAT, "version": VERSION, "kind": recipe.kind,
          "config": json.dumps(recipe.config, sort_keys=True), "seed": seed, "step": step,
          "networks": {k: _cpu(n.state_dict()) for k, n in recipe.networks.items()},
          "optimizers": {k: _cpu(o.state_dict()) for k, o in recipe.optimizers.items()},
          "schedulers": {k: s.state_dict() for k, s in recipe.schedulers.items()},
          "recipe": _cpu(recipe.extra_state()), "rng": rng,
          "recent": {k: list(v) for k, v in recent.items()}, "seconds": seconds}
    with atomic_path(path, what="checkpoint") as tmp:
        torch.save(ck, tmp)


def check_matches(ck: dict[str, Any], path: Path, recipe: Recipe, seed: int) -> None:
    """Refuse a checkpoint of another kind of network or made with other settings."""
    if ck.get("kind") != recipe.kind:
        raise InputError(f"{path}: a checkpoint of a {ck.get('kind')} network, not {recipe.kind}")
    saved = json.loads(ck["config"])
    diff = [k for k in sorted(set(saved) | set(recipe.config)) if saved.get(k) != recipe.config.get(k)]
    if diff or int(ck["seed"]) != seed:
        what = diff[0] if diff else "seed"
        raise InputError(f"{path}: made with different settings ({what}: {saved.get(what, ck['seed'])!r} "
                         f"there, {recipe.config.get(what, seed)!r} now); resume with the same options")


def restore(ck: dict[str, Any], path: Path, recipe: Recipe) -> int:
    """Load a checkpoint's states into the recipe (and the random state); returns its step."""
    if int(ck.get("version", 1)) == 1:
        if len(recipe.networks) != 1 or len(recipe.optimizers) != 1:
            raise InputError(f"{path}: a one-network checkpoint cannot resume a {recipe.kind} run")
        networks, optimizers = ({next(iter(d)): ck[key]} for d, key in
                                ((recipe.networks, "model"), (recipe.optimizers, "optimizer")))
        schedulers, extra, rng = {}, {}, None
    else:
        networks, optimizers, schedulers = ck["networks"], ck["optimizers"], ck["schedulers"]
        extra, rng = ck["recipe"], ck["rng"]
    for what, have, saved in (("network", recipe.networks, networks), ("optimizer", recipe.optimizers, optimizers),
                              ("scheduler", recipe.schedulers, schedulers)):
        if set(have) != set(saved):
            raise InputError(f"{path}: its {what}s ({', '.join(sorted(saved)) or 'none'}) are not this "
                             f"run's ({', '.join(sorted(have)) or 'none'})")
        for k, obj in have.items():
            obj.load_state_dict(saved[k])
    recipe.load_extra_state(extra)
    if rng is not None:
        torch.set_rng_state(rng["cpu"].cpu())
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
    return int(ck["step"])
