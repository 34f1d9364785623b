"""Training steps per second on this CPU: `train fast` (batch 4, 256 px) and `train adain`
(its defaults: batch 8, 256 px), before the training redesign, after it, and in a minimal
plain-PyTorch loop of the same networks and losses written the way a user would from the papers.

Each variant is its own process (before: the old tree on PYTHONPATH; after and plain: this
tree). All start and take one warm-up step at once; then they take turns, `--rounds` rounds
of `--steps` steps each, so that load from other work on the machine falls on all alike.
A step's time is the wall time from one progress callback to the next (data included).

    .venv/bin/python bench/training_speed.py --before /tmp/before     # git worktree add /tmp/before 50ef046
Results: bench/results/<timestamp>-training/{results.json,table.md}.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("BRUSHWORK_DATA", "../shared/data")).resolve()   # as the library reads it
STYLE = "paintings/pacs_art_painting"   # the first painting there is the fast network's style
KINDS = {"fast": {"batch": 4, "size": 256}, "adain": {"batch": 8, "size": 256}}


# --- worker side --------------------------------------------------------------------------

class Turns:
    """Times steps and waits for the driver's 'go N' between rounds (stdin/stdout, one JSON line each)."""

    def __init__(self):
        self.times: list[float] = []
        self.target = 0
        self.last = 0.0

    def wait(self) -> bool:
        line = sys.stdin.readline().split()
        if not line or line[0] != "go":
            return False
        self.target += int(line[1])
        self.times = []
        self.last = time.perf_counter()
        return True

    def step(self, done: int) -> bool:
        """After step `done` (1 = warm-up): False to stop."""
        now = time.perf_counter()
        if done == 1:
            print(json.dumps({"ready": True}), flush=True)
            return self.wait()
        self.times.append(now - self.last)
        self.last = now
        if done - 1 >= self.target:
            print(json.dumps({"times": self.times}), flush=True)
            return self.wait()
        return True


def style_image() -> Path:
    return sorted((DATA / STYLE).iterdir())[0]


def library(kind: str, total: int, out: Path) -> None:
    import brushwork
    turns = Turns()
    kw = dict(steps=total, size=KINDS[kind]["size"], batch_size=KINDS[kind]["batch"], seed=0, device="cpu",
              checkpoint_every=None, callback=lambda p: not turns.step(p.step))
    if kind == "fast":
        brushwork.train_fast(style_image(), out / "fast.bw", DATA / "photos", **kw)
    else:
        brushwork.train_adain(out / "adain.bw", DATA / "photos", DATA / "paintings", **kw)


