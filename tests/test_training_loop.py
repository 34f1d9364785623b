"""The training loop with recipes of several networks, checkpoints old and new, precision, and
paired/unpaired data: resume is bit-exact, bf16 stays near fp32, bad folders are one line."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from brushwork.errors import InputError
from brushwork.feedforward.modelfile import load_model, make_card, read_card, save_model
from brushwork.feedforward.networks import TransformerNet
from brushwork.training import (Augment, Batches, ImageFolder, PairedFolder, Prefetch, Settings, Unpaired,
                                checkpoint_path, fit, native_bf16, training_dtype)
from brushwork.training.precision import cpu_flags


class TinyGAN:
    """Two networks, two optimizers, a scheduler, dropout (global RNG) and an image pool: the
    shape of a pix2pix/CycleGAN recipe, small enough to train in a test."""

    kind = "fast"
    product = "G"

    def __init__(self, data: Any):
        torch.manual_seed(0)
        self.networks = {"G": TransformerNet(1, (4, 8, 8), 1),
                         "D": nn.Sequential(nn.Conv2d(6, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.5),
                                            nn.Conv2d(8, 1, 4, 2, 1))}
        self.optimizers = {k: torch.optim.Adam(n.parameters(), lr=2e-3, betas=(0.5, 0.999))
                           for k, n in self.networks.items()}
        self.schedulers = {"G": torch.optim.lr_scheduler.StepLR(self.optimizers["G"], step_size=2, gamma=0.5)}
        self.data, self.pool = data, []
        self.config, self.styles = {"recipe": "tiny gan"}, []
        self.data_cards = {"data": {"count": 4, "augmentation": Augment(16).describe()}}

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        a, b = batch
        G, D = self.networks["G"], self.networks["D"]
        fake = G(a)                                                  # forward
        self.pool = (self.pool + [fake.detach()])[-2:]
        old = self.pool[int(torch.randint(len(self.pool), ()))]      # the pool draws from the global RNG
        self.optimizers["D"].zero_grad()                             # update D
        d_real, d_fake = D(torch.cat([a, b], 1)), D(torch.cat([a, old], 1))
        loss_d = 0.5 * (F.mse_loss(d_real, torch.ones_like(d_real)) + F.mse_loss(d_fake, torch.zeros_like(d_fake)))
        loss_d.backward()
        self.optimizers["D"].step()
        self.optimizers["G"].zero_grad()                             # update G
        d_g = D(torch.cat([a, fake], 1))
        gan, l1 = F.mse_loss(d_g, torch.ones_like(d_g)), 10 * F.l1_loss(fake, b)
        (gan + l1).backward()
        self.optimizers["G"].step()
        self.schedulers["G"].step()
        return {"D": loss_d.item(), "G_gan": gan.item(), "G_l1": l1.item()}

    def preview(self) -> torch.Tensor:
        return self.networks["G"](self.data[0][0][:1])

    def save(self, path: Path, training: dict[str, Any], device: torch.device) -> Any:
        net = self.networks[self.product]
        save_model(net, path, make_card(self.kind, net, [], training))
        return load_model(path, device)

    def extra_state(self) -> dict[str, Any]:
        return {"pool": list(self.pool)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pool = list(state.get("pool", []))


def write_image(path: Path, h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)


@pytest.fixture(scope="module")
def paired(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("paired")
    for side in "AB":
        (root / side).mkdir()
        for i, (h, w) in enumerate([(20, 24), (24, 20), (22, 22), (30, 18)]):
            write_image(root / side / f"{i}.png", h, w, seed=i + (side == "B") * 10)
    return root


def settings(out: Path, steps: int, **kw: Any) -> Settings:
    base = dict(steps=steps, batch_size=2, size=16, lr=1e-3, lr_decay=0.0, scale_jitter=(1.0, 1.2),
                checkpoint_every=None, resume=False, preview_every=None, seed=0, device="cpu",
                dtype="float32", workers=0, callback=None, minutes=None, multiple=4)
    return Settings.make(out, **{**base, **kw})


def trained(path: Path) -> dict[str, Any]:
    return torch.load(checkpoint_path(path), weights_only=True)


def test_a_recipe_of_two_networks_resumes_bit_exactly(paired, tmp_path):
    data = Batches(PairedFolder(paired), Augment(16, (1.0, 1.2)), 2, seed=0)
    fit(TinyGAN(data), settings(tmp_path / "straight.bw", 5), 0)
    fit(TinyGAN(data), settings(tmp_path / "split.bw", 2, checkpoint_every=1), 0)   # 2 steps, then
    before = trained(tmp_path / "split.bw")["seconds"]
    model = fit(TinyGAN(data), settings(tmp_path / "split.bw", 5, resume=True), 0)  # 3 more in a fresh recipe
    # the training time counts both runs
    after = trained(tmp_path / "split.bw")["seconds"]
    assert 0 < before < after and abs(model.card["training"]["seconds"] - after) < 0.5
    straight, split = trained(tmp_path / "straight.bw"), trained(tmp_path / "split.bw")
    assert split["step"] == straight["step"] == 5 and model.card["training"]["resumed_at"] == 2
    for part in ("networks", "optimizers"):
        for name, state in straight[part].items():
            flat = dict(_leaves(state))
            for key, value in _leaves(split[part][name]):
                same = torch.equal(value, flat[key]) if isinstance(value, torch.Tensor) else value == flat[key]
                assert same, (part, name, key)
    assert straight["schedulers"] == split["schedulers"]
    assert all(torch.equal(x, y) for x, y in zip(straight["recipe"]["pool"], split["recipe"]["pool"]))
    assert straight["recent"] == split["recent"] and set(straight["recent"]) == {"D", "G_gan", "G_l1"}
    assert read_card(tmp_path / "split.bw")["training"]["final_losses"].keys() == {"D", "G_gan", "G_l1"}


def _leaves(state: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(state, dict):
        return [kv for k, v in state.items() for kv in _leaves(v, f"{prefix}/{k}")]
    if isinstance(state, (list, tuple)):
        return [kv for i, v in enumerate(state) for kv in _leaves(v, f"{prefix}/{i}")]
    return [(prefix, state)]


def test_a_checkpoint_of_another_recipe_is_refused(paired, tmp_path):
    data = Batches(PairedFolder(paired), Augment(16, (1.0, 1.2)), 2, seed=0)
    fit(TinyGAN(data), settings(tmp_path / "gan.bw", 1), 0)
    ck = trained(tmp_path / "gan.bw")
    del ck["networks"]["D"]
    torch.save(ck, checkpoint_path(tmp_path / "gan.bw"))
    with pytest.raises(InputError, match=r"its networks \(G\) are not this run's \(D, G\)"):
        fit(TinyGAN(data), settings(tmp_path / "gan.bw", 2, resume=True), 0)


def test_cpu_flags_pick_bf16_only_where_it_is_native():
    amx = "processor : 0\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile\n"
    avx512 = "flags : fpu avx2 avx512f avx512_bf16\n"
    zen3 = "flags : fpu sse fma avx avx2\n"
    assert native_bf16(amx) and native_bf16(avx512) and not native_bf16(zen3) and not native_bf16("")
    assert "avx2" in cpu_flags(zen3)
    cpu = torch.device("cpu")
    assert training_dtype(cpu, "auto", amx) == torch.bfloat16
    assert training_dtype(cpu, "auto", zen3) == torch.float32
    assert training_dtype(cpu, "float32", amx) == torch.float32
    assert training_dtype(cpu, "bfloat16", zen3) == torch.bfloat16
    with pytest.raises(InputError, match="auto, float32 or bfloat16"):
        training_dtype(cpu, "float16")


def test_paired_folders_crop_alike_and_refuse_strays(paired, tmp_path):
    folder = PairedFolder(paired)
    assert len(folder) == 4 and folder.describe()["paired"]
    a, b = Batches(folder, Augment(16, (1.0, 1.0), hflip=False), 3, seed=1)[0]
    assert a.shape == b.shape == (3, 3, 16, 16) and not torch.equal(a, b)
    # the same crop of both: the pair made identical gives identical crops
    same = tmp_path / "same"
    for side in "AB":
        (same / side).mkdir(parents=True)
        write_image(same / side / "x.png", 30, 20, seed=5)
    x, y = Batches(PairedFolder(same), Augment(16, (1.0, 1.5)), 4, seed=2)[3]
    assert torch.equal(x, y)
    # a name without a partner, sizes that differ, a missing side: one line each
    bad = tmp_path / "bad"
    for side in "AB":
        (bad / side).mkdir(parents=True)
        write_image(bad / side / "x.png", 20, 20, seed=0)
    write_image(bad / "A" / "lonely.jpg", 20, 20, seed=0)
    with pytest.raises(InputError, match=r"1 image\(s\) without a partner in B/ \(first: lonely\)"):
        PairedFolder(bad)
    (bad / "A" / "lonely.jpg").unlink()
    write_image(bad / "B" / "x.png", 20, 24, seed=0)
    with pytest.raises(InputError, match="is 20x20 px but B/x.png is 24x20"):
        PairedFolder(bad)
    with pytest.raises(InputError, match="two folders A/ and B/"):
        PairedFolder(bad / "A")


def test_unpaired_domains_draw_independently(paired):
    aug = Augment(16)
    both = Unpaired(Batches(ImageFolder(paired / "A"), aug, 2, seed=0, stream=0),
                    Batches(ImageFolder(paired / "B"), aug, 2, seed=0, stream=1))
    a, b = both[4]
    assert a.shape == b.shape == (2, 3, 16, 16)
    assert all(torch.equal(x[0], both[k][0]) and torch.equal(x[1], both[k][1])
               for k, x in zip(range(2, 5), both.iterate(2, 5)))


def test_prefetch_keeps_order_hands_on_errors_and_stops():
    assert list(Prefetch(iter(range(5)))) == [0, 1, 2, 3, 4]

    def failing():
        yield 1
        raise InputError("bad image")

    items = Prefetch(failing())
    assert next(items) == 1
    with pytest.raises(InputError, match="bad image"):
        next(items)
    endless = Prefetch(iter(int, 1))   # never ends: close() must still stop the thread
    next(endless)
    endless.close()
    assert not endless._thread.is_alive()
