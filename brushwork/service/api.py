"""The REST API (JSON; described at /api/openapi.json, browsable at /api/docs).

    POST /api/jobs                  submit a photo job (multipart: photo, style?, fields) -> 202 {id, token, ...}
    POST /api/videos                submit a video job (multipart: video, style?, fields) -> 202, with an estimate
    POST /api/qr                    submit a stylized QR code (multipart: style, text, ec?, size?) -> 202
    POST /api/translations          submit a photo to a shipped translation model (multipart: photo, model, size?)
    POST /api/sounds                submit a sound job (multipart: content, style, fields) -> 202, with an estimate
    GET  /api/jobs/{id}             status (token: Authorization: Bearer TOKEN, or ?token=)
    GET  /api/jobs/{id}/events      live status as Server-Sent Events (poll the status as a fallback)
    GET  /api/jobs/{id}/preview     the picture as it is painted (small PNG)
    GET  /api/jobs/{id}/result      the result in full resolution
    GET  /api/jobs/{id}/picture     a picture made beside the result (a sound's spectrograms)
    POST /api/jobs/{id}/cancel      stop a queued or running job
    POST /api/jobs/{id}/publish     show a finished picture in the public gallery (or hide it)
    DELETE /api/jobs/{id}           delete the job: its photo, painting and results, at once
    GET  /api/presets               the built-in styles
    GET  /api/gallery               published pictures
    POST /api/gallery/{id}/like     one like per client

Every error is a 4xx with {"detail": "one line"}; no stack trace ever leaves the server.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from ..errors import InputError
from . import kinds, streams
from .db import Job
from .health import report
from .jobs import Service, create_job, delete_job, links, parse_request, status
from .kinds import JobKind
from .messages import for_web
from .security import client_key, link_token, request_token, token_matches
from .storage import TooLarge

router = APIRouter(prefix="/api")

ERROR_SCHEMA = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
ERRORS = {code: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA,
                                                                       "example": {"detail": text}}}}
          for code, text in ((400, "malformed request"), (401, "the job's token is missing"),
                             (404, "no such job, or the token does not match"), (409, "not possible in this state"),
                             (413, "upload too large"), (415, "send JSON"), (422, "a field or a file cannot be used"),
                             (429, "too many requests, or your storage quota is used up"),
                             (507, "the server's storage is full"))}


def svc_of(request: Request) -> Service:
    return request.app.state.service


def client_of(request: Request) -> str:
    svc = svc_of(request)
    return client_key(request, svc.secret, svc.cfg.trust_forwarded)


def rate_limit(request: Request, bucket: str, limit: tuple[int, float]) -> None:
    wait = request.app.state.limiter.hit(client_of(request), bucket, limit[0], limit[1])
    if wait:
        raise HTTPException(429, f"too many requests; try again in {wait:.0f} s",
                            headers={"Retry-After": str(max(1, round(wait)))})


def cross_site(request: Request) -> bool:
    """True if a browser says this request comes from another site (Sec-Fetch-Site, or an
    Origin other than this server's)."""
    if request.headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object of a state-changing endpoint; an empty body is {}. A cross-site form
    cannot send application/json (CSRF), so other types are refused, except an empty body that
    no browser marks as cross-site (`curl -X POST`)."""
    raw = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and (raw.strip() or cross_site(request)):
        raise HTTPException(415, "send Content-Type: application/json (the body may be {} or empty)")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPException(400, f"malformed JSON: {str(e)[:120]}") from None
    except RecursionError:
        raise HTTPException(400, "malformed JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the JSON body must be an object")
    return data


def job_for(request: Request, job_id: str) -> Job:
    """The job, if the request carries its token; 404 alike for a missing job and a wrong token."""
    token = request_token(request, job_id)
    if not token:
        raise HTTPException(401, "this job needs its token: add ?token=... or an Authorization: Bearer header")
    job = svc_of(request).db.get(job_id) if len(job_id) <= 32 else None
    if job is None or not token_matches(token, job.token_hash):
        raise HTTPException(404, "no job with this id and token")
    return job


def _present(upload: UploadFile | None) -> bool:
    return upload is not None and bool(upload.filename or upload.size)


def submit(request: Request, row: JobKind, fields: dict[str, Any],
           uploads: dict[str, UploadFile | None]) -> tuple[Job, str, str | None]:
    """Everything a submission goes through (API and the HTML form alike), for the job kind
    `row`; `uploads` maps the row's upload fields to what was sent. Nothing is stored unless every
    check passes; temporary files are removed on every refusal."""
    svc = svc_of(request)
    cfg = svc.cfg
    rate_limit(request, "submit", cfg.rate_submit)
    client = client_of(request)
    if svc.storage.usage() >= cfg.quota_bytes:
        raise HTTPException(507, "the server's storage is full; try again later")
    if svc.db.client_bytes(client) >= cfg.client_quota_bytes:
        raise HTTPException(429, f"your storage quota ({cfg.client_quota_bytes / 1024 / 1024:.0f} MB) is used up; "
                                 "old jobs expire after a few days")
    present = {u.field for u in row.uploads if _present(uploads.get(u.field))}
    for u in row.uploads:
        if u.required and u.field not in present:
            raise HTTPException(422, f"no {u.what} uploaded (field '{u.field}')")
    try:
        req = parse_request(row, fields, present, cfg)
    except InputError as e:
        raise HTTPException(422, for_web(str(e))) from None
    tmps: list[Path] = []
    try:
        files, checked = {}, {}
        for u in row.uploads:
            if u.field in present:
                tmp = svc.storage.receive(uploads[u.field].file, u.limit(cfg))
                tmps.append(tmp)
                checked[u.field] = info = u.check(tmp, cfg, u.what)
                files[u.role] = (tmp, f"{u.role}.{info.suffix}")
        main = checked[row.main.field]
        created = create_job(svc, row, req, client, files, (main.width, main.height), main.frames)
    except TooLarge as e:
        raise HTTPException(413, str(e)) from None
    except InputError as e:
        raise HTTPException(422, for_web(str(e))) from None
    finally:
        for t in tmps:
            t.unlink(missing_ok=True)
    return created.job, created.token, created.webhook_secret


def _submitted(job: Job, token: str, secret: str | None) -> JSONResponse:
    body = status(job, token)
    body["token"] = token
    if secret:
        body["webhook_secret"] = secret
    body["output"] = job.params.get("output")
    return JSONResponse(body, status_code=202, headers={"Location": body["links"]["status"]})


_FIELD_DOCS = dict(
    preset="a built-in style 0-25, or a blend such as 3:0.5,12:0.5 (or upload `style`)",
    quality="fast (a network, under a second) or best (image iteration with an uploaded painting: minutes)",
    strength="0 (the photo) to 1 (full style); default 1",
    keep_colors="true: keep the photo's colours, style only the brightness",
    size="long side of the output in px (default: the photo's size; up to the print-size limit)",
    stroke_scale="stroke size as a multiple of the network's own, 0.25 to 16 (quality fast); default: strokes "
                 "relative to the picture, as on a 1000 px photo",
    email="send an email here when the job is done",
    webhook="POST a signed JSON notification here when the job is done (see webhook_secret in the answer)",
)


# numbers in the document; the ranges are checked by jobs.parse_request (for the form too), and
# the largest size is this configuration's (document_limits)
STRENGTH = {"minimum": 0, "maximum": 1}
SIZE = {"minimum": 16}
SUBMISSIONS = {"/api/jobs": "image", "/api/videos": "video"}   # path -> the kinds it submits


def document_limits(doc: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """The OpenAPI document `doc` with this configuration's largest output size on each submission."""
    for path, kind in SUBMISSIONS.items():
        body = doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        props = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]
        props["size"]["maximum"] = max(row.max_side(cfg) for row in kinds.family(kind))
    return doc


