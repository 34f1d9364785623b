"""Translation quality and speed: pix2pix against the L1-only U-Net on held-out pairs, an
unpaired model's KID before and after training, time per 512 px translation, and example sheets.

    .venv/bin/python bench/translate_quality.py --pix2pix edges2photo.bw [more.bw ...] --l1 edges2photo_l1.bw \\
        --unpaired photo2painting.bw --sheets docs/images

pix2pix: the held-out pairs are the ones the model's card lists (`holdout`); each edge map is
translated at full resolution and compared with its true photo: L1 (mean absolute error in
[0, 1]), SSIM, and sharpness (variance of the Laplacian of the grey image, reported relative to
the true photo's: 1 = as sharp as the photo). Unpaired: KID (Binkowski et al. 2018, cubic
polynomial kernel, unbiased) between VGG-19 relu5_1 features (spatially averaged; Inception
weights are not available offline) of translated held-out photos (`--photos`, not in training)
and the target domain, for the photos as they are, the untrained generator (same architecture
and seed) and the trained one. Prints a markdown table; writes results.json under --out.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import brushwork
from brushwork.feedforward.modelfile import load_model, read_card
from brushwork.features import vgg19
from brushwork.image import fit, load_image, resize, save_image
from brushwork.metrics import ssim
from brushwork.training.data import ImageFolder
from brushwork.translate.model import TranslationModel, build_translator
from brushwork.translate.networks import init_weights

DATA = Path(os.environ.get("BRUSHWORK_DATA", "../shared/data"))


def sharpness(img: torch.Tensor) -> float:
    grey = img.mean(1, keepdim=True)
    lap = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return float(F.conv2d(grey, lap).var())


def held_out_pairs(card: dict) -> list[tuple[Path, Path]]:
    """(input, true output) for each held-out pair the card lists, in the model's direction."""
    t = card["training"]
    root = Path(t["data_path"])
    names = t["data"].get("held_out") or []
    out = []
    for n in names:
        stem = Path(n).stem
        b = next(p for p in (root / "B").iterdir() if p.stem == stem)
        out.append((b, root / "A" / n) if t.get("direction") == "BtoA" else (root / "A" / n, b))
    return out


def pix2pix_scores(model: TranslationModel, pairs: list[tuple[Path, Path]]) -> dict[str, float]:
    l1, ss, sharp = [], [], []
    for a, b in pairs:
        x, y = load_image(a), load_image(b)
        out = brushwork.translate(x, model, device="cpu")
        l1.append(float((out - y).abs().mean()))
        ss.append(ssim(out, y, device="cpu"))
        sharp.append(sharpness(out) / sharpness(y))
    n = len(pairs)
    return {"L1": sum(l1) / n, "SSIM": sum(ss) / n, "sharpness": sum(sharp) / n}


