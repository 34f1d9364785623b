"""MRF (patch-based) style transfer: the matcher, the loss, the recipe's behaviour, input errors."""
from __future__ import annotations

import pytest
import torch
from skimage import data

from brushwork.errors import InputError
from brushwork.image import load_image, resize
from brushwork.losses import MRFLoss
from brushwork.features import Extractor
from brushwork.optimize.mrf import mrf

CPU = {"device": "cpu", "dtype": "float32"}


@pytest.fixture(scope="module")
def cat() -> torch.Tensor:
    return resize(load_image(data.chelsea()), (64, 96))


@pytest.fixture(scope="module")
def cells() -> torch.Tensor:
    return resize(load_image(data.immunohistochemistry()), (80, 80))  # stained cells: blobs, no cat


@pytest.fixture(scope="module")
def features() -> torch.Tensor:
    return torch.rand(1, 16, 12, 14, generator=torch.Generator().manual_seed(0))


def test_matcher_finds_the_exact_patch(features):
    loss = MRFLoss("relu3_1", features)
    crop = features[..., 4:9, 6:10]  # 3 x 2 patch positions, all present in the style
    expected = [(4 + i) * 12 + 6 + j for i in range(3) for j in range(2)]  # 12 positions a row
    assert loss.match(crop).tolist() == expected
    assert loss.match(crop * 7.0).tolist() == expected  # normalised cross-correlation: scale-free


def test_matches_do_not_depend_on_the_chunking(features):
    query = torch.rand(1, 16, 9, 11, generator=torch.Generator().manual_seed(1))
    whole = MRFLoss("relu3_1", features).match(query)
    assert torch.equal(MRFLoss("relu3_1", features, chunk_bytes=1).match(query), whole)
    assert torch.equal(MRFLoss("relu3_1", features, chunk_bytes=4 * 9 * 17).match(query), whole)


def test_strided_bank_and_loss_of_a_style_crop(features):
    loss = MRFLoss("relu3_1", features, stride=2)
    assert loss.filters.shape[0] == 5 * 6  # positions 0, 2, ... 8 by 0, 2, ... 10
    assert loss.match(features[..., 4:7, 6:9]).tolist() == [2 * 6 + 3]
    assert loss.bank(torch.tensor([2 * 6 + 3])).reshape(16, 3, 3).allclose(features[0, :, 4:7, 6:9])
    in_bank, off_grid = features[..., 4:7, 6:9], features[..., 3:6, 5:8]
    assert float(loss(None, {"relu3_1": in_bank})) < 1e-10 < float(loss(None, {"relu3_1": off_grid}))


def test_recipe_paints_with_style_patches(cat, cells):
    records: list[tuple[int, tuple[int, int], float]] = []

    def record(p):
        records.append((p.stage, p.size, sum(v for k, v in p.losses.items() if k.startswith("mrf:"))))

    result = mrf(cat, cells, size=96, steps=12, levels=2, tol=0, callback=record, **CPU)
    assert result.shape == (1, 3, 64, 96) and 0 <= float(result.min()) and float(result.max()) <= 1
    assert [s for _, s, _ in records] == [(32, 48)] * 12 + [(64, 96)] * 12  # the pyramid, coarse to fine
    for stage in (0, 1):
        mrf_losses = [v for st, _, v in records if st == stage]
        assert mrf_losses[-1] < 0.8 * mrf_losses[0]

    ex = Extractor(["relu3_1", "relu4_2"], **CPU)
    s_feats, c_feats, r_feats = ex.targets(resize(cells, (96, 96))), ex.targets(cat), ex.targets(result)
    nn_distance = MRFLoss("relu3_1", s_feats["relu3_1"])  # mean squared distance to the nearest style patches
    assert float(nn_distance(result, r_feats)) < 0.75 * float(nn_distance(cat, c_feats))
    # ... while the content survives: the result stays far closer to the cat than the style is
    to_content = lambda f: float((f["relu4_2"] - c_feats["relu4_2"]).pow(2).mean())  # noqa: E731
    assert to_content(r_feats) < 0.5 * to_content(ex.targets(resize(cells, (64, 96))))


@pytest.mark.parametrize("kwargs, words", [
    ({"style_weight": -1.0}, "style weight"),
    ({"content_weight": -0.5}, "content weight"),
    ({"tv_weight": float("nan")}, "tv weight"),
    ({"style_weight": 0.0, "content_weight": 0.0, "tv_weight": 0.0}, "all zero"),
    ({"style_layers": ("relu3_1", "relu9_1")}, "unknown layer"),
    ({"style_layers": {"relu3_1": -1.0}}, "layer weight"),
    ({"style_layers": ()}, "at least one style layer"),
    ({"content_layer": "pool4"}, "unknown layer"),
    ({"content_layer": ["relu4_2"]}, "one layer name"),
    ({"levels": 0}, "levels"),
    ({"patch_size": 2}, "patch size"),
    ({"patch_size": 0}, "patch size"),
    ({"patch_stride": 0}, "patch stride"),
    ({"steps": 0}, "steps"),
    ({"style_scale": 0.0}, "style scale"),
    ({"size": 8}, "too small"),
    ({"size": "big"}, "size"),
    ({"size": 40, "levels": 3}, "coarsest output"),
    ({"size": 96, "style_scale": 0.1}, "coarsest style"),
    ({"optimizer": "sgd"}, "optimizer"),
])
def test_bad_inputs_raise_one_line_input_errors(cat, cells, kwargs, words):
    with pytest.raises(InputError, match=words) as err:
        mrf(cat, cells, **{"size": 64, "steps": 1, "levels": 2, **CPU, **kwargs})
    assert "\n" not in str(err.value)


def test_tiny_style_image_is_refused(cat):
    with pytest.raises(InputError, match="too small"):
        mrf(cat, torch.rand(1, 3, 12, 40), size=64, **CPU)
