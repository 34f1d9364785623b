"""Tiling with feathered seams (brushwork.image.tiled) and whole-image norm statistics in tiles."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from brushwork.feedforward import TorchStylizer, apply
from brushwork.feedforward.base import shared_norms
from brushwork.image import _feather, tile_spans, tiled


@pytest.mark.parametrize("length, tile, overlap, align", [(100, 100, 25, 1), (101, 64, 16, 1), (1000, 256, 64, 4),
                                                         (2252, 1024, 256, 4), (130, 64, 32, 4)])
def test_spans_cover_the_side_with_aligned_overlapping_tiles(length, tile, overlap, align):
    spans = tile_spans(length, tile, overlap, align)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(b - a == min(tile, length) for a, b in spans)
    assert all(a % align == 0 for a, _ in spans[:-1])
    assert spans[-1][0] % align == 0 or length % align != 0  # the last tile ends at the border
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end - start >= overlap - align  # neighbours share at least the overlap (up to the grid)


@pytest.mark.parametrize("length, tile, overlap", [(300, 128, 64), (1000, 256, 64), (520, 256, 128)])
def test_feathering_weights_sum_to_one(length, tile, overlap):
    spans = tile_spans(length, tile, overlap, 4)
    total = torch.zeros(length)
    for (a, b), w in zip(spans, _feather(spans)):
        assert w.min() >= 0 and w.max() <= 1
        total[a:b] += w
    assert torch.allclose(total, torch.ones(length), atol=1e-5)


def test_tiled_identity_and_pointwise_paint_are_exact():
    img = torch.rand(1, 3, 150, 230)
    calls = []
    assert torch.allclose(tiled(img, lambda t: t, 64, 16, lambda d, n: calls.append((d, n))), img, atol=1e-6)
    assert calls[-1][0] == calls[-1][1] == len(calls) > 1
    assert torch.allclose(tiled(img, lambda t: t ** 2, 64, 32), img ** 2, atol=1e-6)


def test_one_tile_is_one_call():
    img = torch.rand(1, 3, 40, 50)
    shapes = []
    tiled(img, lambda t: shapes.append(t.shape) or t, 64, 16)
    assert shapes == [img.shape]


def test_tiles_of_a_local_filter_match_the_whole_away_from_the_border():
    """A 5x5 blur sees 2 px of padding at a tile's edge; the feathering ignores a quarter of the overlap."""
    blur = nn.Conv2d(3, 3, 5, padding=2, padding_mode="reflect", groups=3, bias=False)
    nn.init.constant_(blur.weight, 1 / 25)
    img = torch.rand(1, 3, 200, 260)
    with torch.no_grad():
        whole, parts = blur(img), tiled(img, blur, 64, 32)
    assert torch.allclose(whole, parts, atol=1e-5)


def _instance_norm_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(8, affine=True),
                         nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1, padding_mode="reflect"),
                         nn.InstanceNorm2d(8), nn.ReLU(), nn.Upsample(scale_factor=2),
                         nn.Conv2d(8, 3, 3, padding=1, padding_mode="reflect"), nn.Sigmoid())


def test_torch_networks_share_whole_image_norm_statistics_in_tiles(content):
    """Instance norm per tile gives each tile its own tonality; with the whole image's statistics
    the tiles agree with one untiled pass."""
    net = _instance_norm_net()
    img = torch.nn.functional.interpolate(content, size=(96, 128), mode="bilinear")
    untiled = apply(img, model=net, tile=0)
    assert torch.allclose(apply(img, model=net, tile=64), untiled, atol=1e-5)
    own = TorchStylizer(net, "cpu").painter(img, 1.0, tiled=False)  # each tile its own statistics
    assert (tiled(img, own, 64, 32) - untiled).abs().mean() > 10 * (apply(img, model=net, tile=64)
                                                                    - untiled).abs().mean() + 1e-3


def test_shared_norms_without_norms_is_the_painter_itself():
    conv = nn.Conv2d(3, 3, 1)
    assert shared_norms(conv, torch.rand(1, 3, 8, 8), conv) is conv
