"""Photorealistic stylization on tiny generated photos: smoothing, regions, upsampling, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from PIL import Image

from brushwork import InputError
from brushwork.photoreal import photo, smooth
from brushwork.photoreal.colour import lab_to_rgb, mkl, rgb_to_lab
from brushwork.guided import guided_filter
from brushwork.photoreal.smooth import MattingLaplacian, matting_smooth, upsample_affine


def _textured(h: int, w: int, colour: tuple[float, float, float], seed: int, spread: float = 0.08) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.array(colour, np.float32)
    return (base + spread * rng.standard_normal((h, w, 1)) * [1.0, 0.8, 0.6]
            + 0.02 * rng.standard_normal((h, w, 3))).clip(0, 1).astype(np.float32)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float()


def _step(h: int = 32, w: int = 32, at: int = 13) -> torch.Tensor:
    a = np.full((h, w, 3), 0.2, np.float32)
    a[:, at:] = [0.8, 0.7, 0.3]
    return _t(a)


def _png(tmp_path, name: str, a: np.ndarray) -> str:
    path = tmp_path / name
    Image.fromarray((a * 255).round().astype(np.uint8) if a.dtype != np.uint8 else a).save(path)
    return str(path)


@pytest.mark.parametrize("smoother", ["guided", "matting"])
def test_smoothing_keeps_flat_flat_and_a_step_sharp(smoother):
    flat = torch.full((1, 3, 24, 24), 0.4)
    step = _step()
    for img in (flat, step):
        out = guided_filter(img, img, 4, 1e-4) if smoother == "guided" else matting_smooth(img, img)
        assert (out - img).abs().max() < 2e-3
    # a colour change along the step, smoothed with the step as guide, stays a step
    src = step.clone()
    src[:, 0] = torch.where(step[:, 0] > 0.5, 0.9, 0.1)
    out = guided_filter(step, src, 4, 1e-4) if smoother == "guided" else matting_smooth(step, src)
    assert (out[..., 12] - out[..., 13]).abs()[:, 0].min() > 0.7


def test_smoothing_removes_what_the_guide_does_not_explain():
    guide = torch.full((1, 3, 32, 32), 0.5)
    noisy = guide + 0.1 * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert guided_filter(guide, noisy, 4, 1e-4).std() < noisy.std() / 3
    assert matting_smooth(guide, noisy.clamp(0, 1)).std() < noisy.std() / 3


def _levin(img: np.ndarray, eps: float) -> sp.csr_matrix:
    """Levin et al.'s matting Laplacian built entry by entry, as a sparse matrix (the reference)."""
    h, w, _ = img.shape
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, vals = [], [], []
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            win = idx[y - 1:y + 2, x - 1:x + 2].ravel()
            pix = img[y - 1:y + 2, x - 1:x + 2].reshape(9, 3)
            d = pix - pix.mean(0)
            inv = np.linalg.inv(np.cov(pix.T, bias=True) + eps / 9 * np.eye(3))
            rows += list(np.repeat(win, 9))
            cols += list(np.tile(win, 9))
            vals += list((np.eye(9) - (1 + d @ inv @ d.T) / 9).ravel())
    return sp.coo_matrix((vals, (rows, cols)), shape=(h * w, h * w)).tocsr()


def test_matting_laplacian_operator_equals_the_sparse_matrix():
    rng = np.random.default_rng(0)
    img = rng.random((6, 8, 3))
    lap = _levin(img, 1e-3)
    op = MattingLaplacian(torch.from_numpy(img).permute(2, 0, 1)[None], 1e-3)
    p = rng.random((2, 6, 8))
    ours = (op @ torch.from_numpy(p)).numpy()
    ref = np.stack([lap @ p[c].ravel() for c in range(2)]).reshape(2, 6, 8)
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    # the guide is locally an affine function of itself: next to no energy; unrelated values: some
    guide = torch.from_numpy(img).permute(2, 0, 1)[None]
    sharp = MattingLaplacian(guide)
    assert sharp.energy(guide) < 1e-3 < sharp.energy(torch.from_numpy(p[:1])[None])


def test_upsampling_a_low_res_result_keeps_full_res_edges():
    full = _step(64, 64, at=27)  # an edge between two low-res pixels' centres
    low = torch.nn.functional.interpolate(full, size=(16, 16), mode="area")
    result_low = 1 - low  # any colour change the low-res result made
    up = upsample_affine(low, result_low, full)
    assert (up - (1 - full)).abs().max() < 0.05
    assert (up[..., 26] - up[..., 27]).abs()[:, 0].min() > 0.55  # the full 0.6 step, within one pixel
    blurred = torch.nn.functional.interpolate(result_low, size=(64, 64), mode="bilinear")
    assert (blurred[..., 26] - blurred[..., 27]).abs().max() < 0.4  # what plain upsampling would give


def test_mkl_gives_the_style_mean_lightness_spread_and_chroma_covariance():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4000, generator=gen, dtype=torch.float64) * 10
    y = torch.tensor([[2.0, 0, 0], [1, 3, 0], [0, -1, 1]], dtype=torch.float64) @ torch.randn(
        3, 5000, generator=gen, dtype=torch.float64) * 10 + torch.tensor([[50.0], [5], [-5]], dtype=torch.float64)
    out = mkl(x, y)(x)
    assert torch.allclose(out.mean(1), y.mean(1), atol=1e-6)
    assert torch.allclose(torch.cov(out)[1:, 1:], torch.cov(y)[1:, 1:], rtol=0.02, atol=0.5)
    assert torch.allclose(out[0].std(), y[0].std(), rtol=1e-3)
    assert torch.corrcoef(torch.stack([out[0], x[0]]))[0, 1] > 0.999  # lightness keeps its order
    rgb = torch.rand(1, 3, 8, 8)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4)


