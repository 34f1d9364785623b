"""End to end in a real browser: headless Chromium (Selenium, Debian's chromium + chromium-driver)
against the real app served by uvicorn, with a real worker on the embedded queue. Upload a photo,
pick a preset, submit, follow the job page until the painting is shown, then download it.
Skipped where chromium, its driver or selenium is missing."""
from __future__ import annotations

import io
import os
import shutil
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image

import brushwork
from brushwork.service.app import create_app
from service_util import config, live_server, png_bytes, worker

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _first(*candidates: str | None) -> str | None:
    for c in candidates:
        if c and (shutil.which(c) or (os.path.isfile(c) and os.access(c, os.X_OK))):
            return shutil.which(c) or c
    return None


CHROMIUM = _first(os.environ.get("BRUSHWORK_CHROMIUM"), "chromium", "chromium-browser", "/usr/lib/chromium/chromium")
DRIVER = _first(os.environ.get("BRUSHWORK_CHROMEDRIVER"), "chromedriver", "/usr/lib/chromium/chromedriver",
                "/usr/bin/chromedriver")


@pytest.fixture
def browser():
    if not CHROMIUM or not DRIVER:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,900", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    except Exception as e:     # a driver that does not match the browser, no display libraries...
        pytest.skip(f"headless chromium did not start: {str(e).splitlines()[0][:200]}")
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def test_upload_pick_a_preset_and_download(tmp_path, browser):
    started = time.monotonic()
    app = create_app(config(tmp_path), sweeper=False)
    svc = app.state.service
    # the form shows every preset's thumbnail, each painted on first request: stand-ins keep the test fast
    thumb = io.BytesIO()
    Image.new("RGB", (96, 96), (120, 90, 60)).save(thumb, "JPEG")
    for p in brushwork.presets():
        (svc.storage.thumbs / f"preset_{p.key}.jpg").write_bytes(thumb.getvalue())
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(80, 64, seed=3))
    try:
        with worker(svc, queues=("fast", "notify")), live_server(app) as (base, _port):
            b = browser
            wait = WebDriverWait(b, 30)
            b.get(base + "/")
            assert "Paint your photo" in b.page_source
            # 1. the photo: the file input is inside the drop zone; the page previews it
            b.find_element(By.ID, "photo").send_keys(str(photo))
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#photo-drop .drop-text").text.startswith("photo.png"))
            # 2. a preset: the radio button is hidden behind its thumbnail, so click the label
            b.find_element(By.CSS_SELECTOR, "label.preset:has(input[value='3'])").click()
            assert b.find_element(By.CSS_SELECTOR, "input[name=preset][value='3']").is_selected()
            assert b.find_element(By.CSS_SELECTOR, "input[name=quality][value=fast]").is_selected()
            assert b.find_element(By.ID, "style-drop").get_attribute("hidden") is not None
            # 3. submit -> the job page (a 303 to /jobs/ID?token=...)
            b.find_element(By.ID, "submit").click()
            wait.until(EC.url_contains("/jobs/"))
            assert "token=" in b.current_url
            # 4. live progress until done: the picture and the download link appear
            # (textContent: the badge is shown in capitals by the style sheet)
            state = lambda d: d.find_element(By.ID, "job-state").get_attribute("textContent").strip()  # noqa: E731
            wait.until(lambda d: state(d) in ("done", "failed", "cancelled"))
            assert state(b) == "done", b.find_element(By.ID, "error").get_attribute("textContent")
            assert "preset 3" in b.find_element(By.CSS_SELECTOR, ".meta").text
            wait.until(lambda d: d.execute_script(
                "const i = document.getElementById('preview');"
                "return i && !i.hidden && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null;"))
            shown = b.execute_script("const i = document.getElementById('preview');"
                                     "return [i.naturalWidth, i.naturalHeight];")
            assert shown == [80, 64]
            download = b.find_element(By.ID, "download")
            assert download.is_displayed() and download.get_attribute("download") is not None
            href = download.get_attribute("href")
            assert href.endswith("/result") and "token" not in href   # no token in a logged URL
            # the browser fetches it with the job page's read cookie (same origin)
            fetched = b.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch(arguments[0]).then(r => r.arrayBuffer().then(a => done([r.status, "
                "r.headers.get('content-type'), a.byteLength]))).catch(e => done(String(e)));", href)
            assert fetched[0] == 200 and fetched[1] == "image/png" and fetched[2] > 100, fetched
            with pytest.raises(urllib.error.HTTPError) as refused:     # without it: no credential
                urllib.request.urlopen(href, timeout=10)
            assert refused.value.code == 401
            token = b.current_url.split("token=")[1].split("&")[0]
            with urllib.request.urlopen(f"{href}?token={token}", timeout=10) as r:
                assert r.status == 200 and "attachment" in r.headers.get("content-disposition", "")
                with Image.open(io.BytesIO(r.read())) as im:
                    assert im.format == "PNG" and im.size == (80, 64)
            # reloading the finished page renders the result server-side as well
            b.refresh()
            assert b.find_element(By.ID, "job-title").get_attribute("textContent") == "Your painting is ready"
            assert b.find_element(By.ID, "download").is_displayed()
    finally:
        svc.close()
    assert time.monotonic() - started < 60
