"""Fuzzing the REST API from its own OpenAPI document (schemathesis, in-process over ASGI): every
operation gets a bounded number of generated requests, valid and not; none may be answered with a
5xx, and answers must conform to the document (status codes, content types, JSON bodies)."""
from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
import time
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -e '.[test]')")
from hypothesis import HealthCheck, settings  # noqa: E402  (hypothesis comes with schemathesis)
from schemathesis import checks  # noqa: E402

from brushwork.service.app import create_app  # noqa: E402
from service_util import config, png_bytes, submit  # noqa: E402

EXAMPLES = 25   # per operation; the whole file runs in well under a minute


# the app is made when the module is collected (schemathesis reads its schema then); the test data lives
# in a temporary folder that the module fixture removes at the end
_DATA = tempfile.mkdtemp(prefix="brushwork-fuzz-")
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)   # also when no test here runs
# generous rate limits: the fuzzer sends a few hundred requests from one "client"
APP = create_app(config(Path(_DATA), rate_requests=(100_000, 60.0), rate_submit=(100_000, 60.0)), sweeper=False)
schema = schemathesis.openapi.from_asgi("/api/openapi.json", APP)


JOBS: list[tuple[str, str]] = []   # (id, token) of real jobs: a finished one and a queued one
_turn = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _jobs():
    """Real jobs for the fuzzer to aim at, so that requests also get past the token check."""
    from fastapi.testclient import TestClient
    svc = APP.state.service
    with TestClient(APP) as client:
        for _ in range(2):
            job = submit(client).json()
            JOBS.append((job["id"], job["token"]))
    done = JOBS[0][0]
    svc.storage.path(done, "result.png").write_bytes(png_bytes(64, 48))
    svc.db.update(done, state="done", result="result.png", result_width=64, result_height=48,
                  finished_at=time.time())
    yield
    APP.state.service.close()
    shutil.rmtree(_DATA, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_and_never_fails(case):
    # two requests in three go to a real job with its token (the events stream only to the finished
    # one: a queued job's stream stays open until the job ends)
    turn = next(_turn) % 3
    # (a DELETE only at made-up ids: deleting the real jobs would leave the others nothing to aim at)
    if "job_id" in (case.path_parameters or {}) and turn and JOBS and case.method.upper() != "DELETE":
        job_id, token = JOBS[0] if turn == 1 or case.path.endswith("/events") else JOBS[1]
        case.path_parameters["job_id"] = job_id
        if "/gallery/" not in case.path:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    case.call_and_validate(checks=[checks.not_a_server_error, checks.status_code_conformance,
                                   checks.content_type_conformance, checks.response_schema_conformance])


def _bomb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def test_bad_input_battery_on_every_operation():
    """Beside the generated requests: the inputs that once gave 5xx (JSON nested past the recursion
    limit, a decompression bomb, a large body below an upload path), sent to every operation of the
    document that takes a body; each is a 4xx with a one-line JSON reason."""
    from fastapi.testclient import TestClient
    nested = b"[" * 20_000 + b"]" * 20_000
    job_id, token = JOBS[1]
    auth = {"Authorization": f"Bearer {token}"}
    seen = 0
    with TestClient(APP, raise_server_exceptions=False) as client:
        doc = APP.openapi()
        for path, ops in doc["paths"].items():
            url = path.replace("{job_id}", job_id)
            for method, op in ops.items():
                content = (op.get("requestBody") or {}).get("content", {})
                if "application/json" in content:
                    answers = [client.request(method, url, content=body, headers={**auth, "content-type":
                                                                                  "application/json"})
                               for body in (nested, b'{"title": "' + b"x" * (4 * 1024 * 1024) + b'"}')]
                elif "multipart/form-data" in content:
                    schema = content["multipart/form-data"]["schema"]
                    if "$ref" in schema:
                        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                    # every required upload (photo; video; painting; content and style sound) is the
                    # bomb, every required text field a valid value (a QR code's text)
                    texts = {f: "hello" for f in schema["required"] if f in ("text", "model")}
                    uploads = [f for f in schema["required"] if f not in texts]
                    answers = [client.request(method, url, files={f: ("x.png", _bomb(), "image/png") for f in uploads},
                                              data={"preset": "7", **texts})]
                else:
                    continue
                for r in answers:
                    seen += 1
                    if "multipart/form-data" in content:
                        detail = r.json()["detail"]
                        if path == "/api/translations":     # no model ships: the model is refused first
                            assert "translat" in detail, r.text
                        else:
                            assert "decompression bomb" in detail or "clip" in detail or "sound cannot be used" in \
                                detail, r.text
                    assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text[:200])
                    assert isinstance(r.json()["detail"], str), (method, path)
    assert seen >= 8
