"""The web service end to end in-process: REST API and pages over the real embedded queue
(kombu's SQLAlchemy transport on SQLite, a Celery worker in a thread)."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service_util import png_bytes, service_app, submit, wait_state, worker


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with service_app(tmp_path_factory.mktemp("service")) as app:
        yield app


@pytest.fixture(scope="module")
def running(app):
    """A worker on the module's app (started once: stopping a worker takes seconds)."""
    with worker(app.state.service):
        yield


def test_fast_job_through_the_queue(app, client, running):
    r = submit(client, png_bytes(96, 64), preset="7", size="64", strength="0.8", keep_colors="true",
               stroke_scale="2")
    assert r.status_code == 202, r.text
    body = r.json()
    job_id, token = body["id"], body["token"]
    assert body["state"] == "queued" and body["output"] == [64, 43]
    assert len(job_id) >= 16 and len(token) >= 32 and token not in json.dumps(
        {c.name: str(getattr(app.state.service.db.get(job_id), c.name)) for c in
         app.state.service.db.get(job_id).__table__.columns})   # only the token's hash is stored
    assert app.state.service.db.get(job_id).queue == "fast"
    s = wait_state(client, job_id, token)
    assert s["state"] == "done", s
    assert s["params"]["stroke_scale"] == 2.0
    assert s["progress"] == 1.0 and s["result"]["width"] == 64 and s["result"]["height"] == 43
    res = client.get(s["result"]["url"])
    assert res.status_code == 200 and res.headers["content-type"] == "image/png"
    assert "attachment" in res.headers["content-disposition"]
    assert Image.open(io.BytesIO(res.content)).size == (64, 43)
    pv = client.get(f"/api/jobs/{job_id}/preview", headers={"Authorization": f"Bearer {token}"})
    assert pv.status_code == 200 and pv.content.startswith(b"\x89PNG")
    # the event stream of a finished job: one status event, then the end
    with client.stream("GET", f"/api/jobs/{job_id}/events", params={"token": token}) as ev:
        assert ev.headers["content-type"].startswith("text/event-stream")
        text = "".join(ev.iter_text())
    assert "event: status" in text and "event: end" in text and '"state": "done"' in text


def test_a_named_preset_job(app, client, running):
    body = submit(client, png_bytes(64, 48), preset="wave:0.7,the_scream:0.3", size="64").json()
    s = wait_state(client, body["id"], body["token"])
    assert s["state"] == "done" and s["params"]["preset"] == "wave:0.7,the_scream:0.3", s
    res = client.get(s["result"]["url"])
    assert Image.open(io.BytesIO(res.content)).size == (64, 48)


