"""Test-wide guards: no developer settings leak in, and Qt tests are marked `gui`."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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
