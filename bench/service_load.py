"""The web service under load: queue throughput with one worker, nothing lost or run twice, and
status latency while the queue drains.

Starts the real service as a user would, in a subprocess:

    python -m brushwork serve --port P --data-dir TMP/data --workers 1 -q

(one process per worker node: the fast jobs all go through ONE worker process; the slow node
idles). The per-client rate limits (20 jobs and 600 requests a minute by default) are raised
for the run through the environment, BRUSHWORK_RATE_SUBMIT and BRUSHWORK_RATE_REQUESTS, because
every benchmark client comes from 127.0.0.1 and so counts as one client. Then:

1. warm-up: one job, waited for (the worker loads the preset's network once; not timed);
2. `--clients` threads submit `--jobs` jobs in all (fast preset 7, a 512 px photo:
   $BRUSHWORK_DATA/samples/content/tubingen.jpg at long side 512, or a generated one), each
   thread with its own connection, as fast as the server takes them (a 429 is retried after
   its Retry-After, and counted);
3. meanwhile `--pollers` threads poll GET /api/jobs/{id} (Bearer token) over the submitted jobs,
   round-robin, `--poll-interval` s apart each, until every job has finished; every status
   request's latency is recorded (client side: send to body read);
4. checks, from the service's own database (after the server has stopped):
   every job reached `done`, each was claimed once (`attempts == 1`), `--jobs` distinct ids came
   back, every result is 512 px on its long side and its PNG exists.

Jobs per minute = finished jobs / (last finished_at - first submission), finished_at as the
worker wrote it (same machine, same clock).

    .venv/bin/python bench/service_load.py                 # 100 jobs, 10 clients, 8 pollers: a few minutes on 2 cores
    .venv/bin/python bench/service_load.py --jobs 20 --clients 4
    .venv/bin/python bench/service_load.py --backends sqlite+sqlite,postgres+redis,postgres+rabbitmq
    .venv/bin/python bench/service_load.py --streams 100   # the same with 100 open event streams

`--backends` runs the same load once per job database + broker pair, one after another, each on a
fresh service (`serve --db URL --broker URL`); PostgreSQL, Redis and RabbitMQ are throw-away local
servers (tests/servers.py), and the table puts the pairs side by side.
With `--streams N`, N more threads each keep an event stream (GET /api/jobs/{id}/events) open on
an unfinished job, opening another when it ends (never one whose stream said it had finished),
until every job has finished; they run in a process of their own, so that their threads do not
slow the timed status requests through the GIL; each sends its own
X-Forwarded-For and the server trusts one proxy (BRUSHWORK_TRUST_FORWARDED=1), so each is its own
client under the default caps (4 streams per client, 200 in all per web process).
Results: bench/results/<timestamp>-service/{results.json,table.md,<pair>/server.log}.
"""
from __future__ import annotations

import argparse
import bisect
import io
import itertools
import multiprocessing
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx2 as httpx  # the test extras install httpx2 (FastAPI's TestClient uses it too)

REPO = Path(__file__).resolve().parent.parent
FINISHED = ("done", "failed", "cancelled")


def data_dir() -> Path:
    return Path(os.environ.get("BRUSHWORK_DATA", REPO.parent / "shared" / "data"))