@router.post("/jobs", status_code=202, responses=ERRORS, summary="Submit a photo")
def submit_image(request: Request,
                 photo: UploadFile = File(..., description="the photo (JPEG, PNG, WebP, TIFF or BMP)"),
                 style: UploadFile | None = File(None, description="a painting to take the style from"),
                 preset: str | None = Form(None, description=_FIELD_DOCS["preset"]),
                 quality: str | None = Form(None, description=_FIELD_DOCS["quality"]),
                 strength: float | None = Form(None, description=_FIELD_DOCS["strength"], json_schema_extra=STRENGTH),
                 keep_colors: str | None = Form(None, description=_FIELD_DOCS["keep_colors"]),
                 size: int | None = Form(None, description=_FIELD_DOCS["size"], json_schema_extra=SIZE),
                 stroke_scale: float | None = Form(None, description=_FIELD_DOCS["stroke_scale"]),
                 email: str | None = Form(None, description=_FIELD_DOCS["email"]),
                 webhook: str | None = Form(None, description=_FIELD_DOCS["webhook"])) -> JSONResponse:
    try:
        row = kinds.select("image", quality)
    except InputError as e:
        raise HTTPException(422, for_web(str(e))) from None
    fields = dict(preset=preset, strength=strength, keep_colors=keep_colors, size=size, stroke_scale=stroke_scale,
                  email=email, webhook=webhook)
    return _submitted(*submit(request, row, fields, {"photo": photo, "style": style}))


