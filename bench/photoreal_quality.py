"""Photorealistic stylization: quality on the Deep Photo pairs, and time and memory at 1 MP.

For every pair in $BRUSHWORK_DATA/samples/photoreal (in<N>.png, tar<N>.png, seg_in<N>.png,
seg_tar<N>.png) and every method, at the pair's own size (700 px long side):

- edge fidelity: SSIM of the luminances with the content, and the correlation of the
  luminance gradients (Sobel x and y) with the content's (1 = every edge where it was);
- photorealism: the matting-Laplacian energy of the output with the content as guide
  (sum over channels of x^T L x per pixel, x 0..1; lower: more locally affine in the photo);
- style match: per region of the segmentation maps, the Bures-Wasserstein distance in Lab
  between the output's and the style region's colour Gaussians, weighted by region share
  (the content itself is listed as the starting point).

Then each method runs once more in its own process on a 1 MP copy of in3 (1225x818) for its
wall time and peak RSS (`_measure.py`; the RSS includes Python and torch themselves, listed as
'import only'). Methods: the plain global colour transfer of brushwork.image.match_histogram
(RGB mean and covariance, no regions, no smoothing) as the baseline, and brushwork.photo with
automatic regions, without regions, with the segmentation maps, and with the matting smoother;
PhotoWCT (`--method wct`, the shipped decoders) and Deep Photo (`--method optimize`); and neural
style (`stylize`, the painting method) on the same pairs.

    .venv/bin/python bench/photoreal_quality.py [--pairs 3,9,14,15] [--no-timing] [--threads N] [--only TEXT ...]

`--threads N` runs the timed processes with N torch threads (on a machine shared with other
work, one thread is often faster than two).

Writes bench/results/photoreal-<time>/ (results.json, table.md, every output PNG, sheet.jpg:
the comparison sheet in docs/images/photoreal_sheet.jpg).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brushwork import photo, stylize  # noqa: E402
from brushwork.image import fit, load_image, luminance, match_histogram, resize, save_image  # noqa: E402
from brushwork.metrics import ssim  # noqa: E402
from brushwork.photoreal.colour import rgb_to_lab  # noqa: E402
from brushwork.photoreal.regions import load_segmentation, pair_segmentations  # noqa: E402
from brushwork.photoreal.smooth import MattingLaplacian  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ENERGY_SIDE = 512  # the matting energy is computed at this long side (the exact smoother's scale)


def data_dir() -> Path:
    return Path(os.environ.get("BRUSHWORK_DATA", REPO.parent / "shared" / "data")) / "samples" / "photoreal"


def methods(seg_c: str, seg_s: str) -> dict[str, dict]:
    """name -> keyword arguments of brushwork.photo (None: the baseline)."""
    return {
        "baseline: global colour transfer": None,
        "photo (default: auto regions, guided)": {},
        "photo, no regions": {"auto_regions": False},
        "photo, segmentation maps": {"content_seg": seg_c, "style_seg": seg_s},
        "photo, segmentation maps, matting": {"content_seg": seg_c, "style_seg": seg_s, "smooth": "matting"},
        "photo --method wct (PhotoWCT), auto regions": {"method": "wct"},
        "photo --method wct, no regions": {"method": "wct", "auto_regions": False},
        "photo --method wct, segmentation maps": {"method": "wct", "content_seg": seg_c, "style_seg": seg_s},
        "photo --method wct, segmentation maps, matting": {"method": "wct", "content_seg": seg_c, "style_seg": seg_s,
                                                           "smooth": "matting"},
        "photo --method optimize (Deep Photo), segmentation maps": {"method": "optimize", "content_seg": seg_c,
                                                                    "style_seg": seg_s},
        "neural style: stylize at the photo's size": {"stylize": True},
    }


def run(kw: dict | None, content: str, style: str) -> torch.Tensor:
    if kw is None:
        return match_histogram(load_image(content), load_image(style))
    if kw.get("stylize"):
        return stylize(content, style, size=None)
    return photo(content, style, **kw)


def grad_corr(a: torch.Tensor, b: torch.Tensor) -> float:
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    k = torch.stack([sobel, sobel.T])[:, None]
    ga, gb = F.conv2d(luminance(a), k).flatten(), F.conv2d(luminance(b), k).flatten()
    ga, gb = ga - ga.mean(), gb - gb.mean()
    return float((ga * gb).sum() / (ga.norm() * gb.norm()))


def matting_energy(out: torch.Tensor, content: torch.Tensor) -> float:
    hw = fit(content.shape[-2:], ENERGY_SIDE)
    c, o = resize(content, hw), resize(out, hw)
    return MattingLaplacian(c).energy(o) / (hw[0] * hw[1])


def _gauss(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.double()
    return x.mean(1), torch.cov(x) + 1e-6 * torch.eye(3, dtype=torch.float64)


def _sqrtm(m: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(m)
    return vecs @ torch.diag(vals.clamp_min(0).sqrt()) @ vecs.T


def region_distance(out: torch.Tensor, style: torch.Tensor, seg_c: str, seg_s: str) -> float:
    """Share-weighted Bures-Wasserstein distance (Lab) between paired regions' colour Gaussians."""
    pair = pair_segmentations(load_segmentation(seg_c, tuple(out.shape[-2:]), "content seg"),
                              load_segmentation(seg_s, tuple(style.shape[-2:]), "style seg"), "seg")
    lo, ls = rgb_to_lab(out)[0].reshape(3, -1), rgb_to_lab(style)[0].reshape(3, -1)
    total, dist = 0.0, 0.0
    for k in range(len(pair.names)):
        mc, ms = pair.content.reshape(-1) == k, pair.style.reshape(-1) == k
        if mc.sum() < 100 or ms.sum() < 100:
            continue
        (m1, c1), (m2, c2) = _gauss(lo[:, mc]), _gauss(ls[:, ms])
        r = _sqrtm(c1)
        w2 = float(((m1 - m2) ** 2).sum() + torch.trace(c1 + c2 - 2 * _sqrtm(r @ c2 @ r)))
        share = float(mc.float().mean())
        total += share
        dist += share * max(w2, 0.0) ** 0.5
    return dist / total


