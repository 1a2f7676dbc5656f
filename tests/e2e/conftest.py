"""End-to-end fixtures: the app wired by its composition root, and a real headless Chromium.

Chromium is Debian's /usr/bin/chromium driven by Playwright for Python (never a downloaded
browser). Without it these tests skip locally and fail on CI (CI=true), where it must exist.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from uhadmin.bootstrap import Services, build_services
from uhadmin.config import load_settings

CHROMIUM = os.environ.get("UHADMIN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"


def _chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"end-to-end tests need Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "end-to-end tests need Playwright for Python (pip install -e '.[test]')"
    return None


@pytest.fixture
def chromium_path() -> str:
    reason = _chromium_missing_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(autouse=True)
def _needs_chromium(chromium_path: str) -> None:
    """Skip (or fail on CI) before anything is built when there is no browser."""


@pytest.fixture
async def browser_page(chromium_path: str, request: pytest.FixtureRequest):
    """A fresh page in a headless Chromium; `page.shot(name)` saves artifacts/e2e/<test>-<name>."""
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path,
                                                   args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            saved: list[Path] = []

            async def shot(name: str) -> Path:
                path = ARTIFACTS / f"{prefix}-{len(saved) + 1}-{name}.png"
                await page.screenshot(path=str(path), full_page=True)
                saved.append(path)
                return path

            page.shot = shot  # type: ignore[attr-defined]
            page.saved = saved  # type: ignore[attr-defined]
            yield page
        finally:
            await browser.close()


@pytest.fixture
async def app_services(tmp_path: Path, request: pytest.FixtureRequest,
                       ) -> AsyncIterator[Services]:
    """The app's services from its composition root: in-process sandbox, receiver, sync.

    The database is SQLite, or PostgreSQL when the test is parametrized with `backend`.
    """
    backend = getattr(request, "param", "sqlite")
    if backend == "postgresql":
        from db_fixtures import _empty_postgres

        database_url = request.getfixturevalue("postgres_database_url")
        _empty_postgres(database_url).close()  # the run's database, emptied for this test
    else:
        database_url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    settings = load_settings({"data_dir": str(tmp_path / "data"), "actor": "e2e-tester",
                              "database_url": database_url}, environ={})
    services = build_services(settings)
    opened: list[str] = []
    services.checkout.set_opener(opened.append)
    services.opened = opened  # type: ignore[attr-defined]
    try:
        yield services
    finally:
        if services.sandbox is not None:
            await asyncio.to_thread(services.sandbox.wait_for_webhooks, 5)
        await services.aclose()
