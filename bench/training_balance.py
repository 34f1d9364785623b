"""What do the training losses ask for? Their pixel optimum, at the default weights and multiples.

A feed-forward network can only learn to approximate the image that minimises its loss, so the
minimiser shows whether a loss balance asks for a painting or for a tinted photo, in minutes and
without training. For the first photo of the training set (256 px) and a painting, this runs
L-BFGS on the pixels from the photo, for the fast/multistyle loss (`train.FAST_*`: content
relu2_2, Gram relu1_1..relu4_1, TV) at style-weight multipliers `--fast`, and for the AdaIN
decoder's loss (`train.ADAIN_*`: relu4_1 against the AdaIN target, mean/std) at `--adain`.
It writes one sheet: the photo, then each optimum, labelled.

    .venv/bin/python bench/training_balance.py                       # wave; fast 0.1 1 10, AdaIN 1
    .venv/bin/python bench/training_balance.py --style udnie.jpg --fast 1 --adain 0.3 1 3
Results: bench/results/<timestamp>-balance/{sheet.png,losses.json}.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from _common import REPO, data_dir  # noqa: E402
from brushwork.features import vgg19  # noqa: E402
from brushwork.training.data import ImageFolder  # noqa: E402
from brushwork.feedforward.networks import ADAIN_TAPS, FEATURE_SCALE, adain, mean_std  # noqa: E402
from brushwork.feedforward.train import (ADAIN_CONTENT, ADAIN_STYLE, CONTENT_LAYER, FAST_CONTENT,  # noqa: E402
                                         FAST_STYLE, FAST_TV, STYLE_LAYERS)
from brushwork.image import fit, load_image, resize, save_image  # noqa: E402
from brushwork.losses import TVLoss, gram  # noqa: E402


def features(vgg, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {t: f / FEATURE_SCALE[t] for t, f in vgg(x).items()}


def fast_loss(photo: torch.Tensor, style: torch.Tensor, multiple: float):
    vgg = vgg19((CONTENT_LAYER, *STYLE_LAYERS), device="cpu")
    with torch.no_grad():
        content = features(vgg, photo)[CONTENT_LAYER]
        fs = features(vgg, resize(style, fit(style.shape[-2:], 512)))   # the training's style size
        targets = {t: gram(fs[t]) for t in STYLE_LAYERS}
    tv = TVLoss(FAST_TV)

    def loss(y: torch.Tensor) -> dict[str, torch.Tensor]:
        f = features(vgg, y)
        return {"content": FAST_CONTENT * F.mse_loss(f[CONTENT_LAYER], content),
                "style": FAST_STYLE * multiple / len(STYLE_LAYERS)
                * sum(F.mse_loss(gram(f[t]), targets[t]) for t in STYLE_LAYERS),
                "tv": tv(y, {})}
    return loss


def adain_loss(photo: torch.Tensor, style: torch.Tensor, multiple: float):
    vgg = vgg19(ADAIN_TAPS, device="cpu")
    with torch.no_grad():
        fc = features(vgg, photo)["relu4_1"]
        fs = features(vgg, resize(style, fit(style.shape[-2:], photo.shape[-1])))
        target = adain(fc, *mean_std(fc), *mean_std(fs["relu4_1"]))

    def loss(y: torch.Tensor) -> dict[str, torch.Tensor]:
        g = features(vgg, y)
        style_term = sum(F.mse_loss(a, b) for t in ADAIN_TAPS for a, b in zip(mean_std(g[t]), mean_std(fs[t])))
        return {"content": ADAIN_CONTENT * F.mse_loss(g["relu4_1"], target),
                "style": ADAIN_STYLE * multiple * style_term}
    return loss


def optimum(photo: torch.Tensor, loss, rounds: int) -> tuple[torch.Tensor, dict[str, float]]:
    y = photo.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([y], max_iter=20, history_size=20, line_search_fn="strong_wolfe")
    last: dict[str, float] = {}

    def closure() -> torch.Tensor:
        opt.zero_grad()
        terms = loss(y)
        total = sum(terms.values())
        total.backward()
        last.update({k: float(v.detach()) for k, v in terms.items()})
        return total
    for _ in range(rounds):
        opt.step(closure)
        with torch.no_grad():
            y.clamp_(0, 1)
    return y.detach(), last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--style", default="wave.jpg", help="a painting in $BRUSHWORK_DATA/samples/style")
    ap.add_argument("--fast", type=float, nargs="*", default=[0.1, 1.0, 10.0], help="style-weight multiples")
    ap.add_argument("--adain", type=float, nargs="*", default=[1.0], help="style-weight multiples")
    ap.add_argument("--rounds", type=int, default=6, help="L-BFGS rounds of 20 iterations")
    a = ap.parse_args()
    out = REPO / "bench" / "results" / f"{datetime.now():%Y%m%d-%H%M%S}-balance"
    out.mkdir(parents=True)
    photo = ImageFolder(data_dir() / "photos").load(0)
    photo = resize(photo, fit(photo.shape[-2:], 256))
    style = load_image(data_dir() / "samples" / "style" / a.style)
    images, losses = [photo], {}
    for kind, multiples, make in (("fast", a.fast, fast_loss), ("adain", a.adain, adain_loss)):
        for m in multiples:
            image, last = optimum(photo, make(photo, style, m), a.rounds)
            images.append(image)
            losses[f"{kind} ×{m:g}"] = last
            print(f"{kind} ×{m:g}: " + ", ".join(f"{k} {v:.3f}" for k, v in last.items()), flush=True)
    save_image(torch.cat(images, dim=-1), out / "sheet.png")
    (out / "losses.json").write_text(json.dumps({"style": a.style, "order": ["photo", *losses],
                                                 "losses": losses}, indent=2))
    print(f"sheet (photo, then {', '.join(losses)}): {out / 'sheet.png'}")


if __name__ == "__main__":
    main()
