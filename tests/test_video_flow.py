"""Optical flow, warping, Ruder et al.'s masks, scene cuts and the temporal loss."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from brushwork.errors import InputError
from brushwork.losses import TemporalLoss
from brushwork.video.flow import consistency, flow, motion_boundaries, occlusion, warp
from brushwork.video.motion import feather, histogram_distance, motion
from video_synth import shifted, texture

DX, DY = 3, 2


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    a, b = shifted(2, (64, 96), (DX, DY))
    return a, b


def test_flow_recovers_a_known_shift(pair):
    a, b = pair
    f = flow(a, b)                       # a(x) = b(x + f(x)): the content moved by (DX, DY)
    inner = f[8:-8, 8:-8]
    assert np.median(inner[..., 0]) == pytest.approx(DX, abs=0.25)
    assert np.median(inner[..., 1]) == pytest.approx(DY, abs=0.25)
    epe = np.hypot(inner[..., 0] - DX, inner[..., 1] - DY)
    assert epe.mean() < 0.5
    back = flow(b, a)
    assert np.median(back[8:-8, 8:-8, 0]) == pytest.approx(-DX, abs=0.25)


def test_flow_of_large_frames_is_scaled_back(pair):
    a, b = pair
    f = flow(a, b, max_side=48)          # matched at half size, returned at full size in full-size px
    assert f.shape == (64, 96, 2)
    assert np.median(f[8:-8, 8:-8, 0]) == pytest.approx(DX, abs=0.5)


def test_warp_aligns_the_frames(pair):
    a, b = pair
    aligned = warp(a.astype(np.float32), flow(b, a))     # a brought onto b's grid
    inner = np.s_[8:-8, 8:-8]
    before = np.abs(a.astype(np.float32) - b)[inner].mean()
    after = np.abs(aligned - b)[inner].mean()
    assert after < 2.0 < before / 5
    assert warp(a, flow(b, a)).dtype == np.uint8


def test_occlusion_flags_the_disoccluded_border(pair):
    a, b = pair
    occ = occlusion(flow(a, b), flow(b, a))
    # content moved right/down: b's first DX columns and DY rows were not in a
    assert occ[:, :DX].mean() > 0.9 and occ[:DY, :].mean() > 0.9
    assert occ[8:-8, 8:-8].mean() < 0.02
    c = consistency(flow(a, b), flow(b, a))
    assert c.dtype == np.float32 and c[:, :DX].mean() < 0.1 and c[8:-8, 8:-8].mean() > 0.95


def test_motion_boundaries_mark_where_the_flow_jumps():
    back = np.zeros((32, 32, 2), np.float32)
    back[:, 16:, 0] = 5.0                # the right half moves, the left does not
    mb = motion_boundaries(back)
    assert mb[:, 15:17].all()
    assert not mb[:, :13].any() and not mb[:, 20:].any()


def test_motion_trusts_a_shift_and_sees_a_cut(pair):
    a, b = pair
    m = motion(a, b)
    assert not m.cut and m.reliable > 0.8
    assert m.mask.shape == a.shape[:2] and m.mask.min() >= 0 and m.mask.max() <= 1
    assert m.mask[:, :DX].max() == 0     # nothing is carried into disoccluded pixels
    other = texture(64, 96, seed=7)[:, ::-1].copy() // 3 + 160   # another scene: different layout and colours
    cut = motion(b, other)
    assert cut.cut
    assert histogram_distance(a, b) < 0.1 < histogram_distance(b, other)


def test_feather_never_leaks_into_unreliable_pixels():
    mask = np.ones((40, 40), np.float32)
    mask[:, :10] = 0
    mask[20, 25] = 0
    soft = feather(mask, ramp=4)
    assert (soft[mask == 0] == 0).all()
    assert (soft[:, 11] < 0.5).all() and (soft[:, 30:] >= 0.99).any()
    assert soft[20, 26] < 0.5            # around an unreliable speck too


def test_temporal_loss_weights_by_the_mask():
    target = torch.zeros(1, 3, 8, 8)
    image = torch.full((1, 3, 8, 8), 0.1)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    loss = TemporalLoss(target, mask, weight=2.0)
    assert loss.taps == ()
    assert float(loss(image, {})) == pytest.approx(2.0 * 0.5 * 25.5 ** 2, rel=1e-4)
    assert float(TemporalLoss(target, torch.zeros(1, 1, 8, 8))(image, {})) == 0
    # a coarse scale: target and mask follow the image's size
    assert float(loss(torch.full((1, 3, 4, 4), 0.1), {})) == pytest.approx(2.0 * 0.5 * 25.5 ** 2, rel=1e-3)


def test_unknown_flow_preset_is_refused(pair):
    with pytest.raises(InputError, match="flow preset"):
        flow(*pair, preset="slow")
