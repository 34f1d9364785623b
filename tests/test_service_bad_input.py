"""Bad input to the web service: every case is a 4xx with a one-line JSON reason, and nothing is
stored (no job, no file left behind)."""
from __future__ import annotations

import select
import socket
import struct
import zlib

import pytest
from fastapi.testclient import TestClient

from brushwork.service.app import create_app
from brushwork.service.config import MB
from service_util import config, live_server, png_bytes, service_app, submit


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels (a decompression bomb's header) with almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with service_app(tmp_path_factory.mktemp("bad"), max_upload_bytes=1 * MB, webhook_allow_private=False,
                            rate_submit=(1000, 60.0)) as app:
        yield app


def stored(app) -> tuple[int, list]:
    from sqlalchemy import func, select as sql_select

    from brushwork.service.db import Job
    svc = app.state.service
    with svc.db.Session() as s:
        n = s.scalar(sql_select(func.count()).select_from(Job))
    return n, sorted(p.name for p in svc.storage.tmp.iterdir())


def photo(data: bytes, name: str = "photo.png", ctype: str = "image/png") -> dict:
    return {"photo": (name, data, ctype)}


def reason(r, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and "\n" not in body["detail"]
    assert "Traceback" not in r.text
    return body["detail"]


def test_bad_files_are_refused_and_nothing_is_stored(app, client):
    before = stored(app)
    good = png_bytes(64, 48)
    cases = [
        (photo(b"hello, I am text", "photo.jpg", "image/jpeg"), "not an image"),
        (photo(good[: len(good) // 2]), "corrupt or truncated"),
        (photo(png_header_only(50_000, 50_000)), "decompression bomb (2500 MP, the limit is 50 MP)"),
        (photo(png_header_only(9000, 9000)), "9000x9000 px (81 MP); the limit is 50 MP"),
        (photo(png_bytes(64, 48, fmt="GIF"), "a.gif", "image/gif"), "GIF file"),
        (photo(png_bytes(8, 8)), "at least 16 px"),
        (photo(b"\0" * (1 * MB + 10)), "too large"),
        ({**photo(good), "style": ("s.png", b"not a painting", "image/png")}, "the painting is not an image"),
    ]
    for files, expected in cases:
        data = {"size": "64"} if "style" in files else {"preset": "7", "size": "64"}
        assert expected in reason(client.post("/api/jobs", files=files, data=data), 422 if "large" not in expected
                                  else 413)
    assert "field required" in reason(client.post("/api/jobs", data={"preset": "7"}), 422).lower()
    assert "clip cannot be used" in reason(client.post("/api/videos", files={"video": ("v.mp4", good, "video/mp4")},
                                                       data={"preset": "7"}), 422)
    assert stored(app) == before


@pytest.mark.parametrize("fields, expected", [
    ({"preset": "99"}, "preset 99 does not exist"),
    ({"preset": "seven"}, "there is no preset 'seven'"),
    ({"preset": "3:0.5,12:-1"}, "must be zero or positive"),
    ({"preset": ""}, "choose a preset or upload a painting"),
    ({"strength": "-0.5"}, "strength -0.5 must be between 0"),
    ({"strength": "nan"}, "finite"),
    ({"strength": "lots"}, "strength: Input should be a valid number"),
    ({"size": "99999"}, "size 99999 must be between 16 and 6000"),
    ({"size": "12.5"}, "size: Input should be a valid integer"),
    ({"quality": "ultra"}, "quality 'ultra' is not one of"),
    ({"quality": "best"}, "image iteration"),
    ({"keep_colors": "maybe"}, "keep_colors"),
    ({"stroke_scale": "100"}, "stroke scale 100.0 must be between 0.25 and 16"),
    ({"stroke_scale": "bold"}, "stroke_scale"),
    ({"email": "not-an-address"}, "not an email address"),
    ({"email": "a@b.com\r\nBcc: x@y.com"}, "not an email address"),
    ({"webhook": "ftp://example.com/x"}, "http:// or https://"),
    ({"webhook": "http://127.0.0.1:9/hook"}, "private network"),
    ({"webhook": "http://user:pw@example.com/"}, "user name or password"),
])
def test_bad_fields(app, client, fields, expected):
    before = stored(app)
    assert expected in reason(submit(client, **fields), 422)
    assert stored(app) == before


@pytest.mark.parametrize("preset, expected", [("wavy", "did you mean wave?"), ("wave,3", "mixes named"),
                                              ("26", "does not exist")])
def test_unknown_presets(app, client, preset, expected):
    before = stored(app)
    assert expected in reason(submit(client, preset=preset), 422)
    assert stored(app) == before
    assert client.get(f"/presets/{preset}.jpg").status_code == 404


def test_preset_and_painting_together(client):
    files = {"photo": ("p.png", png_bytes(), "image/png"), "style": ("s.png", png_bytes(seed=1), "image/png")}
    assert "not both" in reason(client.post("/api/jobs", files=files, data={"preset": "3"}), 422)


def test_bad_json_and_ids(client):
    job = submit(client).json()
    auth = {"Authorization": f"Bearer {job['token']}"}
    url = f"/api/jobs/{job['id']}"
    assert "malformed JSON" in reason(client.post(f"{url}/cancel", content=b"{not json",
                                                  headers={**auth, "content-type": "application/json"}), 400)
    assert "must be an object" in reason(client.post(f"{url}/publish", json=[1], headers=auth), 400)
    assert "public" in reason(client.post(f"{url}/publish", json={"public": "maybe"}, headers=auth), 422)
    assert "Content-Type: application/json" in reason(client.post(f"{url}/cancel", content=b"x", headers=auth), 415)
    assert "only a finished job" in reason(client.post(f"{url}/publish", json={}, headers=auth), 409)
    for bad in ("nothere0000000000", "x" * 300, "..%2F..%2Fsecret.key", "%00"):
        r = client.get(f"/api/jobs/{bad}", params={"token": job["token"]})
        assert r.status_code == 404 and "detail" in r.json()
    assert reason(client.get("/api/gallery", params={"limit": "-1"}), 422)
    assert reason(client.get(f"{url}/result"), 401)


def test_no_stack_traces(tmp_path, monkeypatch):
    app = create_app(config(tmp_path), sweeper=False)

    def boom(*a, **k):
        raise RuntimeError("secret internals at /srv/brushwork/x.py")
    monkeypatch.setattr(app.state.service.storage, "adopt", boom)
    client = TestClient(app, raise_server_exceptions=False)
    r = submit(client)
    assert r.status_code == 500
    assert "internal error (reference" in r.json()["detail"]
    assert "secret" not in r.text and "Traceback" not in r.text
    assert list(app.state.service.storage.tmp.iterdir()) == []
    app.state.service.close()


def test_rate_limit_and_quotas(tmp_path):
    app = create_app(config(tmp_path, rate_submit=(2, 60.0)), sweeper=False)
    c = TestClient(app)
    assert submit(c).status_code == 202 and submit(c).status_code == 202
    r = submit(c)
    assert "too many requests" in reason(r, 429) and int(r.headers["retry-after"]) >= 1
    app.state.service.close()

    app = create_app(config(tmp_path / "b", client_quota_bytes=1), sweeper=False)
    c = TestClient(app)
    assert submit(c).status_code == 202
    assert "quota" in reason(submit(c), 429)
    app.state.service.close()

    app = create_app(config(tmp_path / "c", quota_bytes=1), sweeper=False)
    assert "storage is full" in reason(submit(TestClient(app)), 507)
    app.state.service.close()


def _read_response(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            part = sock.recv(65536)
            if not part:
                break
            data += part
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def test_huge_uploads_stop_early(app):
    """A 2 GB upload is refused by its Content-Length before any of it is read; one without a
    length is cut off as soon as it passes the limit (3 MB here: photo + painting + slack)."""
    head = b"--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    with live_server(app) as (_url, port):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                      b"Content-Length: 2147483648\r\n\r\n" + head)
            resp = _read_response(s)
        assert resp.startswith(b"HTTP/1.1 413") and b"upload too large" in resp

        sent, chunk = 0, b"\0" * 65536
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(head):x}\r\n".encode() + head + b"\r\n")
            resp = b""
            try:
                while sent < 2 * 1024 * MB:
                    s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    sent += len(chunk)
                    if select.select([s], [], [], 0)[0]:
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass
            resp = _read_response(s)
        assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
        assert sent < 32 * MB          # stopped near the 3 MB limit (socket buffers hold a few MB more)
    assert list(app.state.service.storage.tmp.iterdir()) == []


NESTED = b"[" * 20_000 + b"]" * 20_000      # 40 KB: under the JSON body limit, far past Python's recursion limit


def test_deeply_nested_json_is_a_400(client):
    job = submit(client).json()
    auth = {"Authorization": f"Bearer {job['token']}", "content-type": "application/json"}
    for url in (f"/api/jobs/{job['id']}/cancel", f"/api/jobs/{job['id']}/publish"):
        assert "malformed JSON" in reason(client.post(url, content=NESTED, headers=auth), 400)
        assert "malformed JSON" in reason(client.post(url, content=b'{"a": ' + NESTED + b"}", headers=auth), 400)
    # `like` needs no token: anyone can send it
    like = client.post(f"/api/gallery/{job['id']}/like", content=NESTED, headers={"content-type": "application/json"})
    assert "malformed JSON" in reason(like, 400)


def test_a_decompression_bomb_through_the_web_form_is_refused(app, client):
    before = stored(app)
    client.get("/")
    csrf = client.cookies.get("bw_csrf")
    r = client.post("/submit", files=photo(png_header_only(50_000, 50_000)), data={"preset": "7", "csrf": csrf},
                    headers={"accept": "text/html"})
    assert r.status_code == 422 and "decompression bomb" in r.text and "text/html" in r.headers["content-type"]
    assert stored(app) == before


def test_json_endpoints_have_the_small_body_limit(client):
    """Only the upload endpoints themselves take large bodies; a JSON endpoint below them does not."""
    job = submit(client).json()
    auth = {"Authorization": f"Bearer {job['token']}", "content-type": "application/json"}
    big = b'{"title": "' + b"x" * (2 * MB) + b'"}'
    for url in (f"/api/jobs/{job['id']}/cancel", f"/api/jobs/{job['id']}/publish", "/api/jobs/"):
        assert "upload too large" in reason(client.post(url, content=big, headers=auth), 413), url


def test_forwarded_headers_cannot_be_spoofed(tmp_path):
    """Behind one proxy, the client is the entry that proxy appended (the right-most); what the
    client wrote to the left of it changes nothing: not the like, not the rate limit."""
    from brushwork.service.config import ServiceConfig
    assert ServiceConfig.from_env({"BRUSHWORK_TRUST_FORWARDED": "1"}).trust_forwarded == 1
    assert ServiceConfig.from_env({"BRUSHWORK_TRUST_FORWARDED": "true"}).trust_forwarded == 1
    app = create_app(config(tmp_path, trust_forwarded=1, rate_submit=(2, 60.0)), sweeper=False)
    svc = app.state.service
    c = TestClient(app)
    job = submit(c).json()
    svc.db.update(job["id"], state="done", result="result.png", public=True)
    like = f"/api/gallery/{job['id']}/like"
    assert c.post(like, json={}, headers={"X-Forwarded-For": "10.0.0.1, 203.0.113.7"}).status_code == 200
    assert c.post(like, json={}, headers={"X-Forwarded-For": "10.0.0.2, 203.0.113.7"}).status_code == 409
    assert c.post(like, json={}, headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 200   # another client
    spoofed = [c.post("/api/jobs", files=photo(png_bytes()), data={"preset": "7"},
                      headers={"X-Forwarded-For": f"10.9.9.{i}, 203.0.113.50"}) for i in range(3)]
    assert [r.status_code for r in spoofed] == [202, 202, 429]
    svc.close()

    app = create_app(config(tmp_path / "two", trust_forwarded=2), sweeper=False)   # two proxies of ours
    c = TestClient(app)
    job = submit(c).json()
    app.state.service.db.update(job["id"], state="done", result="result.png", public=True)
    like = f"/api/gallery/{job['id']}/like"
    assert c.post(like, json={}, headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.7, 10.0.0.5"}).status_code == 200
    assert c.post(like, json={}, headers={"X-Forwarded-For": "2.2.2.2, 203.0.113.7, 10.0.0.6"}).status_code == 409
    app.state.service.close()
