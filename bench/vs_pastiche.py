"""brushwork vs pastiche, side by side in one run: same loss, same pixels, same machine.

For each size S (long side, px):
  1. content (tubingen) resized to long side S and style (starry_night) to the same pixel count,
     with PIL bilinear as pastiche does, written once to a temp dir: both tools read those files;
  2. pastiche runs `--num-steps N` in a subprocess: wall time and peak RSS of that process;
  3. pastiche's objective (its definition: _common.py) is evaluated on its output PNG in fp32 with
     brushwork's losses, and checked against pastiche's own `_calc_loss` on the same PNG;
  4. each brushwork variant runs in a subprocess (bench/run_brushwork.py) and stops at the first
     full-size step whose objective is <= pastiche's: time to target, total wall, peak RSS; its
     output PNG is re-evaluated in fp32 (the number in the table);
  5. the cost of one optimisation step over a bare VGG forward+backward (bench/step_overhead.py).
Prints a markdown table and writes JSON + PNGs to bench/results/<timestamp>/.

    .venv/bin/python bench/vs_pastiche.py                      # 256 and 512 px, pastiche 500 / 200 steps
    .venv/bin/python bench/vs_pastiche.py --quick              # 128 px, pastiche 60 steps (a few minutes)
    .venv/bin/python bench/vs_pastiche.py --sizes 256 --pastiche-steps 300 --variants bf16-ms
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# Brushwork variants: name -> run_brushwork.py options; each adds one lever.
# "--steps" (most steps at the final size) is added per size: pastiche's step count, so no
# variant gets more full-size steps than pastiche had.
MS = ["--multiscale", "--min-side", "0.5", "--factor", "2", "--coarse-steps", "30"]
VARIANTS: dict[str, list[str]] = {
    # fp32, one size. (Since cbf5009 the engine's losses see the clamped image, as saved; before,
    # with unbounded pixels, this did not reach pastiche's 256 px / 300-step objective in 300 steps.)
    "fp32-single": ["--dtype", "float32"],
    # + coarse-to-fine: 30 steps at half the size first
    "fp32-ms": ["--dtype", "float32", *MS],
    # fp32-single + bf16 feature network (Extractor dtype; the engine's `auto` on this CPU since 8bf1f31)
    "bf16-single": ["--dtype", "bfloat16"],
    # both
    "bf16-ms": ["--dtype", "bfloat16", *MS],
    # channels_last weights: no gain, the features already run channels_last (see README)
    "bf16-single-cl": ["--dtype", "bfloat16", "--channels-last"],
    # schedules that reach the target with fewer evaluations but change the composition (the
    # layout is decided at 1/4 or 1/8 of the size, where the content loss is weak)
    "bf16-ms-quarter": ["--dtype", "bfloat16", "--multiscale", "--min-side", "0.25", "--coarse-steps", "40"],
    "bf16-ms-eighth": ["--dtype", "bfloat16", "--multiscale", "--min-side", "0.125", "--coarse-steps", "40"],
}
DEFAULT_VARIANTS = ["fp32-single", "fp32-ms", "bf16-single", "bf16-ms"]
# Step overhead configurations: (label, step_overhead.py options).
OVERHEAD = [
    ("fp32", ["--dtype", "float32"]),
    ("bf16", ["--dtype", "bfloat16"]),
]


def run_child(cmd: list[str], env: dict[str, str], log: Path) -> dict:
    """Run a command through bench/_measure.py: wall time, CPU time and peak RSS of that command alone."""
    res = subprocess.run([sys.executable, str(HERE / "_measure.py"), str(log), "--", *cmd], env=env,
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"bench/_measure.py failed: {res.stderr[-2000:]}")
    r = json.loads(res.stdout)
    if r["exit_code"] != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed ({r['exit_code']}); see {log}:\n{log.read_text()[-2000:]}")
    return r


def child_env(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def check_definition(prep: dict, png: str, ours: float) -> dict:
    """pastiche's own _calc_loss on its output PNG vs ours (the weight mapping, pooling, preprocessing)."""
    from pastiche.pastiche import PasticheArtist

    h, w = prep["content_hw"]
    artist = PasticheArtist(prep["content"], [prep["style"]], size=max(h, w), init=png, device="cpu",
                            style_size_pixels=prep["style_size_pixels"])
    if list(artist.style_sizes[0]) != list(prep["style_hw"]) or list(artist.content_size) != list(prep["content_hw"]):
        raise RuntimeError(f"pastiche resampled the prepared inputs: {artist.content_size}, {artist.style_sizes}")
    theirs = float(artist.loss)
    return {"pastiche_calc_loss": theirs, "ours_fp32": ours, "rel_diff": ours / theirs - 1.0}