def photo_bytes(side: int) -> tuple[bytes, str]:
    """A JPEG with long side `side`: tubingen.jpg if the samples are there, else generated."""
    import numpy as np
    from PIL import Image
    src = data_dir() / "samples" / "content" / "tubingen.jpg"
    if src.exists():
        img = Image.open(src).convert("RGB")
        what = f"{src.name} at {side} px"
    else:
        yy, xx = np.mgrid[0:768, 0:1024]
        a = np.stack([xx % 256, yy % 256, (xx + yy) // 8 % 256], -1).astype(np.uint8)
        img = Image.fromarray(a)
        what = f"a generated 4:3 image at {side} px"
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue(), f"{what} ({img.width}x{img.height})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]   # nearest rank


class Streamers:
    """The event-stream clients, in a process of their own (as 100 watchers are 100 browsers), so
    that their threads do not hold the GIL of the process that times the status requests. The
    parent sends ("job", job) and ("finished", id) through `news`; the counters are shared."""

    def __init__(self, base: str, news, open_, refused, events, errors, all_done):
        self.base, self.news, self.errors, self.all_done = base, news, errors, all_done
        self.open, self.refused, self.events = open_, refused, events
        self.jobs: list[dict] = []
        self.states: dict[str, str] = {}
        self.lock = threading.Lock()

    def listen(self) -> None:
        while not self.all_done.is_set():
            try:
                what, item = self.news.get(timeout=0.2)
            except queue.Empty:
                continue
            with self.lock:
                if what == "job":
                    self.jobs.append(item)
                elif what == "finished":
                    self.states[item] = "done"

    def streamer(self, k: int) -> None:
        """Keep one event stream (SSE) open, on an unfinished job, until every job has finished.
        Each streamer is its own client (X-Forwarded-For, with the server trusting one proxy),
        as 100 people watching their jobs would be, so the per-client cap does not apply."""
        headers = {"X-Forwarded-For": f"10.9.{k // 200}.{k % 200 + 1}"}
        with httpx.Client(base_url=self.base, timeout=httpx.Timeout(60, read=120)) as c:
            for n in itertools.count():
                if self.all_done.is_set():
                    return
                with self.lock:
                    open_jobs = [j for j in self.jobs if self.states.get(j["id"]) not in FINISHED]
                if not open_jobs:
                    time.sleep(0.05)
                    continue
                job = open_jobs[(k * 7 + n) % len(open_jobs)]
                try:
                    with c.stream("GET", f"/api/jobs/{job['id']}/events",
                                  headers={**headers, "Authorization": f"Bearer {job['token']}"}) as r:
                        if r.status_code != 200:
                            with self.refused.get_lock():
                                self.refused.value += 1
                            time.sleep(1.0)
                            continue
                        with self.open.get_lock():
                            self.open.value += 1
                        state = None
                        try:
                            for line in r.iter_lines():
                                if line.startswith("event: "):
                                    with self.events.get_lock():
                                        self.events.value += 1
                                elif line.startswith("data: {\""):
                                    state = json.loads(line[6:]).get("state", state)
                                if line.startswith("event: end") or self.all_done.is_set():
                                    break
                        finally:
                            with self.open.get_lock():
                                self.open.value -= 1
                            with self.lock:
                                if state in FINISHED:   # as a watcher would, it does not open this job again
                                    self.states[job["id"]] = state
                except Exception as e:
                    self.errors.put(f"streamer: {e!r}")


def run_streamers(base: str, n: int, news, open_, refused, events, errors, all_done) -> None:
    """The child process: `n` streamer threads until `all_done`."""
    st = Streamers(base, news, open_, refused, events, errors, all_done)
    threads = [threading.Thread(target=st.listen, daemon=True)]
    threads += [threading.Thread(target=st.streamer, args=(k,), daemon=True) for k in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)


class Load:
    def __init__(self, base: str, photo: bytes, preset: str, size: int):
        self.base, self.photo, self.preset, self.size = base, photo, preset, size
        self.jobs: list[dict] = []            # {id, token, submitted}
        self.lock = threading.Lock()
        self.submit_lat: list[float] = []
        self.status_lat: list[tuple[float, float, int]] = []   # (t, latency s, http status)
        self.retries_429 = 0
        self.errors: list[str] = []
        self.states: dict[str, str] = {}
        ctx = multiprocessing.get_context("spawn")
        self.news = ctx.Queue()      # to the streamers' process: jobs as they are submitted, and finished
        self.open, self.refused, self.events = ctx.Value("i", 0), ctx.Value("i", 0), ctx.Value("i", 0)
        self.stream_errors = ctx.Queue()
        self.streams_done = ctx.Event()
        self.ctx = ctx
        self.open_samples: list[tuple[float, int]] = []
        self.submitting_done = threading.Event()
        self.all_done = threading.Event()

    def submit_one(self, client: httpx.Client) -> dict:
        while True:
            t = time.time()
            r = client.post("/api/jobs", files={"photo": ("photo.jpg", self.photo, "image/jpeg")},
                            data={"preset": self.preset, "quality": "fast", "size": str(self.size)})
            lat = time.time() - t
            if r.status_code == 429:
                with self.lock:
                    self.retries_429 += 1
                time.sleep(float(r.headers.get("retry-after", "1")))
                continue
            if r.status_code != 202:
                raise RuntimeError(f"submission refused: {r.status_code} {r.text[:200]}")
            body = r.json()
            with self.lock:
                self.submit_lat.append(lat)
            return {"id": body["id"], "token": body["token"], "submitted": t}

    def submitter(self, n: int) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=60) as c:
                for _ in range(n):
                    job = self.submit_one(c)
                    with self.lock:
                        self.jobs.append(job)
                        self.states.setdefault(job["id"], "queued")
                    self.news.put(("job", job))
        except Exception as e:  # recorded; the run reports it
            with self.lock:
                self.errors.append(f"submitter: {e!r}")

    def start_streamers(self, n: int) -> multiprocessing.Process:
        proc = self.ctx.Process(target=run_streamers, daemon=True, args=(
            self.base, n, self.news, self.open, self.refused, self.events, self.stream_errors, self.streams_done))
        proc.start()
        return proc

    def stop_streamers(self, proc: multiprocessing.Process) -> None:
        self.streams_done.set()
        proc.join(60)
        while not self.stream_errors.empty():
            self.errors.append(self.stream_errors.get())

    def sampler(self) -> None:
        """Every 0.2 s: how many event streams are open."""
        while not self.all_done.wait(0.2):
            with self.lock:
                self.open_samples.append((time.time(), self.open.value))

    def open_at(self, t: float) -> int:
        """Open streams at time `t` (the sample just before it)."""
        i = bisect.bisect_right(self.open_samples, (t, float("inf"))) - 1
        return self.open_samples[i][1] if i >= 0 else 0

    def poller(self, k: int, interval: float) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as c:
            for i in itertools.count(k * 7):
                if self.all_done.is_set():
                    return
                with self.lock:
                    jobs = list(self.jobs)
                if not jobs:
                    time.sleep(0.01)
                    continue
                job = jobs[i % len(jobs)]
                t = time.time()
                try:
                    r = c.get(f"/api/jobs/{job['id']}", headers={"Authorization": f"Bearer {job['token']}"})
                    lat = time.time() - t
                    state = r.json().get("state") if r.status_code == 200 else None
                except Exception as e:
                    lat, state = time.time() - t, None
                    r = None
                    with self.lock:
                        self.errors.append(f"poller: {e!r}")
                with self.lock:
                    self.status_lat.append((t, lat, r.status_code if r is not None else 0))
                    if state in FINISHED and self.states.get(job["id"]) not in FINISHED:
                        self.news.put(("finished", job["id"]))
                    if state:
                        self.states[job["id"]] = state
                    if (self.submitting_done.is_set() and self.states
                            and all(s in FINISHED for s in self.states.values())):
                        self.all_done.set()
                if interval:
                    time.sleep(interval)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120) -> float:
    t = time.time()
    while time.time() - t < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}); see its log")
        try:
            if httpx.get(f"{base}/api/presets", timeout=2).status_code == 200:
                return time.time() - t
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the server did not answer")