@router.post("/videos", status_code=202, responses=ERRORS, summary="Submit a video clip")
def submit_video(request: Request,
                 video: UploadFile = File(..., description="the clip (anything FFmpeg decodes)"),
                 style: UploadFile | None = File(None, description="a painting to take the style from"),
                 preset: str | None = Form(None, description=_FIELD_DOCS["preset"]),
                 strength: float | None = Form(None, description=_FIELD_DOCS["strength"], json_schema_extra=STRENGTH),
                 keep_colors: str | None = Form(None, description=_FIELD_DOCS["keep_colors"]),
                 size: int | None = Form(None, description="long side of the output in px", json_schema_extra=SIZE),
                 stroke_scale: float | None = Form(None, description=_FIELD_DOCS["stroke_scale"]),
                 email: str | None = Form(None, description=_FIELD_DOCS["email"]),
                 webhook: str | None = Form(None, description=_FIELD_DOCS["webhook"])) -> JSONResponse:
    fields = dict(preset=preset, strength=strength, keep_colors=keep_colors, size=size, stroke_scale=stroke_scale,
                  email=email, webhook=webhook)
    return _submitted(*submit(request, kinds.select("video"), fields, {"video": video, "style": style}))


@router.post("/qr", status_code=202, responses=ERRORS, summary="Submit a stylized QR code")
def submit_qr(request: Request,
              style: UploadFile = File(..., description="the painting whose style the code takes"),
              text: str = Form(..., description="the text or link to encode"),
              ec: str | None = Form(None, description="error-correction level L, M, Q or H (default M)"),
              size: int | None = Form(None, description="side of the square output in px (default 512)"),
              email: str | None = Form(None, description=_FIELD_DOCS["email"]),
              webhook: str | None = Form(None, description=_FIELD_DOCS["webhook"])) -> JSONResponse:
    fields = dict(text=text, ec=ec, size=size, email=email, webhook=webhook)
    return _submitted(*submit(request, kinds.select("qr"), fields, {"style": style}))


@router.post("/translations", status_code=202, responses=ERRORS, summary="Translate a photo with a shipped model")
def submit_translation(request: Request,
                       photo: UploadFile = File(..., description="the photo (JPEG, PNG, WebP, TIFF or BMP)"),
                       model: str = Form(..., description="a shipped translation model's name (e.g. edges2photo)"),
                       size: int | None = Form(None, description=_FIELD_DOCS["size"]),
                       email: str | None = Form(None, description=_FIELD_DOCS["email"]),
                       webhook: str | None = Form(None, description=_FIELD_DOCS["webhook"])) -> JSONResponse:
    try:
        row = kinds.select("translate", model)
    except InputError as e:
        raise HTTPException(422, str(e)) from None
    return _submitted(*submit(request, row, dict(size=size, email=email, webhook=webhook), {"photo": photo}))