def fmt(x, spec=".1f", none="–"):
    return none if x is None else format(x, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--pastiche-steps", type=int, nargs="+", default=[500, 200],
                    help="pastiche --num-steps per size (the last one repeats)")
    ap.add_argument("--quick", action="store_true", help="128 px, pastiche 60 steps, short overhead timing")
    ap.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS))
    ap.add_argument("--brushwork-args", default="", help="extra run_brushwork.py options for every variant")
    ap.add_argument("--max-steps", type=int, default=None,
                    help="most brushwork steps at the final size (default: pastiche's step count)")
    ap.add_argument("--overhead-steps", type=int, default=20, help="timed steps per step-overhead measurement (0: skip)")
    ap.add_argument("--threads", type=int, default=None,
                    help="OMP_NUM_THREADS for every child (default: torch's choice, all cores)")
    ap.add_argument("--reuse-pastiche", type=Path, default=None, metavar="DIR",
                    help="take pastiche's run (PNG, times, RSS) for a size and step count from an earlier results "
                         "folder instead of running it again (development only: its times came from another moment)")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default bench/results/<timestamp>)")
    a = ap.parse_args(argv)
    if a.quick:
        a.sizes, a.pastiche_steps = [128], [60]
        a.overhead_steps = min(a.overhead_steps, 8)
    variants = a.variants or DEFAULT_VARIANTS
    out = a.out or HERE / "results" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    env = child_env(a.threads)
    py = sys.executable

    import torch

    from _common import fp32_objective, load, pastiche_net, prepare
    from brushwork.device import cpu_has_bf16

    if a.threads:
        torch.set_num_threads(a.threads)
    net32 = pastiche_net(torch.float32)
    results: dict = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv[1:], "host": platform.node(),
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "cpu_bf16": cpu_has_bf16(), "torch": torch.__version__, "threads": a.threads or torch.get_num_threads(),
        "loadavg_start": os.getloadavg(), "sizes": [],
    }
    tmp = Path(tempfile.mkdtemp(prefix="brushwork-bench-"))
    try:
        for i, size in enumerate(a.sizes):
            n_steps = a.pastiche_steps[min(i, len(a.pastiche_steps) - 1)]
            prep = prepare(size, tmp / "inputs")
            content, style = load(prep["content"]), load(prep["style"])
            row: dict = {"size": size, "inputs": prep, "pastiche_steps": n_steps, "runs": []}
            print(f"\n== {size} px: content {prep['content_hw'][1]}x{prep['content_hw'][0]}, "
                  f"style {prep['style_hw'][1]}x{prep['style_hw'][0]}; pastiche {n_steps} steps", flush=True)

            p_png = str(out / f"pastiche_{size}.png")
            old = _earlier_pastiche(a.reuse_pastiche, size, n_steps) if a.reuse_pastiche else None
            if old is not None:
                shutil.copyfile(a.reuse_pastiche / old["png"], p_png)
                p = {k: old[k] for k in ("wall_s", "peak_rss_mb", "cpu_s")}
                row["pastiche_reused_from"] = str(a.reuse_pastiche)
            else:
                cmd = [py, "-m", "pastiche", "--content", prep["content"], "--styles", prep["style"], "--output",
                       p_png, "--size", str(size), "--style-size-pixels", str(prep["style_size_pixels"]),
                       "--num-steps", str(n_steps), "--seed", "0", "--device", "cpu", "--no-verbose"]
                p = run_child(cmd, env, out / f"pastiche_{size}.log")
            obj = fp32_objective(load(p_png), content, style, net32)
            check = check_definition(prep, p_png, obj["total"])
            if abs(check["rel_diff"]) > 1e-4:
                print(f"WARNING: our objective and pastiche's _calc_loss disagree on its output "
                      f"({check['rel_diff']:.1e}): the comparison below is not like for like", flush=True)
            print(f"pastiche: {p['wall_s']:.1f} s, {p['peak_rss_mb']:.0f} MB, objective {obj['total']:.6g} "
                  f"(pastiche's _calc_loss on the same PNG: {check['pastiche_calc_loss']:.6g}, "
                  f"rel. diff {check['rel_diff']:.1e})", flush=True)
            target = obj["total"]
            row["pastiche"] = {**{k: v for k, v in p.items() if k != "exit_code"}, "steps": n_steps,
                               "objective": obj, "definition_check": check, "png": Path(p_png).name}
            row["target"] = target
            (out / "results.json").write_text(json.dumps({**results, "sizes": results["sizes"] + [row]}, indent=1))

            for name in variants:
                tag = f"{name}_{size}"
                png, js = out / f"brushwork_{tag}.png", out / f"brushwork_{tag}.json"
                cmd = [py, str(HERE / "run_brushwork.py"), "--content", prep["content"], "--style", prep["style"],
                       "--out", str(png), "--json", str(js), "--target", repr(target),
                       "--steps", str(a.max_steps or n_steps), *VARIANTS[name], *a.brushwork_args.split()]
                cmd += ["--launch", "{LAUNCH}"]  # time-to-target counts from the process's start
                r = run_child(cmd, env, out / f"brushwork_{tag}.log")
                rep = json.loads(js.read_text())
                robj = fp32_objective(load(png), content, style, net32)
                run = {"variant": name, "args": VARIANTS[name] + a.brushwork_args.split(),
                       **{k: v for k, v in r.items() if k != "exit_code"}, "report": rep,
                       "objective": robj, "meets_target_fp32": robj["total"] <= target, "png": png.name}
                row["runs"].append(run)
                stages = "+".join(str(n) for n in _steps_per_stage(rep))
                print(f"{name}: steps {stages}, target at {fmt(rep['time_to_target_s'])} s, wall {r['wall_s']:.1f} s, "
                      f"{r['peak_rss_mb']:.0f} MB, objective {robj['total']:.6g} "
                      f"({'meets' if run['meets_target_fp32'] else 'MISSES'} the target in fp32; optimiser saw "
                      f"{fmt(rep['final_loss_optimiser'], '.6g')})", flush=True)

            if a.overhead_steps > 0:
                row["step_overhead"] = []
                for label, opts in OVERHEAD:
                    tag = label.replace(", ", "-").replace(" ", "-")
                    js = out / f"overhead_{tag}_{size}.json"
                    cmd = [py, str(HERE / "step_overhead.py"), "--content", prep["content"], "--style", prep["style"],
                           *opts, "--steps", str(a.overhead_steps), "--json", str(js)]
                    run_child(cmd, env, out / f"overhead_{tag}_{size}.log")
                    o = {"label": label, **json.loads(js.read_text())}
                    row["step_overhead"].append(o)
                    print(f"step overhead {label} {size} px: step {o['step_median_s']:.3f} s vs bare fwd+bwd "
                          f"{o['bare_median_s']:.3f} s -> {o['overhead_pct']:+.1f} % (steps without a backtrack: "
                          f"{o['overhead_pct_one_eval_steps']:+.1f} %; {o['evals_per_step']:.2f} evals/step)", flush=True)
            results["sizes"].append(row)
            (out / "results.json").write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    results["loadavg_end"] = os.getloadavg()
    (out / "results.json").write_text(json.dumps(results, indent=1))
    table = markdown(results)
    (out / "table.md").write_text(table)
    print()
    print(table)
    print(f"\nJSON, PNGs and logs: {out}")
    return 0


