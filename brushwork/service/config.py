"""Service settings: one dataclass, filled from defaults, `BRUSHWORK_*` environment variables and
the command line (in that order). Worker processes read the same variables, so `brushwork serve`
hands its settings to the workers it starts through the environment.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024


@dataclass
class ServiceConfig:
    data_dir: Path = field(default_factory=lambda: Path.home() / ".brushwork")
    db_url: str | None = None        # default: sqlite:///<data_dir>/brushwork.sqlite
    broker_url: str | None = None    # default: sqla+sqlite:///<data_dir>/broker.sqlite (no server needed)
    public_url: str = "http://127.0.0.1:8000"  # base of links in emails and webhooks

    # uploads
    max_upload_bytes: int = 40 * MB          # one photo or painting
    max_video_bytes: int = 200 * MB
    max_pixels: int = 50_000_000             # photo/painting pixels (brushwork.image allows 100 MP)
    max_video_seconds: float = 120.0
    max_sound_bytes: int = 40 * MB           # one sound (the content or the style)
    max_sound_seconds: float = 30.0          # each sound; a result is as long as its content
    image_formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "TIFF", "BMP")
    # outputs
    max_output_side: int = 6000              # "print size": A3 at 300 dpi is 4961 x 3508
    max_output_pixels: int = 36_000_000
    max_best_side: int = 1024                # image iteration (minutes on a CPU; seconds on a GPU)
    max_video_side: int = 1280
    best_steps: int = 150
    audio_steps: int | None = None           # sound jobs' optimisation steps (None: stylize_audio's default)
    audio_filters: int | None = None         # and their random filters (None: the same)
    device: str = "auto"

    # storage
    quota_bytes: int = 5 * 1024 * MB         # the whole data directory
    client_quota_bytes: int = 500 * MB       # what one client's unexpired jobs may hold
    expire_days: float = 7.0                 # private jobs' files are deleted after this
    gallery_expire_days: float = 90.0        # published ones after this

    # queue
    lease_s: float = 60.0                    # a running job whose worker has not been heard of for this
    max_attempts: int = 3                    # long is re-queued, at most this many runs in all
    unsent_after_s: float = 30.0             # a submission whose message failed is sent by the sweeper after this
    sweep_every_s: float = 5.0               # also how soon a job of a vanished process on this machine re-runs
    node_beat_s: float = 2.0                 # a worker node's heartbeat; one silent for 3 beats is gone, and
                                             # its jobs run again at the next sweep, not after their lease
    poll_interval_s: float = 0.2             # embedded broker polling

    # clients
    rate_submit: tuple[int, float] = (20, 60.0)    # jobs per client per window (s)
    rate_requests: tuple[int, float] = (600, 60.0)  # any request per client per window
    max_streams_per_client: int = 4          # open event streams (SSE) per client ...
    max_streams: int = 200                   # ... and in all, per web process; then clients poll
    trust_forwarded: int = 0                 # proxies of yours in front of the service that append the
                                             # client to X-Forwarded-For (0: the peer is the client)
    cors_origins: tuple[str, ...] = ()       # off by default

    # notifications
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    mail_from: str = "brushwork@localhost"
    notify_retries: int = 5
    notify_backoff_s: float = 30.0           # first retry after this, doubling
    webhook_timeout_s: float = 10.0
    webhook_allow_private: bool = False      # allow webhooks to loopback/private addresses

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'brushwork.sqlite'}"

    @property
    def broker(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"

    @property
    def embedded_broker(self) -> bool:
        return self.broker.startswith(("sqla+", "filesystem:", "memory:"))

    def replace(self, **changes) -> "ServiceConfig":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def prepare(self) -> "ServiceConfig":
        """Create the data directory (private to this user)."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.data_dir / "jobs").mkdir(exist_ok=True)
        (self.data_dir / "tmp").mkdir(exist_ok=True)
        return self

    def secret(self) -> bytes:
        """A per-installation secret (hashes client addresses), made once and kept in the data dir."""
        path = self.data_dir / "secret.key"
        try:
            return bytes.fromhex(path.read_text().strip())
        except (OSError, ValueError):
            self.prepare()
            key = secrets.token_bytes(32)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key.hex())
            try:
                os.link(tmp, path)          # first writer wins when two processes race
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
            return bytes.fromhex(path.read_text().strip())

    # environment: BRUSHWORK_DATA_DIR, BRUSHWORK_DB, BRUSHWORK_BROKER, BRUSHWORK_<FIELD> ...
    _ENV_ALIASES = {"db_url": "BRUSHWORK_DB", "broker_url": "BRUSHWORK_BROKER"}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "ServiceConfig":
        env = dict(os.environ if env is None else env)
        values: dict = {}
        for f in dataclasses.fields(cls):
            name = cls._ENV_ALIASES.get(f.name, f"BRUSHWORK_{f.name.upper()}")
            if name in env:
                values[f.name] = _parse(f, env[name])
        cfg = cls(**values)
        return cfg.replace(**overrides)

    def to_env(self) -> dict[str, str]:
        """The variables that make `from_env` give back this config (for worker processes)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            name = self._ENV_ALIASES.get(f.name, f"BRUSHWORK_{f.name.upper()}")
            if isinstance(value, tuple):
                value = ",".join(str(v) for v in value)
            out[name] = str(value)
        return out


def _parse(f: dataclasses.Field, text: str):
    kind = str(f.type)
    if "tuple[int, float]" in kind:
        a, b = text.split(",")
        return int(a), float(b)
    if "tuple" in kind:
        return tuple(s.strip() for s in text.split(",") if s.strip())
    if kind.startswith("bool"):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if kind.startswith("int"):
        word = text.strip().lower()       # a yes/no for a count means one / none (TRUST_FORWARDED=true)
        return 1 if word in ("true", "yes", "on") else 0 if word in ("false", "no", "off") else int(text)
    if kind.startswith("float"):
        return float(text)
    if kind == "Path":
        return Path(text)
    return text


def redact(url: str) -> str:
    """`url` with its password (if any) shown as ***, for messages and the health endpoint."""
    from urllib.parse import urlsplit, urlunsplit
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return "(unparsable URL)"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
