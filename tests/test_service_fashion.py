"""The service's fashion job kind: a photo, a pattern and an optional mask in, the garment
repainted out (the photo's pixels outside the mask kept); a missing pattern and a bad mask refused."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from brushwork.service import kinds
from service_util import service_app, wait_state, worker
from test_fashion import _garment, _pattern


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with service_app(tmp_path_factory.mktemp("service")) as app:
        yield app


def test_fashion_rows_pick_the_method_by_quality():
    assert kinds.select("fashion").quality == "fast" and kinds.select("fashion", "best").queue == "slow"
    assert [u.field for u in kinds.select("fashion").uploads] == ["photo", "pattern", "mask"]


def test_a_fashion_job_repaints_only_the_garment(app, client):
    photo, mask = _garment()
    with worker(app.state.service, queues=("fast",), concurrency=1):
        r = client.post("/api/fashion", files={"photo": ("d.png", _png(photo)), "pattern": ("p.png", _png(_pattern())),
                                               "mask": ("m.png", _png((mask * 255).astype(np.uint8)))})
        assert r.status_code == 202, r.text
        body = r.json()
        s = wait_state(client, body["id"], body["token"], timeout=300)
        assert s["state"] == "done", s
        out = np.asarray(Image.open(io.BytesIO(client.get(s["result"]["url"]).content)).convert("RGB"))
        assert out.shape == photo.shape
        assert np.array_equal(out[~mask], photo[~mask]) and not np.array_equal(out[mask], photo[mask])
        # a mask of another shape: the job fails with the one-line reason
        r = client.post("/api/fashion", files={"photo": ("d.png", _png(photo)), "pattern": ("p.png", _png(_pattern())),
                                               "mask": ("m.png", _png(np.full((40, 40), 255, np.uint8)))})
        body = r.json()
        s = wait_state(client, body["id"], body["token"], timeout=300)
        assert s["state"] == "failed" and "aspect ratio" in s["error"], s


def test_a_fashion_job_needs_a_pattern(client):
    photo, _ = _garment()
    r = client.post("/api/fashion", files={"photo": ("d.png", _png(photo))})
    assert r.status_code == 422 and "pattern" in r.text
