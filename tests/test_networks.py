"""Our feed-forward networks: shapes, conditional instance norm blends, AdaIN's controls."""
from __future__ import annotations

import pytest
import torch

from brushwork.errors import InputError
from brushwork.feedforward.base import Stylizer
from brushwork.feedforward.modelfile import AdaINModel, MultiStyleModel, make_card
from brushwork.feedforward.networks import AdaINNet, StudentNet, TransformerNet, mean_std


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Perturb every parameter, so norm layers' γ/β differ per style (fresh ones are all 1/0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return net.eval()


@pytest.fixture(scope="module")
def multi() -> TransformerNet:
    torch.manual_seed(0)
    return randomised(TransformerNet(3))


@pytest.fixture(scope="module")
def adain_net() -> AdaINNet:
    torch.manual_seed(0)
    net = AdaINNet().eval()
    with torch.no_grad():  # a decoder that is not just 0.5 everywhere
        for p in net.decoder.parameters():
            p.mul_(2.0)
    return net


@pytest.fixture(scope="module")
def photo(content) -> torch.Tensor:
    """The 64-px photo cropped to 40x64: multiples of 8, so AdaIN needs no padding."""
    return content[..., :40, :]


@torch.no_grad()
def test_transformer_keeps_any_size_and_range(content):
    net = randomised(TransformerNet())
    assert net.multiple == 4
    for h, w in ((40, 64), (30, 42), (5, 7)):
        out = net(content[..., :h, :w])
        assert out.shape == (1, 3, h, w)
        assert 0 <= out.min() and out.max() <= 1


@torch.no_grad()
def test_the_student_network_keeps_any_size_and_rebuilds_from_its_card(content):
    """Space-to-depth stem and pixel-shuffled output: the same sizes back, a multiple of 8, its
    style weights matter, and the card's architecture rebuilds the same network."""
    from brushwork.feedforward.modelfile import architecture, build_network
    net = randomised(StudentNet(3, (4, 8, 16), 1))
    assert net.multiple == 8
    for h, w in ((40, 64), (30, 42), (9, 11)):
        out = net(content[..., :h, :w], [1.0, 0.0, 0.0])
        assert out.shape == (1, 3, h, w) and 0 <= out.min() and out.max() <= 1
    assert (net(content, [1.0, 0.0, 0.0]) - net(content, [0.0, 0.0, 1.0])).abs().mean() > 1e-3
    rebuilt = build_network(architecture(net))
    rebuilt.load_state_dict(net.state_dict())
    assert torch.equal(rebuilt.eval()(content, [0.2, 0.3, 0.5]), net(content, [0.2, 0.3, 0.5]))
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].in_channels == 48 and convs[-2].out_channels == 12 and convs[-1].kernel_size == (1, 1)


@torch.no_grad()
def test_one_style_at_full_weight_is_that_style(multi, content):
    """Blending 100 % of style i equals a one-style network holding style i's (γ, β)."""
    single = TransformerNet(1)
    for i in range(3):
        state = {k: (v[i:i + 1] if k.endswith(("gamma", "beta")) else v) for k, v in multi.state_dict().items()}
        single.load_state_dict(state)
        onehot = torch.nn.functional.one_hot(torch.tensor(i), 3).float()
        assert torch.allclose(multi(content, onehot), single.eval()(content), atol=1e-6)


@torch.no_grad()
def test_style_blends_are_linear_in_the_norm_parameters(multi, content):
    a = multi(content, [1.0, 0.0, 0.0])
    b = multi(content, [0.0, 1.0, 0.0])
    half = multi(content, [0.5, 0.5, 0.0])
    assert (a - b).abs().mean() > 1e-3
    assert (half - a).abs().mean() > 1e-4 and (half - b).abs().mean() > 1e-4
    # one weight vector per image of a batch (the tolerance allows a batch's other GEMM blocking on
    # CPUs without AVX-512: ~1e-5, far below the 1e-3 between styles)
    batch = multi(content.expand(2, -1, -1, -1), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))
    assert torch.allclose(batch[0:1], a, atol=1e-4) and torch.allclose(batch[1:2], b, atol=1e-4)


