"""Test-wide guards: no developer settings leak in, and Qt tests are marked `gui`."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# With PYTHONDONTWRITEBYTECODE set (this machine sets it) every run compiled uhadmin, the
# tests and their assertion rewrites from source again, in this process and in every CLI
# subprocess: 5 s of CPU for collection alone. The compiled files go to a cache folder
# instead, not beside the sources, which is what that variable is there to prevent.
if sys.dont_write_bytecode:
    _BYTECODE_CACHE = str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "pycache")
    sys.pycache_prefix = _BYTECODE_CACHE
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = _BYTECODE_CACHE  # the CLI subprocesses too
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Fixture modules beside this file (tests/ is on sys.path while pytest loads conftests).
pytest_plugins: list[str] = ["db_fixtures", "checkout_fixtures"]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """A developer's real key, database or settings never reach a test."""
    keep = {"UHADMIN_TEST_POSTGRES_URL"}
    for name in list(os.environ):
        if (name.startswith("UHADMIN_") and name not in keep) or name.startswith("STRIPE_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    # No real OS keyring in tests: the in-memory fallback is what they exercise.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move everything imported and collected so far out of the cycle collector's reach:
    those objects live for the whole run anyway, and each full collection walked them all
    (0.2 s or more, twice a GUI test: tests/views/conftest.py collects on the main thread)."""
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"qapp", "qtbot", "qtmodeltester", "qt_loop"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.gui)


@pytest.fixture(scope="session")
def _stripe_sandbox_server():
    """One offline Stripe for the whole run; `stripe_sandbox` wipes it before each test."""
    from uhadmin.sandbox.server import SandboxServer

    server = SandboxServer().start()
    yield server
    server.stop()


@pytest.fixture
def stripe_sandbox(_stripe_sandbox_server):
    """A started SandboxServer with a fresh account: no objects, faults off, real-time clock."""
    _stripe_sandbox_server.reset()
    return _stripe_sandbox_server


@pytest.fixture
def stripe_client(stripe_sandbox):
    """stripe.StripeClient on the sandbox; its HTTPX client serves sync and *_async calls.

    The async side is an httpx.AsyncClient bound to the first event loop that uses it: run
    a test's *_async calls inside one loop (one asyncio.run or one qasync loop).
    """
    import stripe

    http_client = stripe.HTTPXClient(allow_sync_methods=True, timeout=15)
    client = stripe.StripeClient(stripe_sandbox.test_key,
                                 base_addresses={"api": stripe_sandbox.url},
                                 http_client=http_client)
    yield client
    http_client.close()