def _two_region_pair(tmp_path):
    """Content: left grey-green, right grey-blue; style: top orange, bottom purple; maps pair
    left with top (red label) and right with bottom (blue label)."""
    c = np.concatenate([_textured(40, 24, (0.45, 0.5, 0.45), 1), _textured(40, 24, (0.4, 0.45, 0.6), 2)], 1)
    s = np.concatenate([_textured(20, 48, (0.9, 0.55, 0.2), 3), _textured(20, 48, (0.45, 0.2, 0.5), 4)], 0)
    cseg = np.zeros((40, 48, 3), np.uint8)
    cseg[:, :24] = [255, 0, 0]
    cseg[:, 24:] = [0, 0, 255]
    sseg = np.zeros((40, 48, 3), np.uint8)
    sseg[:20] = [255, 0, 0]
    sseg[20:] = [0, 0, 255]
    return (_png(tmp_path, "c.png", c), _png(tmp_path, "s.png", s), _png(tmp_path, "cseg.png", cseg),
            _png(tmp_path, "sseg.png", sseg), s)


def test_region_transfer_takes_each_regions_colours_from_its_pair(tmp_path, monkeypatch):
    monkeypatch.setattr("brushwork.photoreal.regions.MIN_REGION_PIXELS", 64)
    c, s, cseg, sseg, style = _two_region_pair(tmp_path)
    out = photo(c, s, content_seg=cseg, style_seg=sseg)[0].permute(1, 2, 0).numpy()
    assert out.shape == (40, 48, 3)
    left, right = out[:, 2:20].reshape(-1, 3).mean(0), out[:, 28:].reshape(-1, 3).mean(0)
    top, bottom = style[:20].reshape(-1, 3).mean(0), style[20:].reshape(-1, 3).mean(0)
    assert np.abs(left - top).max() < 0.06 and np.abs(right - bottom).max() < 0.06
    # the same photos with the style's labels swapped: each side follows its label
    swapped = np.asarray(Image.open(sseg))[::-1]
    out = photo(c, s, content_seg=cseg, style_seg=_png(tmp_path, "swapped.png", swapped.copy()))
    out = out[0].permute(1, 2, 0).numpy()
    left, right = out[:, 2:20].reshape(-1, 3).mean(0), out[:, 28:].reshape(-1, 3).mean(0)
    assert np.abs(left - bottom).max() < 0.06 and np.abs(right - top).max() < 0.06


def test_automatic_regions_pair_alike_parts(tmp_path):
    c, s, _, _, style = _two_region_pair(tmp_path)
    out = photo(c, s)
    assert out.shape == (1, 3, 40, 48) and torch.isfinite(out).all()


def test_strength_zero_is_the_photo_and_full_resolution_is_kept(tmp_path, content, stripes):
    assert torch.equal(photo(content, stripes, strength=0), content)
    big = torch.nn.functional.interpolate(content, size=(96, 128), mode="bilinear").clamp(0, 1)
    out = photo(big, stripes, work_size=32)
    assert out.shape == big.shape
    half = photo(big, stripes, work_size=32, strength=0.5)
    assert torch.allclose(half, (big + out) / 2, atol=1e-5)


def test_a_greyscale_style_gives_a_monochrome_photo(content):
    grey = content.mean(1, keepdim=True).expand(-1, 3, -1, -1).flip(-1)
    out = photo(content, grey)
    assert (out - out.mean(1, keepdim=True)).abs().max() < 3 / 255


def test_bad_input_is_refused_in_one_line(tmp_path, content, stripes, monkeypatch):
    c, s, cseg, sseg, _ = _two_region_pair(tmp_path)
    other = np.zeros((20, 20, 3), np.uint8)
    green = np.zeros((40, 48, 3), np.uint8)
    green[:, :24] = [0, 255, 0]
    cases = [
        (dict(content_seg=_png(tmp_path, "small.png", other), style_seg=sseg), "must have its photo's size"),
        (dict(content_seg=_png(tmp_path, "green.png", green), style_seg=sseg), "does not appear in the style"),
        (dict(content_seg=cseg), "both segmentation maps"),
        (dict(method="paint"), "unknown method"),
        (dict(smooth="blur"), "unknown smoothing"),
        (dict(strength=1.5), "strength"),
        (dict(regions=0), "regions"),
    ]
    for kw, words in cases:
        with pytest.raises(InputError, match=words) as e:
            photo(c, s, **kw)
        assert "\n" not in str(e.value)
    for a, b in ((torch.rand(1, 3, 1, 1), stripes), (content, torch.rand(1, 3, 1, 1))):
        with pytest.raises(InputError, match="at least 8 px"):
            photo(a, b)
    monkeypatch.setattr(smooth, "MATTING_MAX_PIXELS", 1000)
    with pytest.raises(InputError, match="matting smoother is limited"):
        photo(content, stripes, smooth="matting")