def selected(name: str, only: list[str] | None) -> bool:
    """Whether `--only` (substrings of method names) keeps method `name`."""
    return only is None or any(o in name for o in only)


def quality(pairs: list[str], out_dir: Path, only: list[str] | None) -> dict:
    d = data_dir()
    results: dict = {}
    for n in pairs:
        c, s = str(d / f"in{n}.png"), str(d / f"tar{n}.png")
        seg_c, seg_s = str(d / f"seg_in{n}.png"), str(d / f"seg_tar{n}.png")
        content, style = load_image(c), load_image(s)
        rows = {"content (unchanged)": {"ssim": 1.0, "grad_corr": 1.0,
                                        "matting_energy": matting_energy(content, content),
                                        "region_colour_distance": region_distance(content, style, seg_c, seg_s)}}
        for name, kw in methods(seg_c, seg_s).items():
            if not selected(name, only):
                continue
            t = time.perf_counter()
            out = run(kw, c, s)
            seconds = time.perf_counter() - t
            save_image(out, out_dir / f"in{n}_{len(rows)}.png")
            rows[name] = {"ssim": ssim(out, content, device="cpu"), "grad_corr": grad_corr(out, content),
                          "matting_energy": matting_energy(out, content),
                          "region_colour_distance": region_distance(out, style, seg_c, seg_s),
                          "seconds_700px": seconds}
            print(n, name, {k: round(v, 4) for k, v in rows[name].items()}, flush=True)
        results[n] = rows
    return results


def sheet(q: dict, out_dir: Path, height: int = 200) -> Path:
    """One row per pair: the photo, the reference, then every method's output, labelled."""
    from PIL import Image, ImageDraw
    d = data_dir()
    rows = []
    for n, results in q.items():
        names = list(results)
        files = [d / f"in{n}.png", d / f"tar{n}.png"] + [out_dir / f"in{n}_{k}.png" for k in range(1, len(names))]
        labels = ["photo", "reference"] + names[1:]
        tiles = []
        for f, label in zip(files, labels):
            im = Image.open(f).convert("RGB")
            im = im.resize((round(im.width * height / im.height), height), Image.LANCZOS)
            ImageDraw.Draw(im).rectangle((0, 0, im.width, 14), fill="white")
            ImageDraw.Draw(im).text((3, 1), label[:48], fill="black")
            tiles.append(im)
        row = Image.new("RGB", (sum(t.width for t in tiles) + 4 * len(tiles), height), "white")
        x = 0
        for t in tiles:
            row.paste(t, (x, 0))
            x += t.width + 4
        rows.append(row)
    out = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 4 for r in rows)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + 4
    path = out_dir / "sheet.jpg"
    out.save(path, quality=88)
    return path


