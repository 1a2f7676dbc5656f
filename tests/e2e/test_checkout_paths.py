"""Each documented checkout path, as a tester runs it: the CLI as a subprocess, a real Chromium.

`checkout create --wait` (pay, decline then Back, expire from a second terminal, Ctrl+C) and
`checkout serve` with a separate `checkout create`. Every path must end on a rendered page
(never a browser error), and the command must say what happened. Screenshots go to
artifacts/e2e/.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner

from uhadmin.cli import main

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.slow]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from uhadmin.cli import main; main()",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, UHADMIN_ACTOR="e2e-tester"))


async def read_json_line(process: subprocess.Popen, within: float = 30.0) -> dict:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(process.stdout.readline()),
                              daemon=True)
    reader.start()
    await asyncio.to_thread(reader.join, within)
    assert box and box[0], f"no line within {within} s; stderr: {process.stderr.read()}"
    return json.loads(box[0])


async def ended(process: subprocess.Popen, within: float = 30.0) -> int:
    try:
        return await asyncio.to_thread(process.wait, within)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def listing_id() -> int:
    code, out, err = run("listings", "add", "--title", "Physics textbook", "--price", "24.50",
                         "--status", "approved", "--json")
    assert code == 0, err
    return json.loads(out)["id"]


async def fill_card(page, number: str) -> None:
    await page.fill("#email", "buyer@example.test")
    await page.fill("#cardNumber", number)
    await page.fill("#cardExpiry", "12 / 34")
    await page.fill("#cardCvc", "123")
    await page.fill("#billingName", "Ada Buyer")


async def assert_styled(page) -> None:
    """The lab's stylesheet is in the page itself (pages.css's body background)."""
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == \
        "rgb(243, 245, 248)"


async def test_wait_pay_with_4242_ends_on_the_success_page(listing_id, browser_page):
    page = browser_page
    waiting = start("checkout", "create", "--listing", f"{listing_id}:2", "--no-open",
                    "--wait")
    try:
        session = await read_json_line(waiting)
        await page.goto(session["url"])
        await fill_card(page, "4242 4242 4242 4242")
        async with page.expect_navigation(url="**/success?*"):
            await page.click("#submit")
        await page.shot("success")
        assert await page.inner_text("[data-testid=result]") == "Payment received"
        assert await page.inner_text("[data-testid=outcome]") == "paid"
        assert await page.inner_text("[data-testid=total]") == "$49.00"
        assert await page.inner_text("[data-testid=card]") == "Visa ····4242"
        await assert_styled(page)
        outcome = await read_json_line(waiting)
        assert await ended(waiting) == 0
    finally:
        await ended(waiting, 0.1)
    assert (outcome["outcome"], outcome["card"]["last4"]) == ("paid", "4242")


async def test_wait_declined_then_back_ends_on_the_cancel_page(listing_id, browser_page):
    page = browser_page
    waiting = start("checkout", "create", "--listing", str(listing_id), "--no-open", "--wait")
    try:
        session = await read_json_line(waiting)
        await page.goto(session["url"])
        await fill_card(page, "4000 0000 0000 9995")
        await page.click("#submit")
        await page.locator("#payment-error").wait_for()
        await page.shot("declined-inline")
        assert waiting.poll() is None  # a decline does not end the wait
        async with page.expect_navigation(url="**/cancel?*"):
            await page.click("a.back")
        await page.shot("cancel")
        assert await page.inner_text("[data-testid=result]") == "Checkout canceled"
        assert "insufficient_funds" in await page.inner_text("[data-testid=decline]")
        await assert_styled(page)
        outcome = await read_json_line(waiting)
        assert await ended(waiting) == 0
    finally:
        await ended(waiting, 0.1)
    assert (outcome["outcome"], outcome["decline_code"]) == ("canceled", "insufficient_funds")


async def test_wait_sees_an_expiry_from_a_second_terminal_and_the_page_says_so(
        listing_id, browser_page):
    page = browser_page
    waiting = start("checkout", "create", "--listing", str(listing_id), "--no-open", "--wait")
    try:
        session = await read_json_line(waiting)
        await page.goto(session["url"])
        code, _, err = await asyncio.to_thread(run, "checkout", "expire", session["id"])
        assert code == 0, err
        outcome = await read_json_line(waiting)  # seen by polling Stripe
        response = await page.reload()  # within the grace the sandbox still answers
        await page.shot("expired")
        assert response.status == 410
        assert "expired" in (await page.inner_text("h1")).lower()
        async with page.expect_navigation(url="**/cancel?*"):
            await page.click("a.back")
        await page.shot("back-after-expiry")
        assert await page.inner_text("[data-testid=result]") == "Checkout session expired"
        assert await page.inner_text("[data-testid=outcome]") == "expired"
        assert await ended(waiting) == 0
    finally:
        await ended(waiting, 0.1)
    assert outcome["outcome"] == "expired"


async def test_ctrl_c_ends_the_wait_and_leaves_the_session_open(listing_id, browser_page):
    page = browser_page
    waiting = start("checkout", "create", "--listing", str(listing_id), "--no-open", "--wait")
    try:
        session = await read_json_line(waiting)
        await page.goto(session["url"])
        waiting.send_signal(signal.SIGINT)
        outcome = await read_json_line(waiting)
        assert await ended(waiting, 15) == 130
        assert "Traceback" not in waiting.stderr.read()
    finally:
        await ended(waiting, 0.1)
    assert (outcome["outcome"], outcome["interrupted"]) == ("open", True)
    code, out, _ = await asyncio.to_thread(run, "checkout", "list", "--json")
    assert json.loads(out)[0]["status"] == "open"


async def test_serve_then_create_from_another_terminal_ends_on_the_success_page(
        listing_id, browser_page):
    page = browser_page
    serve = start("checkout", "serve", "--port", "0", "--json")
    try:
        served = await read_json_line(serve)
        code, out, err = await asyncio.to_thread(
            run, "checkout", "create", "--listing", str(listing_id), "--no-open", "--json")
        assert code == 0, err
        made = json.loads(out)  # that command is over; the serving one hosts everything
        await page.goto(made["url"])
        await fill_card(page, "5555 5555 5555 4444")
        async with page.expect_navigation(url=f"{served['receiver']}/success?*"):
            await page.click("#submit")
        await page.shot("success")
        assert await page.inner_text("[data-testid=result]") == "Payment received"
        assert await page.inner_text("[data-testid=card]") == "Mastercard ····4444"
        code, out, _ = await asyncio.to_thread(run, "checkout", "list", "--json")
        assert json.loads(out)[0]["outcome"] == "paid"
        serve.send_signal(signal.SIGINT)
        assert await ended(serve, 15) == 0
    finally:
        await ended(serve, 0.1)
