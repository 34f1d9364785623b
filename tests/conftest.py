"""Shared fixtures: tiny images that installed packages ship or that we make; the service's
backends (every broker x database pair that can run here)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from brushwork.image import array_to_tensor, resize
from service_util import broker_url, database_url


def small(a: np.ndarray, side: int) -> torch.Tensor:
    t = array_to_tensor(a)
    h, w = t.shape[-2:]
    s = side / max(h, w)
    return resize(t, (round(h * s), round(w * s)))


@pytest.fixture(scope="session")
def content() -> torch.Tensor:
    """A 64-px photo (scikit-image's coffee)."""
    return small(data.coffee(), 64)


@pytest.fixture(scope="session")
def stripes() -> torch.Tensor:
    """A 64-px style: bold diagonal red/blue stripes — nothing like a photo."""
    yy, xx = np.mgrid[0:64, 0:64]
    band = ((xx + yy) // 6) % 2
    rgb = np.where(band[..., None] == 1, [0.9, 0.15, 0.1], [0.1, 0.2, 0.85]).astype(np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


@pytest.fixture(scope="session")
def dots() -> torch.Tensor:
    """A second 64-px style: yellow dots on dark green."""
    yy, xx = np.mgrid[0:64, 0:64]
    on = ((xx % 8 - 4) ** 2 + (yy % 8 - 4) ** 2) < 6
    rgb = np.where(on[..., None], [0.95, 0.9, 0.2], [0.05, 0.3, 0.1]).astype(np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


# --- the service's backends: every broker x database pair that can run here ------------------------

BROKERS = ("sqlite", "redis", "rabbitmq")      # sqlite: the built-in broker (kombu's SQL transport)
DATABASES = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def servers():
    """`servers(kind)`: a throw-away local server (tests/servers.py), started on first use and
    shared by the session; the test is skipped, with the reason, where one cannot run."""
    import servers as local
    started: dict[str, object] = {}

    def get(kind: str):
        why = local.missing(kind)
        if why:
            pytest.skip(why)
        if kind not in started:
            try:
                started[kind] = local.START[kind]()
            except Exception as e:  # installed but cannot run here: say why, once per session
                started[kind] = e
        if isinstance(started[kind], Exception):
            pytest.skip(f"{kind} could not be started here: {started[kind]}")
        return started[kind]
    yield get
    for server in started.values():
        if not isinstance(server, Exception):
            server.close()


@pytest.fixture(params=BROKERS)
def broker(request, servers) -> str | None:
    """Each broker: its URL for ServiceConfig.broker_url."""
    return broker_url(servers, request.param)


@pytest.fixture(params=DATABASES)
def database(request, servers) -> str | None:
    """Each job database: its URL for ServiceConfig.db_url."""
    return database_url(servers, request.param)


@pytest.fixture(params=[(b, d) for d in DATABASES for b in BROKERS], ids=lambda p: f"{p[0]}-broker+{p[1]}-db")
def backend(request, servers) -> dict:
    """Each broker x database pair: ServiceConfig fields, `config(tmp_path, **backend)`."""
    broker, db = request.param
    return {"broker_url": broker_url(servers, broker), "db_url": database_url(servers, db)}


@pytest.fixture(scope="module")
def client(app):
    """A TestClient of the test module's `app` fixture (service tests)."""
    from fastapi.testclient import TestClient
    with TestClient(app) as c:
        yield c
