"""Prototypes of engine changes proposed from the benchmark, measured with step_overhead.py.

Nothing here is used by vs_pastiche.py. Each prototype replaces `brushwork.losses.gram` in this
process only (GramLoss looks it up at call time), and the step overhead is measured as in
step_overhead.py (one step of `optimize` vs a bare VGG forward+backward, interleaved):

  base      the engine as it is
  sym       Gram with a hand-written backward: d/dF of F Fᵀ/n is (G' + G'ᵀ) F / n, one matmul
            instead of the two autograd does (one per operand)
  sym-nhwc  as sym, and for channels_last features the (N, HW, C) view is used (Fᵀ F), so no
            NCHW copy of every tapped activation is made. (The engine's features *are* channels_last
            when the init is an image from brushwork.image.load_image: its HWC array is permuted,
            not copied, and conv outputs keep their input's layout.)
  sym-nhwc-lowp  as sym-nhwc, with the matmuls in the features' own dtype (bf16 with the bf16
            network) and G returned in fp32: no fp32 copy of the activations, half the matmul
            cost. Changes the Gram terms by < 0.5 % (like the bf16 network itself).

    .venv/bin/python bench/proposals.py --content C.png --style S.png --dtype bfloat16 --channels-last
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import brushwork.losses as losses  # noqa: E402
import step_overhead  # noqa: E402

ORIGINAL_GRAM = losses.gram


class _Gram(torch.autograd.Function):
    """G = A Aᵀ / n for A (N, C, M), with a single-matmul backward."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, n: float) -> torch.Tensor:
        ctx.save_for_backward(a)
        ctx.n = n
        return a @ a.transpose(1, 2) / n

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (a,) = ctx.saved_tensors
        return (g + g.transpose(1, 2)) @ a / ctx.n, None


class _GramT(torch.autograd.Function):
    """G = Bᵀ B / n for B (N, M, C) (the channels_last view), with a single-matmul backward."""

    @staticmethod
    def forward(ctx, b: torch.Tensor, n: float) -> torch.Tensor:
        ctx.save_for_backward(b)
        ctx.n = n
        return b.transpose(1, 2) @ b / n

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (b,) = ctx.saved_tensors
        return b @ (g + g.transpose(1, 2)) / ctx.n, None


def gram_sym(feat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    if mask is not None:
        return ORIGINAL_GRAM(feat, mask)
    n, c, h, w = feat.shape
    return _Gram.apply(feat.float().reshape(n, c, h * w), float(c * h * w))


def gram_sym_nhwc(feat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    if mask is not None:
        return ORIGINAL_GRAM(feat, mask)
    n, c, h, w = feat.shape
    if feat.is_contiguous(memory_format=torch.channels_last) and not feat.is_contiguous():
        return _GramT.apply(feat.float().permute(0, 2, 3, 1).reshape(n, h * w, c), float(c * h * w))
    return _Gram.apply(feat.float().reshape(n, c, h * w), float(c * h * w))


class _GramTLow(torch.autograd.Function):
    """As _GramT but B stays in its dtype (bf16): G = (Bᵀ B).float() / n; the gradient is B's dtype."""

    @staticmethod
    def forward(ctx, b: torch.Tensor, n: float) -> torch.Tensor:
        ctx.save_for_backward(b)
        ctx.n = n
        return (b.transpose(1, 2) @ b).float() / n

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (b,) = ctx.saved_tensors
        return b @ ((g + g.transpose(1, 2)) / ctx.n).to(b.dtype), None


def gram_sym_nhwc_lowp(feat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    if mask is not None or feat.dtype == torch.float32:
        return gram_sym_nhwc(feat, mask)
    n, c, h, w = feat.shape
    if feat.is_contiguous(memory_format=torch.channels_last) and not feat.is_contiguous():
        return _GramTLow.apply(feat.permute(0, 2, 3, 1).reshape(n, h * w, c), float(c * h * w))
    return _GramTLow.apply(feat.reshape(n, c, h * w).transpose(1, 2), float(c * h * w))


PROTOTYPES = {"base": ORIGINAL_GRAM, "sym": gram_sym, "sym-nhwc": gram_sym_nhwc, "sym-nhwc-lowp": gram_sym_nhwc_lowp}
CHECKED = ("base", "sym", "sym-nhwc")  # exact rewrites; lowp is checked against bf16 rounding separately


def check() -> float:
    """Largest relative difference of value and gradient vs the original gram (NCHW and NHWC input)."""
    worst = 0.0
    for cl in (False, True):
        f = torch.randn(1, 64, 24, 32)
        if cl:
            f = f.contiguous(memory_format=torch.channels_last)
        t = torch.randn(1, 64, 64) * 0.1
        ref = None
        for fn in (PROTOTYPES[k] for k in CHECKED):
            x = f.clone().requires_grad_(True)
            loss = ((fn(x) - t) ** 2).sum()
            (g,) = torch.autograd.grad(loss, x)
            if ref is None:
                ref = (loss.detach(), g)
            else:
                worst = max(worst, float((loss.detach() - ref[0]).abs() / ref[0].abs()),
                            float((g - ref[1]).abs().max() / ref[1].abs().max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--content", required=True)
    ap.add_argument("--style", required=True)
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2, help="measurements per prototype, alternating")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    print(f"prototypes agree with the original gram to {check():.1e} (relative)")
    out = []
    for _ in range(a.rounds):
        for name, fn in PROTOTYPES.items():
            losses.gram = fn
            r = step_overhead.measure(a.content, a.style, getattr(torch, a.dtype), a.steps,
                                      channels_last=a.channels_last)
            r["prototype"] = name
            out.append(r)
            print(f"{name:9s} {a.dtype} channels_last={a.channels_last}: step {r['step_median_s']:.3f} s, "
                  f"bare {r['bare_median_s']:.3f} s, overhead {r['overhead_pct']:+.1f} % "
                  f"(paired {r['overhead_pct_paired_median']:+.1f} %)", flush=True)
    losses.gram = ORIGINAL_GRAM
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
