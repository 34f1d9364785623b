"""The web service after a worker dies: seconds from the kill until the job runs again.

For each code tree (`--code LABEL=DIR`, default this repository; e.g. an older commit unpacked
with `git archive`), broker (the built-in SQLite queue, Redis), layout and kind of kill:

1. start the service as a user would, with default settings (lease 60 s, sweep every 5 s),
   `python -m brushwork serve --workers 0 -q`, and worker node A,
   `python -m brushwork worker --queues slow --concurrency 1 -q`;
2. submit one long image-iteration job (quality best, 64 px, BRUSHWORK_BEST_STEPS=100000) and
   wait until A paints it (step >= 1);
3. start node B and wait until it has run a quick job (strength 0: the photo as it is; A, busy,
   takes no other message), then SIGKILL A's pool process (`pool`), or A's whole process group,
   the node and its pool (`node`);
4. poll the job database until a second run holds the job (its `started_at`, written by the
   claiming process on this machine, minus the kill time is the recovery time), then cancel it.

Layouts: `same` (both nodes on this machine: a dead process can be seen) and `two` (A and B
started with BRUSHWORK_MACHINE=bench-a / bench-b, as if on two machines: only the node
heartbeat can tell; code without it ignores the variable).

    .venv/bin/python bench/service_recovery.py
    git archive 1fe0113 | (mkdir -p /tmp/bw-before && tar -x -C /tmp/bw-before)
    .venv/bin/python bench/service_recovery.py --code before=/tmp/bw-before --code after=. --layouts same
Results: bench/results/<timestamp>-recovery/{results.json,table.md}.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx2 as httpx  # the test extras install httpx2

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png(w: int, h: int, seed: int) -> bytes:
    import numpy as np
    from PIL import Image
    a = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(p) for p in f.read().split()]
    return out


def wait(fn, timeout: float, every: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"gave up after {timeout} s")


class Job:
    """The one job's row, read straight from the service's SQLite database (read-only)."""

    def __init__(self, data: Path, job_id: str):
        self.path, self.id = data / "brushwork.sqlite", job_id

    def row(self) -> dict | None:
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
            con.row_factory = sqlite3.Row
            r = con.execute("SELECT state, attempts, step, started_at, worker FROM jobs WHERE id = ?",
                            (self.id,)).fetchone()
            con.close()
            return dict(r) if r else None
        except sqlite3.Error:
            return None


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGKILL) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def submit(base: str, fields: dict[str, str]) -> dict:
    r = httpx.post(f"{base}/api/jobs", data=fields, timeout=60, files={
        "photo": ("p.png", png(96, 64, 1), "image/png"), "style": ("s.png", png(64, 64, 2), "image/png")})
    r.raise_for_status()
    return r.json()


def one(code: Path, broker: str | None, layout: str, kill: str, log) -> dict:
    """One kill; returns what was measured."""
    tmp = Path(tempfile.mkdtemp(prefix="brushwork-bench-recovery-"))
    data = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRUSHWORK_")}
    env.update(PYTHONPATH=str(code), BRUSHWORK_DATA_DIR=str(data), BRUSHWORK_BEST_STEPS="100000",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if broker:
        env["BRUSHWORK_BROKER"] = broker
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def start(*argv: str, machine: str | None = None) -> subprocess.Popen:
        e = {**env, **({"BRUSHWORK_MACHINE": machine} if machine else {})}
        return subprocess.Popen([sys.executable, "-m", "brushwork", *argv], env=e, cwd=code, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    node = ["worker", "--queues", "slow", "--concurrency", "1", "-q"]
    web = a = b = None
    try:
        web = start("serve", "--port", str(port), "--workers", "0", "-q")
        wait(lambda: _up(base), 120, 0.3)
        a = start(*node, machine="bench-a" if layout == "two" else None)
        job = submit(base, {"quality": "best", "size": "64"})
        db = Job(data, job["id"])
        first = wait(lambda: (x := db.row()) and x["state"] == "running" and x["step"] >= 1 and x, 300)
        b = start(*node, machine="bench-b" if layout == "two" else None)
        # B is up once it has run a quick job (A holds its one message and takes no other), so
        # B's start is not counted as the service's recovery
        probe = submit(base, {"quality": "best", "size": "64", "strength": "0"})
        wait(lambda: (x := Job(data, probe["id"]).row()) and x["state"] == "done", 300)
        pool = children(a.pid)
        t_kill = time.time()
        if kill == "pool":
            for pid in pool:
                os.kill(pid, signal.SIGKILL)
        else:
            os.killpg(a.pid, signal.SIGKILL)
        again = wait(lambda: (x := db.row()) and x["attempts"] >= 2 and x["state"] == "running" and x, 300)
        painting = wait(lambda: (x := db.row()) and (x["step"] >= 1 or x["state"] != "running") and x, 120)
        t_paint = time.time()
        httpx.post(f"{base}/api/jobs/{job['id']}/cancel", json={}, timeout=30,
                   headers={"Authorization": f"Bearer {job['token']}"})
        by = again["worker"] or ""
        on = "B" if b is not None and _pid_of(by) in [b.pid, *children(b.pid)] else \
             "A" if a.poll() is None and _pid_of(by) in children(a.pid) else "?"
        return {"recovery_s": round(again["started_at"] - t_kill, 2), "painting_again_s": round(t_paint - t_kill, 2),
                "first_run_by": first["worker"], "second_run_by": by, "second_run_on": on,
                "painting": painting["state"], "killed_pids": pool if kill == "pool" else [a.pid]}
    finally:
        for p in (a, b):
            stop(p)
        stop(web, signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)


def _pid_of(worker: str) -> int | None:
    """The pool process in a holder string ("... pid N ..."); older code wrote only the node name."""
    m = re.search(r"pid (\d+)", worker)
    return int(m.group(1)) if m else None


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/presets", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--code", action="append", default=[], metavar="LABEL=DIR",
                    help="a code tree to measure (repeatable; default after=this repository)")
    ap.add_argument("--brokers", default="builtin,redis")
    ap.add_argument("--layouts", default="same,two")
    ap.add_argument("--kills", default="pool,node")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    import servers as local
    codes = [tuple(c.split("=", 1)) for c in a.code] or [("after", str(REPO))]
    brokers = [b for b in a.brokers.split(",") if b]
    if "redis" in brokers and shutil.which("redis-server") is None:
        print("redis-server is not installed: Redis skipped", file=sys.stderr)
        brokers.remove("redis")
    out = REPO / "bench" / "results" / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-recovery")
    out.mkdir(parents=True)
    results = {"date": datetime.now().isoformat(timespec="seconds"), "command": " ".join(sys.argv),
               "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(), "runs": []}
    with open(out / "processes.log", "w") as log:
        for label, code in codes:
            for broker in brokers:
                for layout in a.layouts.split(","):
                    for kill in a.kills.split(","):
                        with contextlib.ExitStack() as stack:
                            url = None
                            if broker == "redis":
                                server = local.Redis()      # the tests' throw-away server
                                stack.callback(server.close)
                                url = server.url()
                            t = time.time()
                            try:
                                r = one(Path(code).resolve(), url, layout, kill, log)
                            except Exception as e:   # recorded, and the next run goes on
                                r = {"error": repr(e)}
                        r.update(code=label, broker=broker, layout=layout, kill=kill, loadavg=os.getloadavg()[0],
                                 wall_s=round(time.time() - t, 1))
                        results["runs"].append(r)
                        print(json.dumps(r), flush=True)
                        (out / "results.json").write_text(json.dumps(results, indent=1))
    rows = ["| code | broker | nodes | killed | job runs again after | painting again after | on | load |",
            "|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        nodes = "one machine" if r["layout"] == "same" else "two machines"
        killed = "pool process" if r["kill"] == "pool" else "whole node"
        if "error" in r:
            rows.append(f"| {r['code']} | {r['broker']} | {nodes} | {killed} | {r['error'][:60]} | | | |")
        else:
            rows.append(f"| {r['code']} | {r['broker']} | {nodes} | {killed} | **{r['recovery_s']:.1f} s** | "
                        f"{r['painting_again_s']:.1f} s | {r['second_run_on']} | {r['loadavg']:.1f} |")
    (out / "table.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))
    print(f"results: {out}")
    return 0 if all("error" not in r for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
