"""The service's photo job kind: a photo and a reference photo in, the photo with the reference's
look out (same size, still the photo's edges); a missing reference refused."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from brushwork.service import kinds
from service_util import service_app, wait_state, worker
from test_service_fashion import _png


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with service_app(tmp_path_factory.mktemp("service")) as app:
        yield app


def _pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    day = np.clip(rng.normal(0.5, 0.1, (48, 64, 3)) * 255, 0, 255).astype(np.uint8)
    day[:, 32:] //= 2
    dusk = np.clip(rng.normal([0.8, 0.4, 0.2], 0.05, (40, 40, 3)) * 255, 0, 255).astype(np.uint8)
    return day, dusk


def test_photo_rows_pick_the_method_by_quality():
    assert kinds.select("photo").queue == "fast" and kinds.select("photo", "best").queue == "slow"
    assert [u.field for u in kinds.select("photo").uploads] == ["photo", "style"]


def test_a_photo_job_takes_the_references_look(app, client):
    day, dusk = _pair()
    with worker(app.state.service, queues=("fast",), concurrency=1):
        r = client.post("/api/photo", files={"photo": ("day.png", _png(day)), "style": ("dusk.png", _png(dusk))},
                        data={"strength": "1"})
        assert r.status_code == 202, r.text
        body = r.json()
        s = wait_state(client, body["id"], body["token"], timeout=300)
        assert s["state"] == "done", s
        out = np.asarray(Image.open(io.BytesIO(client.get(s["result"]["url"]).content)).convert("RGB")) / 255
    assert out.shape == day.shape
    assert out[..., 0].mean() > out[..., 2].mean() + 0.15          # the dusk's warm cast
    assert out[:, :30].mean() > out[:, 34:].mean() + 0.02           # the bright half stays the brighter


def test_a_photo_job_needs_a_reference_and_a_valid_strength(client):
    day, dusk = _pair()
    r = client.post("/api/photo", files={"photo": ("d.png", _png(day))})
    assert r.status_code == 422 and "style" in r.text
    r = client.post("/api/photo", files={"photo": ("d.png", _png(day)), "style": ("s.png", _png(dusk))},
                    data={"strength": "3"})
    assert r.status_code == 422 and "strength" in r.text
