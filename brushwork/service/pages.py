"""Server-rendered pages (Jinja2) with a little JavaScript (static/app.js):

    /                   upload a photo, a clip or a sound, pick a style, submit (the HTML form, CSRF-protected)
    /jobs/{id}?token=   the job: progress bar, the picture as it is painted, download, publish
    /gallery            published pictures, with likes
    /presets/{n}.jpg    preset thumbnails (painted once on a built-in photo, then kept)
"""
from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..errors import InputError
from . import kinds
from .api import gallery_items, job_for, public_job, submit, svc_of
from .jobs import links, status
from .messages import for_web
from .security import CSRF_FIELD, csrf_ok, csrf_token, job_cookie, request_token, set_csrf_cookie

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
SIZES = (("original", "as the photo"), ("1024", "1024 px (screen)"), ("2048", "2048 px"),
         ("4096", "4096 px (print, A4)"), ("6000", "6000 px (print, A3)"))


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    token = csrf_token(request)
    cfg = svc_of(request).cfg
    response = templates.TemplateResponse(request, name, {"csrf": token, "csrf_field": CSRF_FIELD, "cfg": cfg,
                                                          **context}, status_code=status_code)
    set_csrf_cookie(response, token, secure=cfg.public_url.startswith("https"))
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, code: int, detail: str) -> HTMLResponse:
    titles = {400: "That did not work", 401: "This page needs its link", 404: "Not found", 409: "Not yet",
              410: "Gone", 413: "Too large", 415: "That did not work", 422: "That did not work",
              429: "Slow down", 507: "Storage full"}
    return _page(request, "error.html", {"title": titles.get(code, "That did not work"), "detail": detail,
                                         "code": code}, status_code=code)


