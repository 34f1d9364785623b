"""Feature statistics: the Gram matrix (its hand-written backward and its layouts agree with
plain autograd, at any rank), mean/std and AdaIN, whitening and colouring."""
import pytest
import torch

from brushwork.features.stats import adain, colour, gram, mean_covariance, mean_std, positions_by_channels, wct, whiten


def reference_gram(feat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    n, c = feat.shape[:2]
    f = feat.double().reshape(n, c, -1)
    if mask is None:
        return f @ f.transpose(1, 2) / (c * f.shape[-1])
    m = mask.double().reshape(n, 1, -1)
    return (f * m) @ (f * m).transpose(1, 2) / (c * m.pow(2).sum(-1, keepdim=True))


def value_and_grad(fn, feat, mask, target):
    x = feat.clone().requires_grad_(True)
    loss = ((fn(x, mask).double() - target) ** 2).sum()
    (g,) = torch.autograd.grad(loss, x)
    return float(loss.detach()), g.double()


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("masked", [False, True])
def test_gram_value_and_gradient_match_autograd(layout, masked):
    torch.manual_seed(0)
    feat = torch.randn(2, 16, 6, 10).relu()
    if layout == "channels_last":
        feat = feat.contiguous(memory_format=torch.channels_last)
    mask = torch.rand(2, 1, 6, 10) if masked else None
    target = torch.randn(2, 16, 16).double() * 0.1
    ref_loss, ref_grad = value_and_grad(reference_gram, feat, mask, target)
    loss, grad = value_and_grad(gram, feat, mask, target)
    assert gram(feat, mask).dtype == torch.float32
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert torch.allclose(grad, ref_grad, rtol=1e-4, atol=1e-6)


def test_gram_in_bf16_stays_within_bf16_rounding():
    torch.manual_seed(0)
    feat = torch.randn(1, 32, 12, 12).relu() * 50
    g16 = gram(feat.bfloat16())
    assert g16.dtype == torch.float32
    ref = reference_gram(feat.bfloat16().float())
    assert ((g16.double() - ref).abs().max() / ref.abs().max()) < 1e-2


def test_gram_promotes_half_precision_to_avoid_overflow():
    feat = torch.full((1, 4, 64, 64), 300.0, dtype=torch.float16)
    assert torch.isfinite(gram(feat)).all()


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("masked", [False, True])
def test_gram_of_1d_features_matches_autograd(layout, masked):
    """(N, C, T) features, e.g. filters over a spectrogram's frames; channels-last is (N, T, C) transposed."""
    torch.manual_seed(0)
    feat = torch.randn(2, 16, 40).relu()
    if layout == "channels_last":
        feat = feat.transpose(1, 2).contiguous().transpose(1, 2)
    mask = torch.rand(2, 1, 40) if masked else None
    target = torch.randn(2, 16, 16).double() * 0.1
    ref_loss, ref_grad = value_and_grad(reference_gram, feat, mask, target)
    loss, grad = value_and_grad(gram, feat, mask, target)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert torch.allclose(grad, ref_grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("feat", [
    torch.randn(2, 8, 5, 7).contiguous(memory_format=torch.channels_last),
    torch.randn(2, 8, 5, 7),
    torch.randn(2, 9, 8).transpose(1, 2),
    torch.randn(2, 8, 9),
], ids=["nhwc", "nchw", "ntc", "nct"])
def test_positions_by_channels_reads_every_layout_without_a_copy(feat):
    b = positions_by_channels(feat)
    assert b.shape == (2, feat[0, 0].numel(), feat.shape[1])
    assert b.untyped_storage().data_ptr() == feat.untyped_storage().data_ptr()
    assert torch.equal(b, feat.flatten(2).transpose(1, 2))


def test_mean_std_at_any_rank_and_in_a_mask():
    torch.manual_seed(0)
    feat = torch.randn(2, 3, 50) * 4 + 7
    mean, std = mean_std(feat)
    assert mean.shape == std.shape == (2, 3, 1)
    torch.testing.assert_close(mean[..., 0], feat.mean(-1))
    torch.testing.assert_close(std[..., 0], feat.std(-1, correction=0), rtol=1e-4, atol=1e-4)
    mask = torch.zeros(2, 1, 50)
    mask[..., :20] = 1
    m_mean, _ = mean_std(feat, mask)
    torch.testing.assert_close(m_mean[..., 0], feat[..., :20].mean(-1))


def test_adain_gives_the_content_the_style_statistics():
    torch.manual_seed(0)
    c, s = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 6, 6) * 3 - 2
    out = adain(c, *mean_std(c), *mean_std(s))
    for got, want in zip(mean_std(out), mean_std(s)):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3)


def test_wct_colours_the_content_with_the_style_covariance():
    torch.manual_seed(0)
    content = torch.randn(1, 6, 12, 12)
    mix = torch.randn(6, 6)
    style = (mix @ torch.randn(1, 6, 100) + torch.arange(6.0)[:, None]).reshape(1, 6, 10, 10)  # correlated
    white = whiten(content)
    _, w_cov = mean_covariance(white)
    torch.testing.assert_close(w_cov[0], torch.eye(6, dtype=torch.float64), atol=1e-4, rtol=0)
    out = wct(content, style)
    assert out.shape == content.shape and out.dtype == content.dtype
    (o_mean, o_cov), (s_mean, s_cov) = mean_covariance(out), mean_covariance(style)
    torch.testing.assert_close(o_cov, s_cov, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(o_mean, s_mean, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(wct(content, style, alpha=0.0), content)
    torch.testing.assert_close(colour(white, *mean_covariance(content)), content, rtol=1e-3, atol=1e-3)
