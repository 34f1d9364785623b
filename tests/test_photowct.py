"""PhotoWCT (whitening and colouring with our decoders) and Deep Photo (image iteration with the
matting-Laplacian photorealism term): statistics, reconstruction, training, photo's two methods."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from brushwork import InputError
from brushwork.features.stats import mean_covariance
from brushwork.feedforward.modelfile import load_model
from brushwork.image import fit, load_image, resize
from brushwork.metrics import psnr
from brushwork.photoreal import PhotoWCTDecoders, photo, shipped_decoders, train_photowct
from brushwork.photoreal.decoders import LEVELS, SHIPPED
from brushwork.photoreal.deep_photo import PhotorealismLoss
from brushwork.photoreal.regions import Regions
from brushwork.photoreal.smooth import MattingLaplacian
from brushwork.photoreal.wct import _region_wct
from brushwork.training import ImageFolder
from test_photoreal import _two_region_pair


def _astronaut(side: int) -> torch.Tensor:
    img = load_image(Image.fromarray(skdata.astronaut()))
    return resize(img, fit(img.shape[-2:], side))


def _cov(f: torch.Tensor) -> torch.Tensor:
    return mean_covariance(f)[1][0]


def test_wct_gives_each_region_its_pair_regions_feature_covariance():
    g = torch.Generator().manual_seed(0)
    cf = torch.randn(1, 6, 12, 16, generator=g)
    mix_a, mix_b = torch.randn(6, 6, generator=g), torch.randn(6, 6, generator=g)
    top = (mix_a @ torch.randn(6, 60, generator=g)).reshape(1, 6, 6, 10)
    bottom = (mix_b @ torch.randn(6, 60, generator=g) + 3).reshape(1, 6, 6, 10)
    sf = torch.cat([top, bottom], dim=2)
    lc = torch.zeros(12, 16, dtype=torch.long)
    lc[:, 8:] = 1
    ls = torch.zeros(12, 10, dtype=torch.long)
    ls[6:] = 1
    out = _region_wct(cf, sf, Regions(lc, ls, ("a", "b")), [True, True])
    left, right = out[..., :8].reshape(1, 6, -1), out[..., 8:].reshape(1, 6, -1)
    assert torch.allclose(_cov(left), _cov(top.reshape(1, 6, -1)), atol=1e-3)
    assert torch.allclose(_cov(right), _cov(bottom.reshape(1, 6, -1)), atol=1e-3)
    whole = _region_wct(cf, sf, None, [])
    assert torch.allclose(_cov(whole), _cov(sf), atol=1e-3)
    # a pair too unequal to trust takes the whole style's statistics
    fallback = _region_wct(cf, sf, Regions(lc, ls, ("a", "b")), [False, False])
    assert torch.allclose(fallback, whole)


def test_decoders_invert_any_size_and_the_shipped_ones_reconstruct_photos():
    odd = torch.rand(1, 3, 37, 45)
    net = PhotoWCTDecoders()
    for tap in LEVELS:
        assert net(odd, tap).shape == odd.shape
    assert SHIPPED.is_file(), "the shipped PhotoWCT decoders are missing from the package"
    model = shipped_decoders()
    x = _astronaut(160)
    # the card gives the held-out photos at 256 px (40.0 / 29.5 / 26.6 / 19.8 dB); this photo at 160 px is harder
    bounds = {"relu1_1": 33.0, "relu2_1": 21.0, "relu3_1": 20.0, "relu4_1": 15.0}   # untrained: 5.5-5.8 dB
    with torch.no_grad():
        for tap, bound in bounds.items():
            assert psnr(model.network(x, tap).clamp(0, 1), x) > bound, tap
    assert set(model.card["training"]["held_out_psnr_db"]) == set(LEVELS)


@pytest.mark.parametrize("method, tolerance", [("wct", 0.12), ("optimize", 0.15)])
def test_each_region_takes_its_look_from_its_pair(tmp_path, monkeypatch, method, tolerance):
    monkeypatch.setattr("brushwork.photoreal.regions.MIN_REGION_PIXELS", 64)
    c, s, cseg, sseg, style = _two_region_pair(tmp_path)
    top, bottom = style[:20].reshape(-1, 3).mean(0), style[20:].reshape(-1, 3).mean(0)
    content = np.asarray(Image.open(c).convert("RGB")) / 255
    out = photo(c, s, method=method, content_seg=cseg, style_seg=sseg)[0].permute(1, 2, 0).numpy()
    assert out.shape == (40, 48, 3)
    left, right = out[:, 2:20].reshape(-1, 3).mean(0), out[:, 28:].reshape(-1, 3).mean(0)
    # at 40x48 px the deepest Gram layers see a few positions, which blur the regions' borders
    assert np.abs(left - top).max() < tolerance and np.abs(right - bottom).max() < tolerance
    for got, want, side in ((left, top, slice(2, 20)), (right, bottom, slice(28, None))):
        before = np.abs(content[:, side].reshape(-1, 3).mean(0) - want).max()
        assert np.abs(got - want).max() < before * 0.6


def test_the_photorealism_term_is_the_matting_energy_and_its_gradient():
    guide = _astronaut(24)
    x = torch.rand(1, 3, *guide.shape[-2:], requires_grad=True)
    loss = PhotorealismLoss(guide, 10.0)
    value = loss(x, {})
    value.backward()
    lap = MattingLaplacian(guide)
    pixels = x.shape[-1] * x.shape[-2]
    assert float(value.detach()) == pytest.approx(10.0 * lap.energy(x.detach()) / pixels, rel=1e-5)
    assert torch.allclose(x.grad[0].double(), 2 * 10.0 * (lap @ x.detach()[0].double()) / pixels, rtol=1e-4,
                          atol=1e-7)
    # the photo itself is what it finds most photo-like; noise is far from it
    assert float(loss(guide, {})) < float(loss(torch.rand_like(guide), {})) / 20


def test_training_the_decoders_lowers_every_loss_and_reports_held_out_psnr(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    img = skdata.astronaut()
    for i in range(5):
        Image.fromarray(img[i * 60:i * 60 + 160, i * 40:i * 40 + 200]).save(folder / f"p{i}.png")
    seen: list[dict[str, float]] = []
    out = tmp_path / "pw.bw"
    model = train_photowct(out, folder, steps=24, batch_size=2, size=48, holdout=1, seed=3,
                           callback=lambda p: seen.append(p.losses))
    first, last = seen[:4], seen[-4:]
    for name in seen[0]:
        if name.endswith("1") and name.startswith("pixel") and name != "pixel1":
            assert sum(v[name] for v in last) < sum(v[name] for v in first), name
    card = model.card
    assert card["kind"] == "photowct" and card["training"]["data"]["held_out"] == ["p2.png"]
    assert set(card["training"]["held_out_psnr_db"]) == set(LEVELS)
    again = load_model(out, "cpu")
    x = torch.rand(1, 3, 32, 40)
    assert torch.equal(again.network(x, "relu2_1"), load_model(out, "cpu").network(x, "relu2_1"))


def test_a_held_out_share_is_spread_over_the_folder(tmp_path):
    for i in range(10):
        Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(tmp_path / f"{i:02d}.png")
    folder = ImageFolder(tmp_path, holdout=3)
    assert [p.name for p in folder.held_out] == ["01.png", "05.png", "08.png"] and len(folder) == 7
    with pytest.raises(InputError, match="cannot hold out 10"):
        ImageFolder(tmp_path, holdout=10)


def test_decoders_of_another_kind_are_refused(tmp_path, content, stripes):
    from brushwork.translate.run import DEMO_MODEL, shipped_models
    with pytest.raises(InputError, match="not PhotoWCT decoders"):
        photo(content, stripes, method="wct", decoders=shipped_models()[DEMO_MODEL])