def vgg_features(images: list[torch.Tensor], vgg, side: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([vgg(resize(i, fit(i.shape[-2:], side)))["relu5_1"].mean((2, 3)) for i in images])


def kid(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD² with the kernel (x·y / d + 1)³."""
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - kxx.diag().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diag().sum()) / (n * (n - 1))
                 - 2 * kxy.mean())


def untrained(card: dict) -> TranslationModel:
    torch.manual_seed(int(card["training"]["seed"]))
    net = build_translator(card["architecture"])
    for g in net.directions.values():
        init_weights(g)
    return TranslationModel(net, card, "cpu")


def time_512(model: TranslationModel, repeats: int = 3) -> float:
    x = torch.rand(1, 3, 512, 512)
    brushwork.translate(x, model, device="cpu")
    t = time.perf_counter()
    for _ in range(repeats):
        brushwork.translate(x, model, device="cpu")
    return (time.perf_counter() - t) / repeats


def sheet(rows: list[list[torch.Tensor]], height: int = 192, pad: int = 4) -> torch.Tensor:
    lines = []
    for row in rows:
        cells = [resize(c, (height, max(1, round(c.shape[-1] * height / c.shape[-2])))) for c in row]
        gap = torch.ones(1, 3, height, pad)
        lines.append(torch.cat([t for c in cells for t in (c, gap)][:-1], dim=-1))
    width = max(line.shape[-1] for line in lines)
    lines = [F.pad(line, (0, width - line.shape[-1]), value=1.0) for line in lines]
    gap = torch.ones(1, 3, pad, width)
    return torch.cat([t for line in lines for t in (line, gap)][:-1], dim=-2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pix2pix", type=Path, nargs="+", help="pix2pix models (compared side by side, by file name)")
    ap.add_argument("--l1", type=Path, help="the L1-only U-Net of the same size and budget")
    ap.add_argument("--unpaired", type=Path)
    ap.add_argument("--photos", type=Path, default=DATA / "photos" / "kodak24_mcmaster")
    ap.add_argument("--max-photos", type=int, default=12, help="held-out photos translated (evenly spaced)")
    ap.add_argument("--targets", type=int, default=80, help="target-domain images for KID (evenly spaced)")
    ap.add_argument("--feature-side", type=int, default=192, help="long side the images are seen by VGG at")
    ap.add_argument("--sheets", type=Path, help="folder for the example sheets (docs/images)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/translate"))
    a = ap.parse_args()
    torch.set_num_threads(1)  # one thread: steady timings on a shared machine
    a.out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    if a.pix2pix:
        pairs = held_out_pairs(read_card(a.pix2pix[0]))
        models = {p.stem: load_model(p, "cpu") for p in a.pix2pix}
        if a.l1:
            models["L1 only"] = load_model(a.l1, "cpu")
        for name, m in models.items():
            t = m.card["training"]
            results[name] = {**pix2pix_scores(m, pairs), "pairs": len(pairs), "steps": t["steps"],
                             "train_seconds": t["seconds"], "s_per_step": t["seconds"] / max(1, t["steps"]),
                             "s_per_512px": time_512(m)}
        if a.sheets:
            rows = []
            for pa, pb in pairs[:4]:
                x = load_image(pa)
                rows.append([x, *(brushwork.translate(x, m, device="cpu") for m in models.values()), load_image(pb)])
            save_image(sheet(rows), a.sheets / f"translate_{a.pix2pix[0].stem}.png")
    if a.unpaired:
        model = load_model(a.unpaired, "cpu")
        t = model.card["training"]
        target = ImageFolder(t["b_path"])
        vgg = vgg19(("relu5_1",), device="cpu")
        files = ImageFolder(a.photos).files
        files = files[::max(1, len(files) // a.max_photos)][:a.max_photos]
        photos = [load_image(p) for p in files]
        photos = [resize(p, fit(p.shape[-2:], 512)) for p in photos]
        picks = range(0, len(target), max(1, len(target) // a.targets))
        fy = vgg_features([target.load(i) for i in picks][:a.targets], vgg, a.feature_side)
        before = untrained(model.card)
        outs = {"photos as they are": photos,
                "untrained generator": [brushwork.translate(p, before, device="cpu") for p in photos],
                "trained": [brushwork.translate(p, model, device="cpu") for p in photos]}
        results["unpaired"] = {k: kid(vgg_features(v, vgg, a.feature_side), fy) for k, v in outs.items()}
        results["unpaired"].update(steps=t["steps"], train_seconds=t["seconds"],
                                   s_per_step=t["seconds"] / max(1, t["steps"]), s_per_512px=time_512(model),
                                   photos=len(photos), targets=len(fy))
        if a.sheets:
            rows = [[outs["photos as they are"][i], outs["untrained generator"][i], outs["trained"][i]]
                    for i in range(0, len(photos), max(1, len(photos) // 4))][:4]
            save_image(sheet(rows), a.sheets / f"translate_{a.unpaired.stem}.png")
    (a.out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