def wait_job(base: str, job: dict, timeout: float = 300) -> str:
    t = time.time()
    while time.time() - t < timeout:
        s = httpx.get(f"{base}/api/jobs/{job['id']}", headers={"Authorization": f"Bearer {job['token']}"},
                      timeout=30).json()
        if s["state"] in FINISHED:
            return s["state"]
        time.sleep(0.2)
    raise TimeoutError("the warm-up job did not finish")


def run(a: argparse.Namespace, photo: bytes, photo_desc: str, extra: dict[str, str], out_dir: Path,
        db_url: str | None = None, broker_url: str | None = None) -> dict:
    """One load run against a fresh service on the given job database and broker (None: the
    built-in SQLite ones in its data directory); the measures as a dict."""
    tmp = Path(tempfile.mkdtemp(prefix="brushwork-bench-service-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BRUSHWORK_RATE_SUBMIT": "100000,60", "BRUSHWORK_RATE_REQUESTS": "10000000,60",
           "PYTHONUNBUFFERED": "1"}
    if a.streams:   # every streamer is its own client, behind one (trusted) proxy: the benchmark
        env["BRUSHWORK_TRUST_FORWARDED"] = "1"
    env.update(extra)
    cmd = [sys.executable, "-m", "brushwork", "serve", "--port", str(port), "--data-dir", str(tmp / "data"),
           "--workers", "1", "-q", *(["--db", db_url] if db_url else []),
           *(["--broker", broker_url] if broker_url else [])]
    log_path = out_dir / "server.log"
    load1_before = os.getloadavg()
    print(f"serving {base} (data in {tmp}); log {log_path}", flush=True)
    with open(log_path, "w") as log_f:
        proc = subprocess.Popen(cmd, env=env, stdout=log_f, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=REPO)
        try:
            ready_s = wait_ready(base, proc)
            load = Load(base, photo, a.preset, a.size)
            t = time.time()
            with httpx.Client(base_url=base, timeout=60) as c:
                warm = load.submit_one(c)
            warm_state = wait_job(base, warm)
            warm_s = time.time() - t
            print(f"ready in {ready_s:.1f} s; warm-up job {warm_state} in {warm_s:.1f} s", flush=True)

            per = [a.jobs // a.clients + (1 if i < a.jobs % a.clients else 0) for i in range(a.clients)]
            pollers = [threading.Thread(target=load.poller, args=(k, a.poll_interval), daemon=True)
                       for k in range(a.pollers)]
            submitters = [threading.Thread(target=load.submitter, args=(n,), daemon=True) for n in per]
            stream_proc = load.start_streamers(a.streams) if a.streams else None
            streamers = [threading.Thread(target=load.sampler, daemon=True)]
            t0 = time.time()
            for th in streamers + pollers + submitters:
                th.start()
            for th in submitters:
                th.join()
            t_submitted = time.time()
            load.submitting_done.set()
            print(f"{len(load.jobs)} jobs submitted in {t_submitted - t0:.1f} s", flush=True)
            load_samples = [os.getloadavg()[0]]
            while not load.all_done.wait(5):
                load_samples.append(os.getloadavg()[0])
                with load.lock:
                    done = sum(s in FINISHED for s in load.states.values())
                print(f"  {time.time() - t0:6.1f} s: {done}/{len(load.jobs)} finished, "
                      f"{len(load.status_lat)} status requests", flush=True)
                if time.time() - t0 > a.timeout or load.errors and len(load.jobs) < a.jobs:
                    load.all_done.set()
                    load.errors.append("gave up waiting")
            t_end = time.time()
            for th in pollers + streamers:
                th.join(30)
            if stream_proc is not None:
                load.stop_streamers(stream_proc)
        finally:
            proc.send_signal(signal.SIGTERM)     # serve stops its workers (warm shutdown)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    # --- what the service's own database says ---------------------------------------------------
    from sqlalchemy import create_engine, text

    from brushwork.service.db import driver_url
    engine = create_engine(driver_url(db_url or f"sqlite:///{tmp / 'data' / 'brushwork.sqlite'}"))
    with engine.connect() as db:
        rows = {r[0]: tuple(r[1:]) for r in db.execute(text(
            "SELECT id, state, attempts, started_at, finished_at, result, result_width, result_height FROM jobs"))}
    engine.dispose()
    ids = [j["id"] for j in load.jobs]
    mine = {i: rows.get(i) for i in ids}
    lost = [i for i, r in mine.items() if r is None or r[0] != "done"]
    runs = {i: r[1] for i, r in mine.items() if r is not None}
    twice = [i for i, n in runs.items() if n != 1]
    sizes_ok = all(r is not None and max(r[5] or 0, r[6] or 0) == a.size for r in mine.values())
    files_ok = all(r is not None and r[4] and (tmp / "data" / "jobs" / i / r[4]).exists() for i, r in mine.items())
    finished_at = sorted(r[3] for r in mine.values() if r is not None and r[3])
    first_submit = min(j["submitted"] for j in load.jobs) if load.jobs else t0
    span = (finished_at[-1] - first_submit) if finished_at else float("nan")
    n_done = sum(1 for r in mine.values() if r is not None and r[0] == "done")
    run_s = [r[3] - r[2] for r in mine.values() if r is not None and r[2] and r[3]]
    lat_ms = [x[1] * 1000 for x in load.status_lat if x[2] == 200]
    bad_status = sum(1 for x in load.status_lat if x[2] != 200)
    drain = [x[1] * 1000 for x in load.status_lat if x[2] == 200 and x[0] >= t_submitted]
    sub_ms = [x * 1000 for x in load.submit_lat]
    full = [x[1] * 1000 for x in load.status_lat if x[2] == 200 and a.streams and load.open_at(x[0]) >= a.streams]
    opened = [n for t, n in load.open_samples if t0 <= t <= t_end]

    res = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["bench/service_load.py", *sys.argv[1:]]),
        "server_command": " ".join(cmd[1:]), "database": db_url or "sqlite (built-in)",
        "broker": broker_url or "sqlite (built-in)",
        "env": {"BRUSHWORK_RATE_SUBMIT": env["BRUSHWORK_RATE_SUBMIT"],
                "BRUSHWORK_RATE_REQUESTS": env["BRUSHWORK_RATE_REQUESTS"],
                **({"BRUSHWORK_TRUST_FORWARDED": "1"} if a.streams else {}), **extra},
        "photo": photo_desc, "preset": a.preset, "jobs": a.jobs, "clients": a.clients, "pollers": a.pollers,
        "poll_interval_s": a.poll_interval, "cpus": os.cpu_count(),
        "loadavg_before": load1_before, "loadavg_during_max": max(load_samples), "loadavg_after": os.getloadavg(),
        "ready_s": ready_s, "warmup_s": warm_s,
        "submitted": len(ids), "distinct_ids": len(set(ids)), "done": n_done, "lost": lost,
        "db_jobs": len(rows), "ran_more_than_once": twice, "run_counts": sorted(set(runs.values())),
        "result_sizes_ok": sizes_ok, "result_files_ok": files_ok, "retries_429": load.retries_429,
        "errors": load.errors[:20],
        "submit_s": t_submitted - t0, "first_submit_to_last_finish_s": span,
        "jobs_per_minute": n_done / span * 60 if span == span and span > 0 else None,
        "run_s_median": statistics.median(run_s) if run_s else None,
        "submit_ms": {"p50": pct(sub_ms, 50), "p95": pct(sub_ms, 95), "max": max(sub_ms, default=float("nan"))},
        "status_requests": len(lat_ms), "status_non_200": bad_status,
        "status_rps": len(lat_ms) / (t_end - t0),
        "status_ms": {"p50": pct(lat_ms, 50), "p95": pct(lat_ms, 95), "p99": pct(lat_ms, 99),
                      "max": max(lat_ms, default=float("nan"))},
        "status_ms_after_submissions": {"n": len(drain), "p50": pct(drain, 50), "p95": pct(drain, 95),
                                        "p99": pct(drain, 99), "max": max(drain, default=float("nan"))},
    }
    # per job, seconds from the first submission: submitted, claimed (started), finished
    res["timeline"] = sorted([round(j["submitted"] - first_submit, 3),
                              *(round(x - first_submit, 3) if x else None for x in (mine[j["id"]] or (0,) * 4)[2:4])]
                             for j in load.jobs)
    starts = sorted(r[2] for r in mine.values() if r is not None and r[2])
    gaps = [b - a_ for a_, b in zip(finished_at, starts[1:])]   # worker idle between one finish and the next claim
    res["idle_between_jobs_s"] = {"total": sum(g for g in gaps if g > 0), "max": max(gaps, default=0.0),
                                  "median": statistics.median(gaps) if gaps else None}
    res["ok"] = (not lost and not twice and len(set(ids)) == a.jobs and n_done == a.jobs and sizes_ok
                 and files_ok and bad_status == 0)
    res["goal_status_p95_lt_50ms"] = res["status_ms"]["p95"] < 50
    res["loadavg_before_1min"] = load1_before[0]
    res["streams"] = {"wanted": a.streams, "refused": load.refused.value, "events": load.events.value,
                      "open_median": statistics.median(opened) if opened else 0, "open_max": max(opened, default=0),
                      "share_of_time_all_open": sum(n >= a.streams for n in opened) / len(opened) if opened else 0,
                      "status_ms_all_open": {"n": len(full), "p50": pct(full, 50), "p95": pct(full, 95),
                                             "p99": pct(full, 99)}}
    if res["ok"] and not a.keep:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept the service's data for inspection: {tmp}")
    return res