def _index_context(request: Request, error: str | None = None) -> dict[str, Any]:
    from ..feedforward import presets
    from ..feedforward.presets import DEFAULT_PRESET
    svc = svc_of(request)
    return {"presets": presets(), "default_preset": DEFAULT_PRESET, "sizes": SIZES, "error": error,
            "recent": gallery_items(svc, "new", 8, 0), "max_mb": svc.cfg.max_upload_bytes // (1024 * 1024),
            "max_video_mb": svc.cfg.max_video_bytes // (1024 * 1024),
            "max_sound_mb": svc.cfg.max_sound_bytes // (1024 * 1024)}


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return _page(request, "index.html", _index_context(request))


def _family(upload: UploadFile) -> str:
    """The job family an upload starts, "image", "video" or "audio", decided by content: what
    Pillow opens is a picture; of the rest, the declared type or the first bytes tell a sound or
    a clip; anything else is checked (and refused) as a picture."""
    from PIL import Image, UnidentifiedImageError
    f = upload.file
    pos = f.tell()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(f):
                return "image"
    except Image.DecompressionBombError:
        return "image"          # a picture, far too large: checking it says so
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        declared = (upload.content_type or "").split("/")[0]
        if declared in ("audio", "video"):
            return declared
        f.seek(0)
        head = f.read(64)
        return "audio" if _looks_like_sound(head) else "video" if _looks_like_video(head) else "image"
    finally:
        f.seek(pos)


def _looks_like_video(head: bytes) -> bool:
    """MP4/MOV, Matroska/WebM, AVI and GIF by their first bytes."""
    return head[4:8] in (b"ftyp", b"moov", b"mdat") or head[:4] in (b"\x1aE\xdf\xa3", b"RIFF", b"GIF8")


def _looks_like_sound(head: bytes) -> bool:
    """WAV, FLAC, Ogg, MP3 (tagged or a bare frame) and M4A audio by their first bytes."""
    return ((head[:4] == b"RIFF" and head[8:12] == b"WAVE") or head[:4] in (b"fLaC", b"OggS")
            or head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
            or (head[4:8] == b"ftyp" and head[8:11] == b"M4A"))


@router.post("/submit")
def submit_form(request: Request, photo: UploadFile | None = File(None), style: UploadFile | None = File(None),
                preset: str | None = Form(None), quality: str | None = Form(None),
                strength: str | None = Form(None), keep_colors: str | None = Form(None),
                size: str | None = Form(None), email: str | None = Form(None), webhook: str | None = Form(None),
                csrf: str | None = Form(None)) -> Response:
    if not csrf_ok(request, csrf):
        return error_page(request, 400, "the form expired or came from another site; reload the page and try again")
    if preset == "own":
        preset = None
    elif preset:
        style = None            # a preset was picked: a painting chosen earlier is not used
    cfg = svc_of(request).cfg
    try:
        # one file field for photos, clips and sounds: the upload's content picks the family of kinds
        family = _family(photo) if photo is not None and photo.filename else "image"
        several = len(kinds.family(family)) > 1
        row = kinds.select(family, quality if several else None)
        if size and size.isdigit() and int(size) > row.max_side(cfg):
            size = str(row.max_side(cfg))   # the form offers print sizes; some kinds have a lower limit
        sent = dict(preset=preset, strength=strength, keep_colors=keep_colors or "false", size=size,
                    email=email, webhook=webhook)
        fields = {k: v for k, v in sent.items() if k in row.fields}
        job, token, secret = submit(request, row, fields, {row.main.field: photo, "style": style})
    except InputError as e:
        return _page(request, "index.html", _index_context(request, for_web(str(e))), status_code=422)
    except HTTPException as e:
        return _page(request, "index.html", _index_context(request, e.detail), status_code=e.status_code)
    url = links(job.id, token).page + ("&new=1" if not secret else "&new=1&ws=1")
    response = RedirectResponse(url, status_code=303)
    if secret:   # shown once on the job page, never stored in a link
        response.set_cookie(f"bw_ws_{job.id}", secret, httponly=True, samesite="strict", max_age=600,
                            path=f"/jobs/{job.id}")
    return response


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> HTMLResponse:
    job = job_for(request, job_id)
    token = request_token(request, job_id)
    info = status(job)          # links without the token: the cookie below carries it
    secret = request.cookies.get(f"bw_ws_{job.id}") if request.query_params.get("ws") else None
    row = kinds.of(job)
    response = _page(request, "job.html", {"job": job, "info": info, "token": token, "webhook_secret": secret,
                                           "params": job.params or {}, "publishable": row.publishable,
                                           "video": row.media_type.startswith("video/"),
                                           "audio": row.media_type.startswith("audio/")})
    # the page's own requests (status, events, preview, download) carry the token in this cookie,
    # not in their URLs; the page's address keeps it (it is the user's key)
    response.set_cookie(job_cookie(job.id), token, httponly=True, samesite="strict", path="/",
                        secure=svc_of(request).cfg.public_url.startswith("https"),
                        max_age=int(svc_of(request).cfg.gallery_expire_days * 86400))
    return response


@router.get("/gallery", response_class=HTMLResponse)
def gallery_page(request: Request, sort: str = "new") -> HTMLResponse:
    sort = sort if sort in ("new", "top") else "new"
    return _page(request, "gallery.html", {"items": gallery_items(svc_of(request), sort, 60, 0), "sort": sort})


@router.get("/gallery/{job_id}/image")
def gallery_image(request: Request, job_id: str) -> FileResponse:
    job = public_job(request, job_id)
    path = svc_of(request).storage.path(job.id, job.result or "result.png")
    if not path.exists():
        raise HTTPException(410, "this picture has expired")
    return FileResponse(path, media_type="image/png", filename=f"brushwork-{job.id}.png",
                        content_disposition_type="inline")


@router.get("/gallery/{job_id}/thumb")
def gallery_thumb(request: Request, job_id: str) -> FileResponse:
    job = public_job(request, job_id)
    path = svc_of(request).storage.path(job.id, "thumb.jpg")
    if not path.exists():
        raise HTTPException(410, "this picture has expired")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})


_thumb_locks: dict[str, threading.Lock] = {}
_thumb_locks_lock = threading.Lock()


@router.get("/presets/{key}.jpg")
async def preset_thumb(request: Request, key: str) -> FileResponse:
    from ..feedforward import presets
    if key not in {p.key for p in presets()}:
        raise HTTPException(404, f"there is no preset {key!r} (see /api/presets)")
    path = svc_of(request).storage.thumbs / f"preset_{key}.jpg"
    if not path.exists():
        await run_in_threadpool(_paint_thumb, key, path)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=604800"})


def _paint_thumb(key: str, path: Path, side: int = 192) -> None:
    with _thumb_locks_lock:
        lock = _thumb_locks.setdefault(key, threading.Lock())
    with lock:
        if path.exists():
            return
        import numpy as np
        from PIL import Image
        from skimage import data

        import brushwork
        photo = data.chelsea()                  # scikit-image's cat: shipped, public domain
        h, w = photo.shape[:2]
        s = min(h, w)
        crop = photo[(h - s) // 2:(h + s) // 2, (w - s) // 2 + 20:(w + s) // 2 + 20]
        img = Image.fromarray(crop).resize((side, side), Image.Resampling.LANCZOS)
        out = brushwork.apply(np.asarray(img), preset=key)
        a = (out[0].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
        tmp = path.with_name(f".{path.name}.tmp")
        Image.fromarray(a).save(tmp, "JPEG", quality=88)
        tmp.replace(path)
