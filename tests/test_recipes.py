"""Texture synthesis and CNN-representation inversion."""

import brushwork
from brushwork.metrics import gram_distance, ssim
from brushwork.optimize.common import noise_like


def test_texture_matches_the_sample_at_another_size(dots):
    # 80 steps: fp32 (CPUs without native bf16) reaches 0.35 of noise's distance at 40 and 0.22 at 80
    out = brushwork.texture(dots, size=(48, 96), steps=80, device="cpu", seed=0)
    assert out.shape == (1, 3, 48, 96)
    noise = noise_like((1, 3, 48, 96), seed=0)
    assert gram_distance(out, dots) < 0.3 * gram_distance(noise, dots)


def test_reconstruction_from_a_shallow_layer_resembles_the_source(content):
    """relu2_2 keeps nearly all of a 64-px image (128 channels at half resolution), so inversion
    from noise should recover its structure: SSIM well above the ~0 of the noise it starts from."""
    out = brushwork.reconstruct(content, layer="relu2_2", size=64, steps=150, device="cpu", seed=0)
    start = noise_like(out.shape, seed=0)
    assert ssim(start, content) < 0.1
    assert ssim(out, content) > 0.6


def test_deep_layers_keep_less_than_shallow_ones(content):
    shallow = brushwork.reconstruct(content, layer="relu1_2", size=64, steps=60, device="cpu", seed=0)
    deep = brushwork.reconstruct(content, layer="relu5_1", size=64, steps=60, device="cpu", seed=0)
    assert ssim(shallow, content) > ssim(deep, content)
