"""Sound jobs in the web service: two uploaded sounds in, a playable wav and a spectrogram picture
out, progress through both phases, and bad uploads refused with a 4xx before anything is stored.
The jobs are tiny (a second of sound, a few steps of 16 filters: the service's settings)."""
from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from audio_synth import chirp, noise, tone, write_wav
from PIL import Image

from brushwork.audio import load_audio
from brushwork.audio.transfer import SILENCE_RMS
from service_util import config, png_bytes, service_app, wait_state, worker

STEPS, FILTERS = 3, 16


def wav_bytes(tmp_path, samples: np.ndarray, name: str, rate: int = 22_050) -> bytes:
    return write_wav(tmp_path / name, samples, rate).read_bytes()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with service_app(tmp_path_factory.mktemp("sounds"), audio_steps=STEPS, audio_filters=FILTERS,
                            max_sound_seconds=4.0, rate_submit=(1000, 60.0)) as app:
        yield app


def sounds(content: bytes, style: bytes) -> dict:
    return {"content": ("speech.wav", content, "audio/wav"), "style": ("violin.wav", style, "audio/wav")}


def stored(app) -> tuple[int, int]:
    """Job folders and files waiting in the upload folder."""
    storage = app.state.service.storage
    return sum(1 for _ in storage.jobs.iterdir()), sum(1 for _ in storage.tmp.iterdir())


def test_a_sound_job_makes_a_playable_wav_and_a_spectrogram(app, client, tmp_path):
    content = wav_bytes(tmp_path, chirp(300, 2000, 1.0, rate=16_000), "c.wav", rate=16_000)
    style = wav_bytes(tmp_path, noise(1.5) + tone(880, 1.5, amp=0.3), "s.wav")
    with worker(app.state.service, queues=("slow",)):
        r = client.post("/api/sounds", files=sounds(content, style), data={})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["kind"] == "audio" and job["estimate_s"] > 0 and job["output"] == [44, 1025]
        assert app.state.service.db.get(job["id"]).queue == "slow"
        s = wait_state(client, job["id"], job["token"], timeout=180)
    assert s["state"] == "done", s
    assert s["result"]["media_type"] == "audio/wav" and (s["result"]["width"], s["result"]["height"]) == (44, 1025)
    res = client.get(s["result"]["url"])
    assert res.status_code == 200 and res.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(res.content)) as w:        # a plain PCM wav at the content's own rate
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16_000)
        assert abs(w.getnframes() - 16_000) <= 1
    (tmp_path / "result.wav").write_bytes(res.content)
    out = load_audio(tmp_path / "result.wav")
    assert float(np.sqrt((out.samples ** 2).mean())) > SILENCE_RMS   # a few steps from near-silence: quiet
    pic = client.get(s["result"]["picture_url"])
    assert pic.status_code == 200 and pic.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(pic.content))
    assert img.width > 200 and img.height >= 3 * 160           # content, style and result panels
    assert client.get(f"/api/jobs/{job['id']}/preview", params={"token": job["token"]}).content.startswith(b"\x89PNG")
    page = client.get(f"/jobs/{job['id']}", params={"token": job["token"]})
    assert page.status_code == 200 and '<audio id="result-audio"' in page.text
    # the page names the wav and the picture without the token; its cookie fetches them
    for link in (f'src="/api/jobs/{job["id"]}/result"', f'src="/api/jobs/{job["id"]}/picture"'):
        assert link in page.text, link
    assert client.get(f"/api/jobs/{job['id']}/picture").content == pic.content


