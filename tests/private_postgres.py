"""A private PostgreSQL cluster a test starts, stops and restarts itself (never the shared one)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command: str) -> subprocess.CompletedProcess:
    # initdb and the server refuse to run as root: they run as the `postgres` user.
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True,
                          text=True, check=False, timeout=120)


class PrivateCluster:
    """initdb in a temporary folder, a free loopback port, trust auth; stop() drops every
    connection (fast shutdown), start() brings the same data back."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="uhadmin-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self.port = _free_port()
        done = _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                            "-U", "postgres", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off")
        done = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                            str(self.folder / "server.log"), "-o", options, "-w", "start")
        if done.returncode != 0:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}\n{log}")

    def stop(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def private_postgres_available() -> str | None:
    """Why a private cluster cannot start here (None: it can)."""
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL 15 binaries in {PG_BIN}"
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("runuser"):
        return "a private cluster needs root (to run initdb as the postgres user)"
    return None


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    """A started private cluster, removed after the test (a failure on CI, else a skip)."""
    reason = private_postgres_available()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = PrivateCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()