def test_multistyle_model_is_a_stylizer_with_weights(multi, content):
    card = make_card("multistyle", multi, [{"name": "a"}, {"name": "b"}, {"name": "c"}], name="set")
    model = MultiStyleModel(multi, card, "cpu")
    assert isinstance(model, Stylizer) and not model.native_strength
    by_name = model.with_weights("b").painter(content)(content)
    by_index = model.with_weights(1).painter(content)(content)
    by_weights = model.with_weights([0, 2, 0]).painter(content)(content)  # normalised
    assert torch.equal(by_name, by_index) and torch.allclose(by_name, by_weights, atol=1e-6)
    assert "b" in model.with_weights("b").name
    with pytest.raises(InputError, match="no style"):
        model.with_weights("d")


@torch.no_grad()
def test_adain_alpha_zero_is_the_decoded_content(adain_net, photo, stripes):
    f = adain_net.encode(photo)["relu4_1"]
    assert torch.allclose(adain_net(photo, stripes, alpha=0.0), adain_net.decode(f), atol=1e-6)
    assert (adain_net(photo, stripes, alpha=1.0) - adain_net.decode(f)).abs().mean() > 1e-3


@torch.no_grad()
def test_adain_interpolation_with_weight_one_is_the_single_style(adain_net, photo, stripes, dots):
    single = adain_net(photo, stripes)
    assert torch.allclose(adain_net(photo, [stripes, dots], weights=[1.0, 0.0]), single, atol=1e-6)
    mixed = adain_net(photo, [stripes, dots], weights=[0.5, 0.5])
    assert (mixed - single).abs().mean() > 1e-4
    # a mask covering everything for the first style is that style too
    ones = torch.ones(1, 1, *photo.shape[-2:])
    zeros = torch.zeros_like(ones)
    assert torch.allclose(adain_net(photo, [stripes, dots], masks=[ones, zeros]), single, atol=1e-5)


@torch.no_grad()
def test_adain_masks_put_styles_in_regions(adain_net, photo, stripes, dots):
    left = torch.zeros(1, 1, *photo.shape[-2:])
    left[..., :32] = 1
    out = adain_net(photo, [stripes, dots], masks=[left, 1 - left])
    a, b = adain_net(photo, stripes), adain_net(photo, dots)

    def dist(x: torch.Tensor, y: torch.Tensor, cols: slice) -> float:
        return float((x[..., cols] - y[..., cols]).abs().mean())
    # away from the border each half looks like its own style
    assert dist(out, a, slice(0, 20)) < dist(out, b, slice(0, 20))
    assert dist(out, b, slice(44, 64)) < dist(out, a, slice(44, 64))


def test_masked_mean_std_is_the_region_statistics():
    f = torch.randn(1, 4, 6, 6)
    m = torch.zeros(1, 1, 6, 6)
    m[..., :3, :] = 1
    mean, std = mean_std(f, m)
    ref_mean, ref_std = mean_std(f[..., :3, :])
    assert torch.allclose(mean, ref_mean, atol=1e-6) and torch.allclose(std, ref_std, atol=1e-5)


def test_adain_model_needs_a_style_and_paints_like_the_network(adain_net, photo, stripes):
    model = AdaINModel(adain_net, make_card("adain", adain_net), "cpu")
    assert isinstance(model, Stylizer)
    with pytest.raises(InputError, match="style"):
        model.painter(photo)
    stylizer = model.with_style(stripes, style_size=None)
    assert isinstance(stylizer, Stylizer) and stylizer.native_strength and stylizer.multiple == 8
    with torch.no_grad():
        assert torch.allclose(stylizer(photo, 0.7), adain_net(photo, stripes, alpha=0.7), atol=1e-5)
        # a tile is normalised with the whole photo's statistics, not its own
        paint = stylizer.painter(photo, 1.0)
        tile = paint(photo[..., :32, :32])
        own = adain_net(photo[..., :32, :32], stripes)
    assert tile.shape == (1, 3, 32, 32) and (tile - own).abs().mean() > 1e-5


def test_adain_stylizer_masks_paint_in_one_piece(adain_net, photo, stripes, dots):
    model = AdaINModel(adain_net, make_card("adain", adain_net), "cpu")
    left = torch.zeros(1, 1, *photo.shape[-2:])
    left[..., :32] = 1
    stylizer = model.with_style([stripes, dots], masks=[left, 1 - left], style_size=None)
    with torch.no_grad():
        out = stylizer(photo)
        want = adain_net(photo, [stripes, dots], masks=[left, 1 - left])
    assert torch.allclose(out, want, atol=1e-5)
    with pytest.raises(InputError, match="one piece"):
        stylizer.painter(photo, 1.0, tiled=True)
    with pytest.raises(InputError, match="one per style"):
        model.with_style([stripes, dots], masks=[left])