def test_the_upload_form_takes_a_sound_and_its_style_sound(app, client, tmp_path):
    content = wav_bytes(tmp_path, chirp(300, 2000, 1.0, rate=16_000), "c.wav", rate=16_000)
    style = wav_bytes(tmp_path, noise(1.5), "s.wav")
    page = client.get("/")
    assert "audio/*" in page.text and "or a sound" in page.text
    csrf = client.cookies.get("bw_csrf")
    # neither picture, clip nor sound: refused as the picture it was offered as
    r = client.post("/submit", files={"photo": ("notes.txt", b"hello, I am text", "text/plain")},
                    data={"preset": "7", "csrf": csrf})
    assert r.status_code == 422 and "not an image" in r.text
    # no content type: the first bytes tell a wav from a clip
    files = {"photo": ("speech.wav", content, "application/octet-stream")}
    r = client.post("/submit", files=files, data={"preset": "7", "csrf": csrf})
    assert r.status_code == 422 and "no style sound uploaded" in r.text
    files["style"] = ("violin.wav", style, "audio/wav")
    r = client.post("/submit", files=files, data={"preset": "own", "quality": "fast", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    job = app.state.service.db.get(r.headers["location"].split("/")[2].split("?")[0])
    assert job.kind == "audio"
    page = client.get(r.headers["location"])
    assert "your two sounds" in page.text and 'data-thing="sound"' in page.text and "painting is ready" not in page.text


def test_an_image_job_has_no_picture(app, client):
    r = client.post("/api/jobs", files={"photo": ("p.png", png_bytes(), "image/png")}, data={"preset": "7"})
    job = r.json()
    pic = client.get(f"/api/jobs/{job['id']}/picture", params={"token": job["token"]})
    assert pic.status_code == 404 and "no picture" in pic.json()["detail"]
    assert job["links"]["picture"].startswith(f"/api/jobs/{job['id']}/picture")


class FakeRun:
    should_stop = False

    def __init__(self):
        self.reports: list[tuple[int, int, str, bool]] = []

    def report(self, step, total, message, image=None, force=False) -> bool:
        if image is not None:
            assert image.dim() == 4 and image.shape[:2] == (1, 3) and 0 <= float(image.min()) <= float(image.max()) <= 1
        self.reports.append((step, total, message, image is not None))
        return False


def test_progress_runs_through_both_phases_on_one_bar(tmp_path):
    from brushwork.service.producers import Work, make_sound
    c = write_wav(tmp_path / "c.wav", tone(440, 1.0), 22_050)
    st = write_wav(tmp_path / "s.wav", noise(1.0), 22_050)
    run = FakeRun()
    made = make_sound(Work(config(tmp_path, audio_steps=STEPS, audio_filters=FILTERS), {}, {"content": c, "style": st},
                           tmp_path, tmp_path / "result.wav", run))
    assert (made.width, made.height) == (44, 1025) and made.preview.shape[1] == 3
    assert (tmp_path / "result.wav").exists() and (tmp_path / "spectrogram.png").exists()
    steps = [r[0] for r in run.reports]
    assert steps == sorted(steps) and {r[1] for r in run.reports} == {STEPS + 100}
    optimise = [r for r in run.reports if r[2].startswith("optimising")]
    griffin = [r for r in run.reports if "Griffin-Lim" in r[2]]
    assert [r[0] for r in optimise] == list(range(1, STEPS + 1)) and all(r[3] for r in optimise)  # with a preview
    assert griffin and griffin[-1][0] == STEPS + 100 and not any(r[3] for r in griffin)


def reason(r, status: int = 422) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert set(r.json()) == {"detail"} and "\n" not in r.json()["detail"]
    return r.json()["detail"]


def test_bad_uploads_are_refused_and_nothing_is_stored(app, client, tmp_path):
    good = wav_bytes(tmp_path, tone(440, 1.0), "g.wav")
    before = stored(app)
    post = lambda files: client.post("/api/sounds", files=files, data={})   # noqa: E731
    assert "the content sound cannot be used: has no audio track" in reason(post(sounds(png_bytes(), good)))
    assert "content sound cannot be used: not an audio file" in reason(post(sounds(b"\x00\x13junk" * 50, good)))
    assert "style sound cannot be used" in reason(post(sounds(good, b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)))
    assert reason(post({"content": ("c.wav", good, "audio/wav")})) == "style: Field required"
    assert "too short" in reason(post(sounds(wav_bytes(tmp_path, tone(440, 0.05), "short.wav"), good)))
    assert "the content sound is 5 s long; the limit is 4 s" in reason(
        post(sounds(wav_bytes(tmp_path, tone(440, 5.0), "long.wav"), good)))
    assert "the style sound is silent" in reason(post(sounds(good, wav_bytes(tmp_path, np.zeros(22_050), "z.wav"))))
    assert stored(app) == before
