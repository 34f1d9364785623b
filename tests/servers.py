"""Throw-away local servers for the service's backends: PostgreSQL (a cluster in a temporary
directory), Redis and RabbitMQ, each on a free 127.0.0.1 port, from Debian's packages
(postgresql, redis-server, rabbitmq-server). Used by the tests (tests/conftest.py) and by
bench/service_load.py. `missing(kind)` says why one cannot be started here (None: it can).

PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user (or
`nobody`) and its programs run as that user. RabbitMQ gets its own node name, ports, database
directory, Erlang cookie (HOME) and epmd port, so it meets no other node on the machine; its
host lookups are read from /etc/hosts only (a machine without DNS would otherwise wait on them).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(ready, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}) while starting")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.2)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pg_bin() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


RABBITMQ = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def missing(kind: str) -> str | None:
    """Why a `kind` server (postgres, redis, rabbitmq) cannot be started here, or None."""
    if kind == "postgres":
        if _pg_bin() is None:
            return "PostgreSQL is not installed (apt-get install postgresql)"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "the PostgreSQL driver is not installed (pip install 'brushwork[postgres]')"
        if os.geteuid() == 0 and _unprivileged() is None:
            return "PostgreSQL will not run as root and there is no postgres or nobody user"
        return None
    if kind == "redis":
        return None if shutil.which("redis-server") else "redis-server is not installed (apt-get install redis-server)"
    if kind == "rabbitmq":
        return None if Path(RABBITMQ).exists() else "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
    raise ValueError(kind)


def _unprivileged() -> pwd.struct_passwd | None:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    return None


class Postgres:
    """A PostgreSQL cluster of its own (trust authentication on 127.0.0.1, fsync off)."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="brushwork-pg-"))   # under /tmp: reachable by its user
        self.port = free_port()
        self.user = _unprivileged() if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "brushwork", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self._databases = 0
        self.start()

    def _run(self, program: str, *args: str) -> None:
        cmd = [str(self.bin / program), *args]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir)

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-o", opts, "-w", "-t", "120",
                  "start")

    def stop(self) -> None:
        """A fast shutdown: every open connection is cut, as when a database server restarts."""
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://brushwork@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database on this server."""
        import psycopg
        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=brushwork dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="brushwork-redis-"))
        self.port = free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        wait_until(lambda: _listening(self.port), 30, "redis-server", self.proc)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


class RabbitMQ:
    """A RabbitMQ node of its own; the default guest user (allowed from 127.0.0.1 only)."""

    def __init__(self, timeout: float = 180) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="brushwork-rabbitmq-"))
        self.port, self.epmd_port = free_port(), free_port()
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "inetrc").write_text('{file, hosts, "/etc/hosts"}.\n{lookup, [file]}.\n')
        self.env = {**os.environ, "HOME": str(self.dir), "ERL_INETRC": str(self.dir / "inetrc"),
                    "ERL_EPMD_PORT": str(self.epmd_port),
                    "RABBITMQ_NODENAME": f"brushwork{self.port}@localhost",
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
                    "RABBITMQ_DIST_PORT": str(free_port()), "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(self.dir / "log"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
                    "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
                    "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
                    "RABBITMQ_PID_FILE": str(self.dir / "pid")}
        self.proc = subprocess.Popen([RABBITMQ], env=self.env, cwd=self.dir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_until(self._ready, timeout, "rabbitmq-server", self.proc)
        except BaseException:
            self.close()
            raise

    def _ready(self) -> bool:
        if not _listening(self.port):
            return False
        from kombu import Connection
        try:
            with Connection(self.url(), connect_timeout=2) as c:
                c.ensure_connection(max_retries=1)
            return True
        except Exception:
            return False

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()          # the node stops; its epmd (on our own port) is stopped after it
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        epmd = sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))
        if epmd:
            subprocess.run([epmd[-1], "-port", str(self.epmd_port), "-kill"], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


START = {"postgres": Postgres, "redis": Redis, "rabbitmq": RabbitMQ}