@router.post("/sounds", status_code=202, responses=ERRORS, summary="Submit two sounds (audio style transfer)")
def submit_sound(request: Request,
                 content: UploadFile = File(..., description="the sound whose form is kept (anything FFmpeg "
                                                             "decodes: wav, flac, ogg, mp3, m4a)"),
                 style: UploadFile = File(..., description="the sound whose timbre and texture it takes"),
                 email: str | None = Form(None, description=_FIELD_DOCS["email"]),
                 webhook: str | None = Form(None, description=_FIELD_DOCS["webhook"])) -> JSONResponse:
    fields = dict(email=email, webhook=webhook)
    return _submitted(*submit(request, kinds.select("audio"), fields, {"content": content, "style": style}))


@router.get("/jobs/{job_id}", responses=ERRORS, summary="A job's status")
def get_status(request: Request, job_id: str) -> dict:
    return status(job_for(request, job_id), link_token(request))


@router.get("/jobs/{job_id}/events", responses=ERRORS, summary="Live status (Server-Sent Events)",
            response_class=StreamingResponse)
async def events(request: Request, job_id: str) -> StreamingResponse:
    job = await run_in_threadpool(job_for, request, job_id)
    token = link_token(request)
    svc = svc_of(request)
    release = request.app.state.streams.take(client_of(request))
    if isinstance(release, str):
        raise HTTPException(429, release, headers={"Retry-After": "5"})

    async def stream():
        try:
            async for part in updates():
                yield part
        finally:
            release()

    async def updates():
        last, last_sent = None, time.monotonic()
        started = time.monotonic()
        yield "retry: 2000\n\n"
        current = job
        watch = streams.watch(request.app.state.watches, svc.db.get_many)   # one query for all streams
        watch.follow(job_id, job)
        try:
            while True:
                key = (current.state, current.updated_at, current.preview_version)
                if key != last:
                    last, last_sent = key, time.monotonic()
                    yield f"event: status\ndata: {json.dumps(status(current, token))}\n\n"
                if current.finished:
                    yield "event: end\ndata: {}\n\n"
                    return
                if time.monotonic() - last_sent > 15:
                    last_sent = time.monotonic()
                    yield ": keep-alive\n\n"
                if time.monotonic() - started > 3600 or await request.is_disconnected():
                    return
                fresh = await watch.changed(job_id, timeout=1.0)
                if fresh is None:
                    return
                current = fresh
        finally:
            watch.unfollow(job_id)

    # released when the stream ends, and (should it never start) once the response is over
    return StreamingResponse(stream(), media_type="text/event-stream", background=BackgroundTask(release),
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/jobs/{job_id}/preview", responses={**ERRORS, 200: {"content": {"image/png": {}}}},
            response_class=Response, summary="The picture as it is painted")
def preview(request: Request, job_id: str) -> Response:
    job = job_for(request, job_id)
    if not job.preview:
        raise HTTPException(404, "no preview yet")
    return Response(job.preview, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/jobs/{job_id}/result", responses={**ERRORS, 410: {"description": "expired"},
                                                  200: {"content": {"image/png": {}, "video/mp4": {},
                                                                    "audio/wav": {}}}},
            response_class=FileResponse, summary="The result in full resolution")
def result(request: Request, job_id: str) -> FileResponse:
    job = job_for(request, job_id)
    return _result_file(request, job)


@router.get("/jobs/{job_id}/picture", responses={**ERRORS, 410: {"description": "expired"},
                                                   200: {"content": {"image/png": {}}}},
            response_class=FileResponse, summary="A picture made beside the result (a sound's spectrograms)")
def picture(request: Request, job_id: str) -> FileResponse:
    job = job_for(request, job_id)
    name = kinds.of(job).picture
    if name is None:
        raise HTTPException(404, f"{job.kind} jobs make no picture beside their result")
    return _result_file(request, job, name, "image/png")


