"""Files of the service in its data directory:

    <data_dir>/jobs/<job id>/content.<ext>   the photo (or clip) as uploaded
                             style.<ext>     an uploaded painting
                             result.png|mp4  the full-resolution result
                             thumb.jpg       a small copy for the gallery
                             frames/         a video's resumable frame cache
    <data_dir>/tmp/                          uploads being received and checked
    <data_dir>/thumbs/preset_N.jpg           preset thumbnails

Names are ours: an uploaded file's name is never used as a path. Job ids are checked against
their alphabet before they touch the file system.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600   # the service's files are its user's alone
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


class TooLarge(Exception):
    pass


class Storage:
    def __init__(self, data_dir: Path):
        self.root = Path(data_dir)
        self.jobs = self.root / "jobs"
        self.tmp = self.root / "tmp"
        self.thumbs = self.root / "thumbs"
        for d in (self.jobs, self.tmp, self.thumbs):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.jobs, self.tmp):
            d.chmod(PRIVATE_DIR)          # whatever the data directory's own mode
        self._usage: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def job_dir(self, job_id: str, create: bool = False) -> Path:
        if not _JOB_ID.match(job_id):
            raise ValueError("bad job id")
        d = self.jobs / job_id
        if create:
            d.mkdir(exist_ok=True)
            d.chmod(PRIVATE_DIR)
        return d

    def path(self, job_id: str, name: str) -> Path:
        if "/" in name or "\\" in name or name.startswith("."):
            raise ValueError("bad stored name")
        return self.job_dir(job_id) / name

    def receive(self, src: BinaryIO, limit: int) -> Path:
        """Copy an upload into tmp/ under a random name, stopping as soon as it passes `limit` bytes."""
        dst = self.tmp / f"up-{secrets.token_hex(8)}"
        size = 0
        try:
            with os.fdopen(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb") as out:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"file too large: the limit is {limit / 1024 / 1024:.0f} MB")
                    out.write(chunk)
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
        return dst

    def adopt(self, job_id: str, tmp: Path, name: str) -> int:
        """Move a checked upload into the job's folder under our own name; returns its size."""
        dst = self.path(job_id, name)
        dst.parent.mkdir(exist_ok=True, mode=PRIVATE_DIR)
        os.replace(tmp, dst)
        dst.chmod(PRIVATE_FILE)
        self._usage = None
        return dst.stat().st_size

    def make_private(self, job_id: str) -> None:
        """Folders 0700, files 0600 in a job's folder (results are written by the library under
        the process's umask). Also forgets the cached usage: the folder has grown."""
        d = self.job_dir(job_id)
        for path in [d, *d.rglob("*")] if d.exists() else ():
            try:
                path.chmod(PRIVATE_DIR if path.is_dir() else PRIVATE_FILE)
            except OSError:
                pass
        self._usage = None

    def job_bytes(self, job_id: str) -> int:
        d = self.job_dir(job_id)
        return sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) if d.exists() else 0

    def delete(self, job_id: str, keep: tuple[str, ...] = ()) -> None:
        d = self.job_dir(job_id)
        if not d.exists():
            return
        for f in d.iterdir():
            if f.name in keep:
                continue
            shutil.rmtree(f, ignore_errors=True) if f.is_dir() else f.unlink(missing_ok=True)
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
        self._usage = None

    def usage(self, max_age: float = 30.0) -> int:
        """Bytes in the data directory (cached for `max_age` seconds)."""
        with self._lock:
            now = time.monotonic()
            if self._usage is None or now - self._usage[0] > max_age:
                total = 0
                for dirpath, _dirs, files in os.walk(self.root):
                    for f in files:
                        try:
                            total += os.stat(os.path.join(dirpath, f)).st_size
                        except OSError:
                            pass
                self._usage = (now, total)
            return self._usage[1]

    def clean_tmp(self, older_than: float = 3600.0) -> None:
        cutoff = time.time() - older_than
        for f in self.tmp.iterdir():
            try:
                if f.stat().st_mtime < cutoff:
                    f.unlink()
            except OSError:
                pass