def test_publish_gallery_and_one_like_per_client(app, client, running):
    job = submit(client).json()
    auth = {"Authorization": f"Bearer {job['token']}"}
    wait_state(client, job["id"], job["token"])
    assert client.post(f"/api/gallery/{job['id']}/like", json={}).status_code == 404   # private
    r = client.post(f"/api/jobs/{job['id']}/publish", json={"title": "my cat"}, headers=auth)
    assert r.status_code == 200 and r.json()["public"] is True
    items = client.get("/api/gallery").json()
    assert items[0]["id"] == job["id"] and items[0]["title"] == "my cat"
    assert client.get(items[0]["thumbnail_url"]).headers["content-type"] == "image/jpeg"
    assert client.get(items[0]["image_url"]).status_code == 200       # public: no token needed
    r = client.post(f"/api/gallery/{job['id']}/like", json={})
    assert r.status_code == 200 and r.json()["likes"] == 1
    r = client.post(f"/api/gallery/{job['id']}/like", json={})
    assert r.status_code == 409 and r.json()["likes"] == 1
    assert client.post(f"/api/gallery/{job['id']}/like", content=b"{}").status_code == 415  # not JSON: CSRF
    # no body at all (curl -X POST) is fine, unless a browser says it comes from another site
    like = f"/api/gallery/{job['id']}/like"
    assert client.post(like, headers={"Origin": "https://elsewhere.example"}).status_code == 415
    assert client.post(like, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 415
    assert client.post(like, headers={"Origin": "http://testserver"}).status_code == 409   # taken: liked already
    other = TestClient(app, client=("203.0.113.9", 50000))
    r = other.post(like)
    assert r.status_code == 200 and r.json()["likes"] == 2
    client.post(like, json={})
    assert client.get("/api/gallery", params={"sort": "top"}).json()[0]["likes"] == 2
    assert client.post(f"/api/jobs/{job['id']}/publish", json={"public": False}, headers=auth).json()["public"] is False
    assert job["id"] not in [i["id"] for i in client.get("/api/gallery").json()]
    assert client.get(items[0]["image_url"]).status_code == 404


def test_presets_and_openapi(client):
    presets = client.get("/api/presets").json()
    ours = [p for p in presets if not p["key"].isdigit()]
    assert len(presets) == len(ours) + 26 and presets[len(ours) + 7]["index"] == 7
    assert presets[1]["key"] == "wave" and presets[1]["thumbnail_url"] == "/presets/wave.jpg"
    assert presets[1]["name"] == "The Great Wave off Kanagawa"
    doc = client.get("/api/openapi.json").json()
    paths = doc["paths"]
    for path in ("/api/jobs", "/api/videos", "/api/jobs/{job_id}", "/api/jobs/{job_id}/events",
                 "/api/jobs/{job_id}/result", "/api/jobs/{job_id}/cancel", "/api/jobs/{job_id}/publish",
                 "/api/presets", "/api/gallery", "/api/gallery/{job_id}/like", "/api/translations"):
        assert path in paths, path
    assert "/submit" not in paths
    for path in ("/api/jobs", "/api/videos"):   # the one-pass networks' stroke size, typed as a number
        form = paths[path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        props = doc["components"]["schemas"][form["$ref"].rsplit("/", 1)[-1]]["properties"]
        assert {"type": "number"} in props["stroke_scale"]["anyOf"], props["stroke_scale"]


def test_openapi_types_strength_and_size_as_numbers(app, client):
    doc = client.get("/api/openapi.json").json()
    cfg = app.state.service.cfg
    for path, largest in (("/api/jobs", cfg.max_output_side), ("/api/videos", cfg.max_video_side)):
        ref = doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
        props = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
        strength, size = props["strength"], props["size"]
        assert {"type": "number"} in strength["anyOf"] and (strength["minimum"], strength["maximum"]) == (0, 1)
        assert {"type": "integer"} in size["anyOf"] and (size["minimum"], size["maximum"]) == (16, largest)


def test_error_text_speaks_to_a_web_user(app, client, monkeypatch):
    """The library's messages name CLI commands, flags and the server's paths; the service says
    them in its own terms (refused submissions and failed jobs alike)."""
    import dataclasses

    from brushwork.errors import InputError
    from brushwork.service import kinds
    from brushwork.service.jobs import run_job
    from brushwork.service.messages import for_web
    detail = submit(client, preset="99").json()["detail"]
    assert "preset 99 does not exist" in detail and "/api/presets" in detail and "brushwork presets" not in detail
    assert for_web("give one of a preset, a style image or a model (--preset, --style, --model)") == \
        "give one of a preset, a style image or a model (field 'preset', or upload a painting as 'style')"

    def broken(work):
        raise InputError(f"{work.inputs['content']}: corrupt or truncated image (x); give --size 512")
    rows = tuple(dataclasses.replace(r, producer=broken) if r.name == "image-fast" else r for r in kinds.KINDS)
    monkeypatch.setattr(kinds, "KINDS", rows)
    svc = app.state.service
    job = submit(client).json()
    run_job(svc, job["id"], "test")             # (or the module's worker, if it took the job first)
    s = wait_state(client, job["id"], job["token"])
    error = s["error"]
    assert s["state"] == "failed"
    assert error == "the photo: corrupt or truncated image (x); give size 512", error
    assert str(svc.cfg.data_dir) not in error


def test_a_translation_needs_a_shipped_model(client):
    r = client.post("/api/translations", files={"photo": ("p.png", png_bytes(), "image/png")},
                    data={"model": "no_such_model"})
    assert r.status_code == 422 and "\n" not in r.json()["detail"]


def test_pages(app, client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'name="csrf"' in r.text and "bw_csrf" in r.headers["set-cookie"] and "/presets/7.jpg" in r.text
    assert r.headers["referrer-policy"] == "no-referrer" and "frame-ancestors 'none'" in r.headers[
        "content-security-policy"]
    assert "/presets/wave.jpg" in r.text and 'value="7" checked' in r.text
    for key in ("3", "wave"):
        thumb = client.get(f"/presets/{key}.jpg")
        assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (192, 192)
    assert client.get("/presets/26.jpg").status_code == 404
    csrf = client.cookies.get("bw_csrf")
    files = {"photo": ("me.png", png_bytes(80, 60), "image/png")}
    # the form without its CSRF token is refused, and nothing is stored
    r = client.post("/submit", files=files, data={"preset": "7", "size": "1024"}, headers={"accept": "text/html"})
    assert r.status_code == 400 and "form expired" in r.text
    # a bad field shows the form again with the reason
    r = client.post("/submit", files=files, data={"preset": "99", "csrf": csrf}, headers={"accept": "text/html"})
    assert r.status_code == 422 and "preset 99 does not exist" in r.text and 'name="csrf"' in r.text
    r = client.post("/submit", files=files, data={"preset": "7", "size": "original", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and 'id="bar"' in page.text and "data-events=" in page.text
    assert "80×60 px" in page.text
    assert client.get("/jobs/nothere00000000?token=abc", headers={"accept": "text/html"}).status_code == 404
    assert "Gallery" in client.get("/gallery").text


def test_import_brushwork_stays_light():
    code = ("import sys, brushwork; bad = [m for m in ('fastapi', 'celery', 'sqlalchemy', 'starlette') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_video_job(client, running, tmp_path):
    from video_synth import shifted, write_clip
    clip = write_clip(tmp_path / "clip.mp4", shifted(6, (48, 64)))
    r = client.post("/api/videos", files={"video": ("clip.mp4", clip.read_bytes(), "video/mp4")},
                    data={"preset": "7"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "video" and job["estimate_s"] > 0 and job["output"] == [64, 48]
    s = wait_state(client, job["id"], job["token"], timeout=120)
    assert s["state"] == "done", s
    assert s["result"]["media_type"] == "video/mp4" and (s["result"]["width"], s["result"]["height"]) == (64, 48)
    res = client.get(s["result"]["url"])
    assert res.status_code == 200 and res.headers["content-type"] == "video/mp4" and len(res.content) > 500


def test_sweeper_prunes_delivered_broker_messages(app, client, running):
    """kombu's SQL transport keeps delivered messages for good; the sweeper deletes old ones."""
    from sqlalchemy import create_engine, text

    from brushwork.service.sweeper import prune_broker
    r = submit(client, png_bytes(64, 64), preset="2", size="64")
    assert wait_state(client, r.json()["id"], r.json()["token"])["state"] == "done"
    svc = app.state.service
    engine = create_engine(svc.cfg.broker[len("sqla+"):])

    def delivered() -> int:
        with engine.connect() as c:
            return c.execute(text("SELECT COUNT(*) FROM kombu_message WHERE visible = 0")).scalar()
    assert delivered() >= 1
    assert prune_broker(svc) == 0          # recent: kept
    assert prune_broker(svc, older_than_s=-60) >= 1
    assert delivered() == 0
    engine.dispose()


def test_delete_a_job_and_its_files_are_private(app, client, running):
    import os
    import stat
    old = os.umask(0o022)            # files the library writes would be world-readable under this umask
    try:
        files = {"photo": ("p.png", png_bytes(64, 48), "image/png"),
                 "style": ("s.png", png_bytes(64, 64, seed=2), "image/png")}
        job = client.post("/api/jobs", files=files, data={"size": "64"}).json()
        s = wait_state(client, job["id"], job["token"])
        assert s["state"] == "done"
    finally:
        os.umask(old)
    storage = app.state.service.storage
    folder = storage.job_dir(job["id"])
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [folder, storage.jobs, storage.tmp, *folder.rglob("*")]}
    assert {"content.png", "style.png", "result.png"} <= set(modes)
    assert all(m == (0o700 if n in (folder.name, "jobs", "tmp") else 0o600) for n, m in modes.items()), modes
    auth = {"Authorization": f"Bearer {job['token']}"}
    client.post(f"/api/jobs/{job['id']}/publish", json={}, headers=auth)
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 401
    assert client.delete(f"/api/jobs/{job['id']}", headers={"Authorization": "Bearer " + "x" * 32}).status_code == 404
    assert s["links"]["delete"] == f"/api/jobs/{job['id']}"
    r = client.delete(s["links"]["delete"], headers=auth)
    assert r.status_code == 204 and not folder.exists()
    assert client.get(f"/api/jobs/{job['id']}", headers=auth).status_code == 404
    assert job["id"] not in [i["id"] for i in client.get("/api/gallery").json()]
    assert client.get(f"/gallery/{job['id']}/image").status_code == 404
    page = client.get(r.headers.get("location", "/"))
    assert page.status_code == 200


def test_the_job_page_offers_delete(client):
    job = submit(client).json()
    page = client.get(f"/jobs/{job['id']}", params={"token": job["token"]})
    assert 'id="delete"' in page.text and f'data-delete="/api/jobs/{job["id"]}"' in page.text


@pytest.mark.slow
def test_serve_says_where_the_app_is_and_nothing_else(tmp_path):
    """`brushwork serve` prints one line with the app's address; the two worker nodes start and
    run a job each (fast, slow) without a banner, a warning or a log line; so does stopping."""
    import os
    import signal

    import httpx2

    from service_util import free_port, wait_for
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRUSHWORK_")}
    proc = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--port", str(port), "--data-dir",
                             str(tmp_path / "data")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                return httpx2.get(f"{base}/api/presets", timeout=5).status_code == 200
            except httpx2.HTTPError:
                return False
        wait_for(up, 120, 0.5)
        files = {"photo": ("p.png", png_bytes(96, 64), "image/png"), "style": ("s.png", png_bytes(seed=2), "image/png")}
        jobs = [httpx2.post(f"{base}/api/jobs", files=files, data=fields, timeout=30).json()
                for fields in ({"size": "64"}, {"quality": "best", "strength": "0", "size": "64"})]

        def finished(job):
            s = httpx2.get(f"{base}/api/jobs/{job['id']}", headers={"Authorization": f"Bearer {job['token']}"},
                           timeout=30).json()
            return s["state"] in ("done", "failed", "cancelled") and s
        assert [wait_for(lambda: finished(j), 180, 0.5)["state"] for j in jobs] == ["done", "done"]
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    lines = [line for line in out.decode().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"brushwork serve: open {base} "), lines