def _result_file(request: Request, job: Job, name: str | None = None, media_type: str | None = None) -> FileResponse:
    """The job's result (or the file `name` made with it), once the job is done."""
    if job.state != "done":
        raise HTTPException(409, f"the job is {job.state}; the result is there when it is done")
    if not job.result:
        raise HTTPException(410, "the result has expired and was deleted")
    path = svc_of(request).storage.path(job.id, name or job.result)
    if not path.exists():
        raise HTTPException(410, "the result has expired and was deleted")
    return FileResponse(path, media_type=media_type or kinds.of(job).media_type,
                        filename=f"brushwork-{job.id}{path.suffix}", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/jobs/{job_id}/cancel", responses=ERRORS, summary="Cancel a job",
             openapi_extra={"requestBody": {"required": False,
                                             "content": {"application/json": {"schema": {"type": "object"}}}}})
async def cancel(request: Request, job_id: str) -> dict:
    await json_body(request)
    job = await run_in_threadpool(job_for, request, job_id)
    svc = svc_of(request)
    if job.finished:
        raise HTTPException(409, f"the job is already {job.state}")
    await run_in_threadpool(svc.db.cancel, job.id)
    return status(svc.db.get(job.id), link_token(request))


@router.delete("/jobs/{job_id}", status_code=204, response_class=Response, responses=ERRORS,
               summary="Delete a job: its photo, painting and results, at once")
def delete(request: Request, job_id: str) -> Response:
    job = job_for(request, job_id)
    delete_job(svc_of(request), job.id)
    return Response(status_code=204)


class PublishBody(BaseModel):
    public: bool = Field(True, description="true: show in the gallery; false: hide again")
    title: str | None = Field(None, max_length=100, description="a caption")


@router.post("/jobs/{job_id}/publish", responses=ERRORS, summary="Publish to the gallery (or hide)",
             openapi_extra={"requestBody": {"required": False, "content": {"application/json": {
                 "schema": PublishBody.model_json_schema()}}}})
async def publish(request: Request, job_id: str) -> dict:
    data = await json_body(request)
    try:
        body = PublishBody.model_validate(data)
    except Exception as e:
        raise HTTPException(422, one_line(e)) from None
    job = await run_in_threadpool(job_for, request, job_id)
    svc = svc_of(request)
    if body.public:
        if job.state != "done" or not job.result:
            raise HTTPException(409, "only a finished job can be published")
        if not kinds.of(job).publishable:
            raise HTTPException(409, "only pictures can be published to the gallery for now")
        await run_in_threadpool(_make_thumb, svc, job)
        cfg = svc.cfg
        svc.db.update(job.id, public=True, published_at=time.time(),
                      title=(body.title or "").strip()[:100] or None,
                      expires_at=time.time() + cfg.gallery_expire_days * 86400)
    else:
        svc.db.update(job.id, public=False)
    return status(svc.db.get(job.id), link_token(request))


def _make_thumb(svc: Service, job: Job) -> None:
    from PIL import Image
    src = svc.storage.path(job.id, job.result)
    dst = svc.storage.path(job.id, "thumb.jpg")
    if dst.exists():
        return
    with Image.open(src) as im:
        im = im.convert("RGB")
        im.thumbnail((640, 640), Image.Resampling.LANCZOS)
        tmp = dst.with_name("thumb.tmp.jpg")
        im.save(tmp, "JPEG", quality=85)
        tmp.replace(dst)


def one_line(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        parts = []
        for err in errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return "; ".join(parts)[:300]
    return str(e)[:300]


@router.get("/presets", summary="The built-in styles: ours by name, then the 26 ONNX ones by number")
def list_presets() -> list[dict]:
    from ..feedforward import presets
    return [{"key": p.key, "index": p.index, "name": p.name, "look": p.look, "thumbnail_url": f"/presets/{p.key}.jpg"}
            for p in presets()]


@router.get("/health", summary="This node's database and broker (passwords redacted), and whether they answer",
            responses={503: {"description": "the database or the broker does not answer"}})
def health(request: Request) -> JSONResponse:
    svc = svc_of(request)
    body = report(svc.cfg, "web", svc.db.engine, svc.broker.app)
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


def gallery_item(job: Job) -> dict:
    return {"id": job.id, "title": job.title, "likes": job.likes,
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job.published_at or 0)),
            "width": job.result_width, "height": job.result_height,
            "image_url": f"/gallery/{job.id}/image", "thumbnail_url": f"/gallery/{job.id}/thumb",
            "like_url": f"/api/gallery/{job.id}/like"}