def _earlier_pastiche(folder: Path, size: int, steps: int) -> dict | None:
    try:
        earlier = json.loads((folder / "results.json").read_text())
    except OSError:
        return None
    for row in earlier.get("sizes", []):
        if (row["size"] == size and row["pastiche_steps"] == steps and "pastiche_reused_from" not in row
                and row.get("inputs", {}).get("style_size_pixels") is not None):
            return row["pastiche"]
    return None


def _steps_per_stage(rep: dict) -> list[int]:
    n = len(rep["schedule"]["sizes"])
    return [sum(1 for r in rep["trace"] if r[1] == s) for s in range(n)]


def markdown(results: dict) -> str:
    lines = [
        "| size | tool / variant | steps | wall s | time to target s | × pastiche time | objective (fp32) "
        "| peak RSS MB | × pastiche RSS | CPU s | full-size evals |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["sizes"]:
        p = row["pastiche"]
        lines.append(f"| {row['size']} | pastiche | {p['steps']} | {p['wall_s']:.1f} | {p['wall_s']:.1f} | 1.00 "
                     f"| {p['objective']['total']:.6g} | {p['peak_rss_mb']:.0f} | 1.00 | {p['cpu_s']:.1f} "
                     f"| {p['steps']} |")
        for r in row["runs"]:
            rep = r["report"]
            ttt = rep["time_to_target_s"]
            ratio = f"{ttt / p['wall_s']:.2f}" if ttt is not None else "not reached"
            mark = "" if r["meets_target_fp32"] else " (above target)"
            lines.append(
                f"| {row['size']} | brushwork {r['variant']} | {'+'.join(str(n) for n in _steps_per_stage(rep))} "
                f"| {r['wall_s']:.1f} | {fmt(ttt)} | {ratio} | {r['objective']['total']:.6g}{mark} "
                f"| {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] / p['peak_rss_mb']:.2f} | {r['cpu_s']:.1f} "
                f"| {rep['full_size_equivalent_evals']:.0f} |")
    over = [o for row in results["sizes"] for o in row.get("step_overhead", [])]
    if over:
        lines += ["", "| size (W×H) | network | one step s (median) | bare VGG fwd+bwd s (median) | overhead "
                  "| overhead, steps without backtrack | evals/step |", "|---|---|---|---|---|---|---|"]
        for o in over:
            lines.append(f"| {o['size'][1]}×{o['size'][0]} | {o['label']} | {o['step_median_s']:.3f} "
                         f"| {o['bare_median_s']:.3f} | {o['overhead_pct']:+.1f} % "
                         f"| {o['overhead_pct_one_eval_steps']:+.1f} % | {o['evals_per_step']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