def plain(kind: str, total: int) -> None:
    """The loop a user writes from Johnson et al. / Huang & Belongie with our networks and VGG-19."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image

    from brushwork.features import vgg19
    from brushwork.feedforward.networks import ADAIN_TAPS, FEATURE_SCALE, AdaINNet, TransformerNet

    size, batch = KINDS[kind]["size"], KINDS[kind]["batch"]
    rng = np.random.default_rng(0)

    def files(folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))

    def crop(path: Path) -> torch.Tensor:
        im = Image.open(path).convert("RGB")
        s = size / min(im.size)
        im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.BICUBIC)
        x, y = rng.integers(im.width - size + 1), rng.integers(im.height - size + 1)
        a = np.asarray(im.crop((x, y, x + size, y + size)), dtype=np.float32) / 255
        return torch.from_numpy(a).permute(2, 0, 1)

    def batches(paths: list[Path]):
        while True:
            yield torch.stack([crop(paths[i]) for i in rng.integers(len(paths), size=batch)])

    def gram(f: torch.Tensor) -> torch.Tensor:
        b, c, h, w = f.shape
        f = f.reshape(b, c, h * w)
        return f.bmm(f.transpose(1, 2)) / (c * h * w)

    def mean_std(f: torch.Tensor):
        return f.mean((2, 3)), (f.var((2, 3), unbiased=False) + 1e-5).sqrt()

    turns = Turns()
    torch.manual_seed(0)
    if kind == "fast":
        net = TransformerNet()
        layers = ("relu1_1", "relu2_1", "relu2_2", "relu3_1", "relu4_1")
        vgg = vgg19(layers)
        with torch.no_grad():
            style = vgg(crop(style_image())[None])
            targets = {t: gram(style[t] / FEATURE_SCALE[t]) for t in layers if t != "relu2_2"}
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        for step, x in zip(range(1, total + 1), batches(files(DATA / "photos"))):
            y = net(x)
            fy = {t: f / FEATURE_SCALE[t] for t, f in vgg(y).items()}
            with torch.no_grad():
                fx = vgg(x)["relu2_2"] / FEATURE_SCALE["relu2_2"]
            loss = F.mse_loss(fy["relu2_2"], fx)
            loss = loss + 3e5 / 4 * sum(F.mse_loss(gram(fy[t]), targets[t].expand(batch, -1, -1)) for t in targets)
            loss = loss + 1e-4 * 255**2 * ((y[..., 1:, :] - y[..., :-1, :]).pow(2).mean()
                                           + (y[..., 1:] - y[..., :-1]).pow(2).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
            if not turns.step(step):
                return
    else:
        net = AdaINNet()
        vgg = vgg19(ADAIN_TAPS)
        opt = torch.optim.Adam(net.decoder.parameters(), 1e-4)
        data = zip(batches(files(DATA / "photos")), batches(files(DATA / "paintings")))
        for step, (c, s) in zip(range(1, total + 1), data):
            for g in opt.param_groups:
                g["lr"] = 1e-4 / (1 + 5e-5 * step)
            with torch.no_grad():
                fc = vgg(c)["relu4_1"] / FEATURE_SCALE["relu4_1"]
                fs = {t: f / FEATURE_SCALE[t] for t, f in vgg(s).items()}
                cm, cs = mean_std(fc)
                sm, ss = mean_std(fs["relu4_1"])
                t4 = (fc - cm[..., None, None]) / cs[..., None, None] * ss[..., None, None] + sm[..., None, None]
            fg = {t: f / FEATURE_SCALE[t] for t, f in vgg(net.decode(t4)).items()}
            loss = F.mse_loss(fg["relu4_1"], t4)
            for t in ADAIN_TAPS:
                (gm, gs), (sm, ss) = mean_std(fg[t]), mean_std(fs[t])
                loss = loss + 10 * (F.mse_loss(gm, sm) + F.mse_loss(gs, ss))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if not turns.step(step):
                return


# --- driver -------------------------------------------------------------------------------

def cpu_description() -> dict:
    sys.path.insert(0, str(REPO))
    from brushwork.training.precision import NATIVE_BF16_FLAGS, cpu_flags
    flags = cpu_flags()
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())
    wanted = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return {"model": model, "cores": os.cpu_count(), "flags": [f for f in wanted if f in flags],
            "native_bf16": any(f in flags for f in NATIVE_BF16_FLAGS)}


def run_kind(kind: str, variants: dict[str, dict], steps: int, rounds: int, out: Path) -> dict[str, list[float]]:
    total = 1 + steps * rounds
    procs = {}
    for name, v in variants.items():
        argv = [sys.executable, __file__, "--worker", v["worker"], "--kind", kind, "--total", str(total),
                "--out", str(out)]
        env = dict(os.environ, PYTHONPATH=v["path"], PYTHONUNBUFFERED="1", BRUSHWORK_DATA=str(DATA))
        procs[name] = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def read(name: str) -> dict:
        line = procs[name].stdout.readline()
        if not line:
            raise SystemExit(f"{kind} {name}: the worker ended early (exit {procs[name].wait()})")
        return json.loads(line)

    for name in procs:
        read(name)                                   # warm-up done
    times: dict[str, list[float]] = {name: [] for name in procs}
    for r in range(rounds):
        for name, p in procs.items():
            p.stdin.write(f"go {steps}\n")
            p.stdin.flush()
            times[name] += read(name)["times"]
            print(f"{kind} round {r + 1}/{rounds} {name}: {statistics.median(times[name]):.2f} s/step",
                  file=sys.stderr, flush=True)
    for p in procs.values():
        p.stdin.write("stop\n")
        p.stdin.close()
        p.wait()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=Path, help="a checkout of the code before (e.g. git worktree add /tmp/before 50ef046)")
    ap.add_argument("--kinds", default="fast,adain")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per round and variant")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--total", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        library(a.kind, a.total, a.out) if a.worker == "library" else plain(a.kind, a.total)
        return
    out = REPO / "bench" / "results" / f"{datetime.now():%Y%m%d-%H%M%S}-training"
    out.mkdir(parents=True)
    variants = {"plain": {"worker": "plain", "path": str(REPO)}, "after": {"worker": "library", "path": str(REPO)}}
    if a.before:
        variants = {"before": {"worker": "library", "path": str(a.before.resolve())}, **variants}
    import torch
    results = {"date": datetime.now(timezone.utc).isoformat(timespec="minutes"), "cpu": cpu_description(),
               "torch": torch.__version__, "threads": torch.get_num_threads(), "steps": a.steps, "rounds": a.rounds,
               "kinds": {}}
    rows = ["| kind | variant | s/step (median) | steps/s | vs before | vs plain |", "|---|---|---|---|---|---|"]
    for kind in a.kinds.split(","):
        times = run_kind(kind, variants, a.steps, a.rounds, out)
        rate = {n: len(t) / sum(t) for n, t in times.items()}
        results["kinds"][kind] = {"times": times, "steps_per_s": rate, **KINDS[kind]}
        for n, t in times.items():
            vs_before = f"{rate[n] / rate['before']:.2f}x" if "before" in rate else "-"
            rows.append(f"| {kind} | {n} | {statistics.median(t):.2f} | {rate[n]:.3f} | {vs_before} | "
                        f"{rate[n] / rate['plain']:.2f}x |")
        table = "\n".join(rows)                  # written after each kind: a long run keeps what it has
        (out / "results.json").write_text(json.dumps(results, indent=1))
        (out / "table.md").write_text(table + "\n")
    c = results["cpu"]
    print(f"{c['model']}, {c['cores']} cores, flags {' '.join(c['flags'])}, native bf16: {c['native_bf16']}, "
          f"torch {results['torch']} ({results['threads']} threads)\n{table}\n{out}")


if __name__ == "__main__":
    main()
