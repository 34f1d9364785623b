"""`brushwork serve` (the web app and API, with its queue) and `brushwork worker`."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from . import args, options


def _config(a: argparse.Namespace) -> Any:
    from ..service.config import ServiceConfig
    return ServiceConfig.from_env(data_dir=a.data_dir, db_url=a.db, broker_url=a.broker,
                                  public_url=getattr(a, "public_url", None))


def run_serve(a: argparse.Namespace) -> int:
    from ..service.run import serve
    cfg = _config(a)
    if a.public_url is None and "BRUSHWORK_PUBLIC_URL" not in os.environ:
        cfg.public_url = f"http://{a.host}:{a.port}"
    if not a.quiet:
        where = "embedded queue, no other server needed" if cfg.embedded_broker else cfg.broker
        print(f"brushwork serve: open http://{a.host}:{a.port} (data in {cfg.data_dir}; {where})", file=sys.stderr,
              flush=True)
    serve(cfg, a.host, a.port, a.workers, log_level="info" if a.verbose else "warning")
    return 0


def run_worker(a: argparse.Namespace) -> int:
    from ..service.run import worker
    queues = tuple(q.strip() for q in a.queues.split(",") if q.strip()) if a.queues else None
    return worker(_config(a), queues, a.concurrency, a.pool, "WARNING" if a.quiet else "INFO", a.health_port)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None,
                   help="uploads, results and the default databases (default ~/.brushwork; $BRUSHWORK_DATA_DIR)")
    p.add_argument("--db", default=None, metavar="URL",
                   help="SQLAlchemy URL of the job database (default sqlite in the data dir; "
                   "e.g. postgresql+psycopg://user@host/brushwork)")
    p.add_argument("--broker", default=None, metavar="URL",
                   help="the queue: redis://host:6379/0 or amqp://user:pass@host:5672// (RabbitMQ) for workers "
                   "on several machines (default: an SQLite file in the data dir, no server)")
    options.quiet(p, "less logging")


def register(sub: Any) -> None:
    """Add `serve` and `worker` to the subcommands `sub`."""
    from ..service.run import serve, worker
    d = options.api_default
    sv = sub.add_parser("serve", help="the web app and REST API, with its own queue and workers",
                        description="Serve the brushwork web app (upload, pick a style, watch it paint, download) "
                        "and its REST API (/api/docs). Jobs go through a queue; by default an SQLite file is "
                        "the queue and two worker processes are started here (one for fast jobs, one for "
                        "image iteration and video), so nothing else is needed.",
                        epilog="examples:\n  brushwork serve\n  brushwork serve --host 0.0.0.0 --port 8080 "
                        "--data-dir /srv/brushwork\n  brushwork serve --broker redis://localhost:6379/0 --workers 0"
                        "   # workers elsewhere",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    sv.add_argument("--host", default=d(serve, "host"), help=f"address to listen on (default {d(serve, 'host')})")
    sv.add_argument("--port", type=int, default=d(serve, "port"), help=f"port (default {d(serve, 'port')})")
    sv.add_argument("--workers", type=int, default=d(serve, "workers"), metavar="N",
                    help=f"processes per worker node started here (default {d(serve, 'workers')}; "
                    "0: start none, use 'brushwork worker')")
    sv.add_argument("--public-url", default=None, help="the address people use, for links in emails and webhooks")
    sv.add_argument("-v", "--verbose", action="store_true",
                    help="log requests and the workers' start (by default only warnings and errors)")
    _common(sv)
    sv.set_defaults(func=run_serve)

    wk = sub.add_parser("worker", help="run jobs from the queue (more machines: same --broker, --db and data dir)",
                        description="Take jobs from the queue and run them. Workers on other machines need the same "
                        "--broker (Redis or RabbitMQ), --db (e.g. PostgreSQL) and the data directory (a shared mount).",
                        epilog="examples:\n  brushwork worker --broker redis://queue:6379/0 --db postgresql://... "
                        "--data-dir /mnt/brushwork\n  brushwork worker --queues slow --concurrency 2",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    wk.add_argument("--queues", default=None, metavar="Q,...",
                    help="fast, slow, notify (default: two nodes, fast+notify and slow, so fast jobs never wait)")
    wk.add_argument("--concurrency", type=args.positive_int, default=d(worker, "concurrency"),
                    help=f"processes per node (default {d(worker, 'concurrency')})")
    wk.add_argument("--pool", choices=("prefork", "threads", "solo"), default=d(worker, "pool"),
                    help="Celery pool (default prefork: a job that crashes its process is handed back)")
    wk.add_argument("--health-port", type=int, default=d(worker, "health_port"), metavar="PORT",
                    help="answer GET /health on this port: the node's broker and database and whether they "
                    "answer (needs --queues; default 0: none)")
    _common(wk)
    wk.set_defaults(func=run_worker)