PAIRS = {"sqlite+sqlite": ("sqlite", "sqlite"), "postgres+redis": ("postgres", "redis"),
         "postgres+rabbitmq": ("postgres", "rabbitmq")}


def table(a: argparse.Namespace, photo_desc: str, runs: dict[str, dict]) -> str:
    """The measures of every run, one column per backend pair."""
    def row(name: str, cell) -> str:
        return f"| {name} | " + " | ".join(cell(r) for r in runs.values()) + " |"
    return "\n".join([
        "| measure | " + " | ".join(f"{k.split('+')[0]} + {k.split('+')[1]} broker" for k in runs) + " |",
        "|---|" + "---|" * len(runs),
        row(f"jobs (fast preset {a.preset}, {photo_desc})", lambda r: f"{a.jobs} from {a.clients} clients"),
        row("done / distinct ids / ran exactly once",
            lambda r: f"{r['done']} / {r['distinct_ids']} / {r['submitted'] - len(r['ran_more_than_once'])}"),
        row("lost / duplicated", lambda r: f"{len(r['lost'])} / {len(r['ran_more_than_once'])}"),
        row("submissions took", lambda r: f"{r['submit_s']:.1f} s (p50 {r['submit_ms']['p50']:.0f} ms, "
                                          f"p95 {r['submit_ms']['p95']:.0f} ms; {r['retries_429']} × 429)"),
        row("first submission to last finish", lambda r: f"{r['first_submit_to_last_finish_s']:.1f} s"),
        row("**jobs per minute, one worker**", lambda r: f"**{r['jobs_per_minute']:.1f}**"),
        row("one job's run (claim to done), median", lambda r: f"{r['run_s_median']:.2f} s"),
        row("worker idle between jobs, median", lambda r: f"{r['idle_between_jobs_s']['median']:.2f} s"),
        row(f"status requests ({a.pollers} pollers)",
            lambda r: f"{r['status_requests']} ({r['status_rps']:.0f}/s), {r['status_non_200']} not 200"),
        row("status latency p50 / p95 / p99 / max (ms)",
            lambda r: f"{r['status_ms']['p50']:.1f} / **{r['status_ms']['p95']:.1f}** / "
                      f"{r['status_ms']['p99']:.1f} / {r['status_ms']['max']:.0f}"),
        row("… after the submissions (draining)", lambda r: " / ".join(
            f"{r['status_ms_after_submissions'][k]:.{0 if k == 'max' else 1}f}" for k in ("p50", "p95", "p99", "max"))),
        row("load average (1 min) before / max during",
            lambda r: f"{r['loadavg_before_1min']:.2f} / {r['loadavg_during_max']:.2f}"),
    ] + ([
        row("open event streams: wanted / median / max (refused)",
            lambda r: f"{a.streams} / {r['streams']['open_median']:.0f} / {r['streams']['open_max']} "
                      f"({r['streams']['refused']})"),
        row(f"status latency p50 / p95 / p99 while all {a.streams} streams were open (ms)",
            lambda r: " / ".join(f"{r['streams']['status_ms_all_open'][k]:.1f}" for k in ("p50", "p95", "p99"))
                      + f" ({r['streams']['status_ms_all_open']['n']} requests)"),
    ] if a.streams else [])) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--clients", type=int, default=10, help="concurrent submitting clients")
    ap.add_argument("--pollers", type=int, default=8, help="concurrent clients polling job status")
    ap.add_argument("--poll-interval", type=float, default=0.1, help="pause between one poller's requests (s)")
    ap.add_argument("--size", type=int, default=512, help="photo and output long side (px)")
    ap.add_argument("--preset", default="7")
    ap.add_argument("--timeout", type=float, default=1200, help="give up after this long (s)")
    ap.add_argument("--backends", default="sqlite+sqlite", metavar="DB+BROKER,...",
                    help=f"job database + broker pairs, run one after another: {', '.join(PAIRS)} "
                    "(PostgreSQL, Redis and RabbitMQ are throw-away local servers, tests/servers.py)")
    ap.add_argument("--env", action="append", default=[], metavar="BRUSHWORK_X=V",
                    help="another service setting for the server (repeatable), e.g. BRUSHWORK_POLL_INTERVAL_S=0.05")
    ap.add_argument("--streams", type=int, default=0,
                    help="event streams (SSE) kept open during the run, each from its own client")
    ap.add_argument("--keep", action="store_true", help="keep the service's data directory")
    a = ap.parse_args(argv)
    pairs = [p.strip() for p in a.backends.split(",") if p.strip()]
    unknown = [p for p in pairs if p not in PAIRS]
    if unknown:
        ap.error(f"unknown backend pair {unknown[0]!r}: choose from {', '.join(PAIRS)}")

    out_dir = REPO / "bench" / "results" / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-service")
    out_dir.mkdir(parents=True)
    photo, photo_desc = photo_bytes(a.size)
    extra = dict(kv.split("=", 1) for kv in a.env)
    sys.path.insert(0, str(REPO / "tests"))
    import servers as local            # the tests' throw-away servers
    from service_util import broker_url, database_url
    started: dict[str, object] = {}

    def server(kind: str):
        if kind not in started:
            why = local.missing(kind)
            if why:
                raise SystemExit(f"cannot run {kind}: {why}")
            print(f"starting a throw-away {kind} server", flush=True)
            started[kind] = local.START[kind]()
        return started[kind]

    runs: dict[str, dict] = {}
    try:
        for pair in pairs:
            db, broker = PAIRS[pair]
            print(f"=== {pair} ===", flush=True)
            pair_dir = out_dir / pair
            pair_dir.mkdir()
            runs[pair] = run(a, photo, photo_desc, extra, pair_dir, database_url(server, db),
                             broker_url(server, broker))
    finally:
        for s in started.values():
            s.close()
    text = table(a, photo_desc, runs)
    (out_dir / "results.json").write_text(json.dumps(runs, indent=1))
    (out_dir / "table.md").write_text(text)
    print()
    print(text)
    for pair, r in runs.items():
        print(f"{pair}: none lost, none duplicated: {'yes' if r['ok'] else 'NO'}; status p95 < 50 ms: "
              f"{'met' if r['goal_status_p95_lt_50ms'] else 'NOT met'}")
    print(f"results: {out_dir}")
    return 0 if all(r["ok"] for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