def _child(name: str, content: str, style: str, seg_c: str, seg_s: str) -> None:
    """Runs in its own process: one method on the 1 MP photo; prints the call's seconds."""
    kw = methods(seg_c, seg_s)[name]
    t = time.perf_counter()
    out = run(kw, content, style)
    print(json.dumps({"call_s": time.perf_counter() - t, "shape": list(out.shape)}))


def timing(out_dir: Path, threads: int | None, only: list[str] | None) -> dict:
    d = data_dir()
    big = resize(load_image(d / "in3.png"), (818, 1225))  # 1.0 MP
    c = out_dir / "in3_1mp.png"
    save_image(big, c)
    seg = load_image(d / "seg_in3.png")
    seg_c = out_dir / "seg_in3_1mp.png"
    save_image(F.interpolate(seg, size=(818, 1225), mode="nearest"), seg_c)
    args = [str(c), str(d / "tar3.png"), str(seg_c), str(d / "seg_tar3.png")]
    res = {}
    names = ["import only"] + [n for n in methods(*args[2:]) if selected(n, only)]
    for name in names:
        log = out_dir / f"time_{len(res)}.log"
        cmd = ([sys.executable, "-c", "import brushwork"] if name == "import only" else
               [sys.executable, __file__, "--child", name, *args] + (["--threads", str(threads)] if threads else []))
        m = json.loads(subprocess.run([sys.executable, str(REPO / "bench" / "_measure.py"), str(log), "--", *cmd],
                                      capture_output=True, text=True, check=True).stdout)
        if name != "import only":
            m.update(json.loads(log.read_text().strip().splitlines()[-1]))
        res[name] = m
        print("1MP", name, m, flush=True)
    return res


def table(q: dict, t: dict | None) -> str:
    names = list(next(iter(q.values())))
    lines = ["| method | SSIM | gradient corr. | matting energy | region colour dist. (Lab) | s at 700 px |"
             + (" s at 1 MP | peak RSS MB at 1 MP |" if t else ""),
             "|---|---|---|---|---|---|" + ("---|---|" if t else "")]
    for name in names:
        rows = [q[n][name] for n in q]
        mean = lambda k: sum(r.get(k, float("nan")) for r in rows) / len(rows)  # noqa: E731
        line = (f"| {name} | {mean('ssim'):.3f} | {mean('grad_corr'):.3f} | {mean('matting_energy'):.2e} | "
                f"{mean('region_colour_distance'):.1f} | "
                + (f"{mean('seconds_700px'):.1f} |" if "seconds_700px" in rows[0] else "- |"))
        if t:
            line += (f" {t[name]['call_s']:.1f} | {t[name]['peak_rss_mb']:.0f} |" if name in t
                     else f" - | {t['import only']['peak_rss_mb']:.0f} (import only) |")
        lines.append(line)
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default="3,9,14,15")
    ap.add_argument("--no-timing", dest="timing", action="store_false")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", nargs="+", metavar="TEXT", help="run only the methods whose names contain one of these")
    ap.add_argument("--child", nargs=5, metavar=("METHOD", "CONTENT", "STYLE", "SEG_C", "SEG_S"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.child:
        _child(*a.child)
        return 0
    out_dir = REPO / "bench" / "results" / time.strftime("photoreal-%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True)
    q = quality(a.pairs.split(","), out_dir, a.only)
    t = timing(out_dir, a.threads, a.only) if a.timing else None
    (out_dir / "results.json").write_text(json.dumps({"quality": q, "timing_1mp": t,
                                                      "load": os.getloadavg(),
                                                      "threads": a.threads or torch.get_num_threads()}, indent=1))
    print(f"sheet {sheet(q, out_dir)}")
    md = table(q, t)
    (out_dir / "table.md").write_text(md + "\n")
    print(md)
    print(f"results in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
