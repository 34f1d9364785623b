"""The Gram matrix: its hand-written backward and its layouts agree with plain autograd."""
import pytest
import torch

from brushwork.losses import gram


def reference_gram(feat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    n, c, h, w = feat.shape
    f = feat.double().reshape(n, c, h * w)
    if mask is None:
        return f @ f.transpose(1, 2) / (c * h * w)
    m = mask.double().reshape(n, 1, h * w)
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
