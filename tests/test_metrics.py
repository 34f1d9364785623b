"""Metrics: identities, monotone behaviour, texture-vs-unrelated ordering, determinism, input errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data
from skimage.filters import gaussian
from skimage.metrics import structural_similarity

from brushwork import metrics
from brushwork.errors import InputError
from brushwork.image import load_image, luminance

CPU = "cpu"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return (data.astronaut()[::4, ::4] / 255.0).astype(np.float32)  # 128 x 128 RGB


@pytest.fixture(scope="module")
def brick() -> np.ndarray:
    return (data.brick() / 255.0).astype(np.float32)  # 512 x 512 grey


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return np.clip(img + np.random.default_rng(seed).normal(0, sigma, img.shape), 0, 1).astype(np.float32)


def test_ssim_identity_and_monotone_in_noise(astronaut):
    assert metrics.ssim(astronaut, astronaut, device=CPU) == pytest.approx(1.0, abs=1e-9)
    scores = [metrics.ssim(astronaut, noisy(astronaut, s), device=CPU) for s in (0.02, 0.05, 0.1, 0.2)]
    assert all(a > b for a, b in zip(scores, scores[1:]))
    assert scores[-1] < 0.7


def test_ssim_matches_skimage_on_luminance(astronaut):
    other = noisy(astronaut, 0.1)
    ya, yb = (luminance(load_image(x))[0, 0].numpy() for x in (astronaut, other))
    ref = structural_similarity(ya, yb, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert metrics.ssim(astronaut, other, device=CPU) == pytest.approx(ref, abs=1e-5)


def test_ssim_resizes_b_to_a(astronaut):
    big = data.astronaut()[::2, ::2]  # 256 px, same picture
    assert metrics.ssim(astronaut, big, device=CPU) > 0.9


def test_content_distance_zero_for_identity_and_grows_with_blur(astronaut):
    assert metrics.content_distance(astronaut, astronaut, device=CPU) == 0.0
    dists = [metrics.content_distance(gaussian(astronaut, s, channel_axis=-1), astronaut, device=CPU)
             for s in (0.7, 1.5, 3.0)]
    assert 0 < dists[0] < dists[1] < dists[2]


def test_gram_distance_identity(astronaut):
    assert metrics.gram_distance(astronaut, astronaut, device=CPU) == pytest.approx(0.0, abs=1e-10)


def test_texture_crop_closer_than_unrelated_image(brick, astronaut):
    image, same_texture = brick[:96, :96], brick[256:352, 300:396]
    assert (metrics.gram_distance(image, same_texture, device=CPU)
            < metrics.gram_distance(image, astronaut, device=CPU))
    assert (metrics.sliced_wasserstein(image, same_texture, device=CPU)
            < metrics.sliced_wasserstein(image, astronaut, device=CPU))


def test_sliced_wasserstein_deterministic_and_seeded(brick, astronaut):
    image, style = brick[:64, :64], astronaut[:, :96]  # non-square style: unequal feature counts
    a = metrics.sliced_wasserstein(image, style, projections=16, seed=3, device=CPU)
    b = metrics.sliced_wasserstein(image, style, projections=16, seed=3, device=CPU)
    c = metrics.sliced_wasserstein(image, style, projections=16, seed=4, device=CPU)
    assert a == b and a != c and np.isfinite(a) and a > 0
    assert metrics.sliced_wasserstein(image, image, device=CPU) == pytest.approx(0.0, abs=1e-7)


def test_quantiles_interpolate_between_counts():
    s = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    assert torch.equal(metrics._quantiles(s, 4), s)
    q = metrics._quantiles(s, 8)[:, 0]
    assert q.shape == (8,) and q[0] == 0 and q[-1] == 3 and bool((q[1:] >= q[:-1]).all())
    assert metrics._quantiles(s, 2)[:, 0].tolist() == pytest.approx([0.5, 2.5])


def test_evaluate_matches_single_metrics(brick, astronaut):
    image, content, style = noisy(astronaut, 0.05), astronaut, brick[:128, :128]
    r = metrics.evaluate(image, content=content, style=style, device=CPU, projections=8)
    assert set(r) == {"ssim", "content_distance", "gram_distance", "sliced_wasserstein"}
    assert r["ssim"] == pytest.approx(metrics.ssim(image, content, device=CPU))
    assert r["content_distance"] == pytest.approx(metrics.content_distance(image, content, device=CPU))
    assert r["gram_distance"] == pytest.approx(metrics.gram_distance(image, style, device=CPU))
    assert r["sliced_wasserstein"] == pytest.approx(
        metrics.sliced_wasserstein(image, style, projections=8, device=CPU))
    assert all(isinstance(v, float) for v in r.values())


def test_evaluate_several_styles_and_table(brick, astronaut):
    r = metrics.evaluate(astronaut, style=[brick[:128, :128], astronaut], device=CPU, projections=8)
    assert "ssim" not in r
    assert r["gram_distance[2]"] == pytest.approx(0.0, abs=1e-10)
    assert r["gram_distance"] == pytest.approx((r["gram_distance[1]"] + r["gram_distance[2]"]) / 2)
    assert r["sliced_wasserstein"] == pytest.approx(
        (r["sliced_wasserstein[1]"] + r["sliced_wasserstein[2]"]) / 2)
    table = metrics.format_table(r).splitlines()
    assert table[0].split() == ["metric", "value", "meaning"]
    assert len(table) == 2 + len(r)
    assert any(line.startswith("gram_distance[1]") and "lower = closer" in line for line in table)
    assert len({len(line.split("  lower")[0]) for line in table[2:]}) == 1  # values right-aligned


@pytest.mark.parametrize("call", [
    lambda x: metrics.content_distance(x, x, layer="relu9_9", device=CPU),
    lambda x: metrics.gram_distance(x, x, layers=["relu1_1", "fc7"], device=CPU),
    lambda x: metrics.gram_distance(x, x, layers=[], device=CPU),
    lambda x: metrics.sliced_wasserstein(x, x, projections=0, device=CPU),
    lambda x: metrics.sliced_wasserstein(x, x, projections=2.5, device=CPU),
    lambda x: metrics.evaluate(x, device=CPU),
    lambda x: metrics.evaluate(x, style=x, style_layers=["pool1"], device=CPU),
    lambda x: metrics.ssim(x, x, device="tpu"),
    lambda x: metrics.ssim(x[:8, :8], x[:8, :8], device=CPU),
    lambda x: metrics.ssim(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), device=CPU),
])
def test_bad_inputs_raise_input_error(astronaut, call):
    with pytest.raises(InputError) as e:
        call(astronaut)
    assert "\n" not in str(e.value)
