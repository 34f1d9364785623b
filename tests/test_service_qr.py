"""The service's QR job kind: its row, its bad input (4xx, nothing stored) and its producer."""
from __future__ import annotations

import pytest
from PIL import Image

from brushwork.qrcode import decode_zxing
from brushwork.service import kinds
from brushwork.service.producers import Work, paint_qr
from service_util import config, png_bytes, service_app
from test_service_bad_input import reason, stored


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with service_app(tmp_path_factory.mktemp("qr"), rate_submit=(1000, 60.0)) as app:
        yield app


def post(client, text="https://example.org", style=None, **fields):
    files = {"style": ("s.png", style if style is not None else png_bytes(64, 64), "image/png")}
    return client.post("/api/qr", files=files, data={"text": text, **fields})


def test_the_row_takes_a_painting_and_a_text():
    row = kinds.select("qr")
    assert row.main.field == "style" and row.main.required and "text" in row.fields and "ec" in row.fields
    assert row.plan(300, 200, None, config(__import__("pathlib").Path("/tmp"))) == (512, 512)


@pytest.mark.parametrize("text, fields, style, expected", [
    ("", {}, None, "field required"),
    ("x" * 3000, {"ec": "H"}, None, "too long for any QR version at level H"),
    ("hello", {"ec": "Z"}, None, "unknown error-correction level"),
    ("hello", {"size": "99999"}, None, "size 99999 must be between 16"),
    ("hello", {}, png_bytes(1, 1), "at least 16 px"),
])
def test_bad_qr_submissions_are_refused(app, client, text, fields, style, expected):
    before = stored(app)
    assert expected.lower() in reason(post(client, text, style, **fields), 422).lower()
    assert stored(app) == before


def test_a_good_submission_is_queued(client):
    r = post(client, "https://example.org/menu", ec="h", size="256")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["kind"] == "qr" and body["output"] == [256, 256]


class _Run:
    should_stop = False

    def __init__(self):
        self.messages = []

    def report(self, step, total, message, image=None, force=False):
        self.messages.append(message)
        return False

    def callback(self, describe):
        return lambda p: self.report(p.step, p.total, describe(p))


def test_the_producer_writes_a_verified_code(tmp_path):
    Image.new("RGB", (64, 64), (40, 90, 160)).save(tmp_path / "style.png")
    cfg = config(tmp_path, best_steps=4, device="cpu")
    run = _Run()
    work = Work(cfg, {"text": "brushwork", "ec": "L", "output": [128, 128]}, {"style": tmp_path / "style.png"},
                tmp_path, tmp_path / "result.png", run)
    made = paint_qr(work)
    assert (made.width, made.height) == (128, 128) and "read right in" in made.message
    img = Image.open(tmp_path / "result.png")
    assert img.text["qr:payload"] == "brushwork"
    import numpy as np
    assert decode_zxing(np.asarray(img.convert("L"))) == "brushwork"
    assert any("verify" in m or "reading" in m for m in run.messages)
