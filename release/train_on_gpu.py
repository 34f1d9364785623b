"""Train the models brushwork ships, on one GPU, within a time budget, in one command.

Two trainings share the GPU, each stopping at its wall-clock limit (`brushwork train --minutes`):

- `presets.bw`: a multistyle network (Dumoulin et al.) on the paintings in `.release/styles`;
- `adain.bw`: an AdaIN decoder (Huang & Belongie) on `.release/photos` × `.release/paintings`.

Then `bench/gpu_fps.py` measures the fast network at 1920×1080. The models, their last previews,
the fps table and a report come back in `$OUT` (the device tool's output folder) or `--out`.

    python3 release/train_on_gpu.py --minutes 7                  # on the GPU machine (see README.md)
    python3 release/train_on_gpu.py --smoke --out /tmp/release   # a 1-minute CPU rehearsal, anywhere
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUNDLE = REPO / ".release"

# Per run: batch, crop, scale jitter (the photos are packed at 288 px: 256 × 1..1.125 needs no upscaling).
PRESETS = ["--batch-size", "16", "--size", "256", "--scale-jitter", "1,1.125", "--steps", "200000",
           "--preview-every", "1000"]
ADAIN = ["--batch-size", "8", "--size", "256", "--scale-jitter", "1,1.125", "--steps", "200000",
         "--preview-every", "1000"]
SMOKE = ["--batch-size", "2", "--size", "64", "--steps", "3", "--preview-every", "3", "--device", "cpu"]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", BRUSHWORK_DATA=str(BUNDLE),
               BRUSHWORK_VGG19=str(BUNDLE / "vgg19.bin"))
    env.setdefault("OMP_NUM_THREADS", "2")     # batch-preparing threads, not one OpenMP team each
    return env


def _train(kind: list[str], options: list[str], out: Path, minutes: float, log: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "brushwork", "train", *kind, *options, "--minutes", str(minutes),
            "--seed", "0", "--workers", "6", "--checkpoint-every", "5000", "-o", str(out)]
    return subprocess.Popen(argv, env=_env(), stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=REPO)


def _last_line(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").replace("\r", "\n").splitlines() if ln.strip()]
    return "\n".join(lines[-3:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=7.0, help="training time for each model (they run at once)")
    ap.add_argument("--out", default=os.environ.get("OUT", "release/out"))
    ap.add_argument("--smoke", action="store_true", help="tiny CPU runs: checks the whole script in a minute")
    a = ap.parse_args()
    if not (BUNDLE / "vgg19.bin").is_file():
        raise SystemExit(f"{BUNDLE} is missing: run release/make_bundle.py first and carry it")
    import torch
    if not a.smoke and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: the real run needs one (use --smoke for a CPU rehearsal)")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="release-"))
    styles = sorted(str(p) for p in (BUNDLE / "styles").iterdir())
    extra = SMOKE if a.smoke else []
    t0 = time.time()
    runs = {
        "presets": _train(["multistyle", "--styles", *styles, "--data", str(BUNDLE / "photos")],
                          PRESETS + extra, work / "presets.bw", a.minutes, work / "presets.log"),
        "adain": _train(["adain", "--content", str(BUNDLE / "photos"), "--styles", str(BUNDLE / "paintings")],
                        ADAIN + extra, work / "adain.bw", a.minutes, work / "adain.log"),
    }
    report = [f"trained for up to {a.minutes} min each, at once; wall {{wall:.0f}} s"]
    for name, proc in runs.items():
        code = proc.wait()
        report.append(f"\n## {name} (exit {code})\n{_last_line(work / f'{name}.log')}")
        if (work / f"{name}.bw").is_file():
            shutil.copyfile(work / f"{name}.bw", out / f"{name}.bw")
            previews = sorted(work.glob(f"{name}.step*.png"))
            if previews:
                shutil.copyfile(previews[-1], out / f"{name}_preview.png")
    report[0] = report[0].format(wall=time.time() - t0)
    if (out / "presets.bw").is_file():
        fps = [sys.executable, str(REPO / "bench" / "gpu_fps.py"), "--model", str(out / "presets.bw"),
               "--json", str(out / "fps.json")]
        if a.smoke:
            fps += ["--device", "cpu", "--size", "160x96", "--frames", "2", "--batch", "2"]
        result = subprocess.run(fps, env=_env(), capture_output=True, text=True, cwd=REPO)
        report.append(f"\n## fps (exit {result.returncode})\n{result.stdout}{result.stderr[-2000:]}")
    (out / "report.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