def gallery_items(svc: Service, sort: str, limit: int, offset: int) -> list[dict]:
    return [gallery_item(j) for j in svc.db.published(sort, limit, offset)]


@router.get("/gallery", summary="Published pictures", responses={c: ERRORS[c] for c in (422, 429)})
def gallery(request: Request, sort: str = Query("new", pattern="^(new|top)$"),
            limit: int = Query(24, ge=1, le=100), offset: int = Query(0, ge=0, le=100_000)) -> list[dict]:
    return gallery_items(svc_of(request), sort, limit, offset)


def public_job(request: Request, job_id: str) -> Job:
    job = svc_of(request).db.get(job_id) if len(job_id) <= 32 else None
    if job is None or not job.public:
        raise HTTPException(404, "no published picture with this id")
    return job


@router.post("/gallery/{job_id}/like", responses=ERRORS, summary="Like a published picture (once per client)",
             openapi_extra={"requestBody": {"required": False,
                                             "content": {"application/json": {"schema": {"type": "object"}}}}})
async def like(request: Request, job_id: str) -> JSONResponse:
    await json_body(request)
    svc = svc_of(request)
    rate_limit(request, "like", (60, 60.0))
    job = await run_in_threadpool(public_job, request, job_id)
    likes = await run_in_threadpool(svc.db.like, job.id, client_of(request))
    if likes is None:
        return JSONResponse({"detail": "you already like this picture", "likes": svc.db.get(job.id).likes,
                             "liked": True}, status_code=409)
    return JSONResponse({"likes": likes, "liked": True})


__all__ = ["router", "submit", "job_for", "links", "gallery_items", "public_job"]


@router.post("/fashion", status_code=202, responses=ERRORS, summary="Paint a pattern onto a garment")
def submit_fashion(request: Request,
                   photo: UploadFile = File(..., description="the photo of the garment"),
                   pattern: UploadFile = File(..., description="the pattern to paint onto it"),
                   mask: UploadFile | None = File(None, description="white on the garment, the photo's size or "
                                                  "aspect ratio (default: found automatically, for product shots)"),
                   quality: str | None = Form(None, description="fast (the any-style network, seconds) or best "
                                              "(image iteration: minutes)"),
                   email: str | None = Form(None, description=_FIELD_DOCS["email"]),
                   webhook: str | None = Form(None, description=_FIELD_DOCS["webhook"])) -> JSONResponse:
    try:
        row = kinds.select("fashion", quality)
    except InputError as e:
        raise HTTPException(422, str(e)) from None
    return _submitted(*submit(request, row, dict(email=email, webhook=webhook),
                              {"photo": photo, "pattern": pattern, "mask": mask}))


@router.post("/photo", status_code=202, responses=ERRORS,
             summary="Give a photo the look of another photo; it stays a photo")
def submit_photo(request: Request,
                 photo: UploadFile = File(..., description="the photo to restyle"),
                 style: UploadFile = File(..., description="the reference photo whose look it takes"),
                 quality: str | None = Form(None, description="fast (colour statistics, seconds) or best "
                                            "(Deep Photo Style Transfer's iteration: minutes)"),
                 strength: float | None = Form(None, description="0 = the photo unchanged, 1 = the full look"),
                 email: str | None = Form(None, description=_FIELD_DOCS["email"]),
                 webhook: str | None = Form(None, description=_FIELD_DOCS["webhook"])) -> JSONResponse:
    try:
        row = kinds.select("photo", quality)
    except InputError as e:
        raise HTTPException(422, str(e)) from None
    return _submitted(*submit(request, row, dict(strength=strength, email=email, webhook=webhook),
                              {"photo": photo, "style": style}))
