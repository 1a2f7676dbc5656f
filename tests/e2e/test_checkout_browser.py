"""A real headless Chromium pays on the hosted checkout page; the app records what happened.

Each test builds the app through its composition root (database, in-process sandbox,
sync, checkout service, receiver), syncs a listing to Stripe, creates a session, opens it
through the opener, and drives the page as a tester would. Every page the browser saw is
saved under artifacts/e2e/.
"""

from __future__ import annotations

import asyncio

import pytest

from uhadmin.domain import ListingStatus, NewListing, Outcome, SyncState

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.slow]


async def synced_listing(services, title: str = "Physics textbook", price_minor: int = 2450):
    listing = await services.listings.create(
        NewListing(title=title, price_minor=price_minor, currency="usd",
                   status=ListingStatus.APPROVED), actor="e2e-tester")
    report = await services.sync.run()
    assert report.created == 1 and report.ok
    synced = await services.listings.get(listing.id)
    assert synced.sync_state is SyncState.SYNCED and synced.stripe_price_id
    return synced


async def open_session(services, page, listing, quantity: int = 1):
    attempt = await services.checkout.create([(listing.id, quantity)])
    opened = await services.checkout.open_in_browser(attempt)
    assert services.opened == [opened] == [attempt.url]
    response = await page.goto(opened)
    assert response.status == 200
    await page.shot("checkout")
    return attempt


async def fill_card(page, number: str) -> None:
    await page.fill("#email", "buyer@example.test")
    await page.fill("#cardNumber", number)
    await page.fill("#cardExpiry", "12 / 34")
    await page.fill("#cardCvc", "123")
    await page.fill("#billingName", "Ada Buyer")


async def outcome_becomes(services, attempt_id: int, outcome: Outcome):
    """Wait (at most 10 s) for the app to record `outcome` from the receiver or a webhook:
    woken by the ChangeBus, reading only the database, never asking Stripe."""
    changed = asyncio.Event()
    unsubscribe = services.bus.subscribe(lambda change: changed.set())
    try:
        async with asyncio.timeout(10):
            while (attempt := await services.checkout.get(attempt_id)).outcome is not outcome:
                await changed.wait()
                changed.clear()
    finally:
        unsubscribe()
    return attempt


@pytest.mark.parametrize("app_services", ["sqlite", pytest.param(
    "postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_paying_with_4242_lands_on_the_success_page_and_records_paid(app_services,
                                                                          browser_page):
    services, page = app_services, browser_page
    listing = await synced_listing(services)
    attempt = await open_session(services, page, listing, quantity=2)
    assert await page.inner_text("[data-testid=total]") == "USD 49.00"
    await fill_card(page, "4242 4242 4242 4242")
    async with page.expect_navigation(url=f"{services.receiver.url}/success*"):
        await page.click("#submit")
    await page.shot("success")
    assert await page.inner_text("[data-testid=result]") == "Payment received"
    assert await page.inner_text("[data-testid=session-id]") == attempt.session_id
    assert await page.inner_text("[data-testid=outcome]") == "paid"
    assert "Physics textbook" in await page.inner_text("table.items")
    assert await page.inner_text("[data-testid=total]") == "$49.00"
    recorded = await services.checkout.get(attempt.id)
    assert (recorded.outcome, recorded.status, recorded.payment_status) == (
        Outcome.PAID, "complete", "paid")


async def test_declined_card_shows_inline_then_back_records_canceled_with_reason(
        app_services, browser_page):
    services, page = app_services, browser_page
    listing = await synced_listing(services)
    attempt = await open_session(services, page, listing)
    await fill_card(page, "4000 0000 0000 0002")
    await page.click("#submit")
    error = page.locator("#payment-error")
    await error.wait_for()
    await page.shot("declined-inline")
    assert await error.inner_text() == "Your card was declined."
    assert page.url == attempt.url  # a decline redirects nowhere; the session stays open
    declined = await outcome_becomes(services, attempt.id, Outcome.DECLINED)
    assert declined.decline_code == "generic_decline"
    async with page.expect_navigation(url=f"{services.receiver.url}/cancel*"):
        await page.click("a.back")
    await page.shot("cancel")
    assert await page.inner_text("[data-testid=result]") == "Checkout canceled"
    assert "generic_decline" in await page.inner_text("[data-testid=decline]")
    assert await page.inner_text("[data-testid=outcome]") == "canceled"
    recorded = await services.checkout.get(attempt.id)
    assert (recorded.outcome, recorded.decline_code, recorded.decline_message) == (
        Outcome.CANCELED, "generic_decline", "Your card was declined.")


async def test_three_d_secure_card_goes_through_authentication_then_pays(app_services,
                                                                        browser_page):
    services, page = app_services, browser_page
    listing = await synced_listing(services)
    attempt = await open_session(services, page, listing)
    await fill_card(page, "4000 0025 0000 3155")
    async with page.expect_navigation(url="**/authenticate"):
        await page.click("#submit")
    await page.shot("3ds-challenge")
    assert "3D Secure" in await page.inner_text("h1")
    assert (await services.checkout.get(attempt.id)).outcome is Outcome.OPEN
    async with page.expect_navigation(url=f"{services.receiver.url}/success*"):
        await page.click("button[value=complete]")
    await page.shot("success")
    assert await page.inner_text("[data-testid=result]") == "Payment received"
    assert (await services.checkout.get(attempt.id)).outcome is Outcome.PAID


async def test_an_expired_session_shows_as_expired(app_services, browser_page):
    services, page = app_services, browser_page
    listing = await synced_listing(services)
    attempt = await open_session(services, page, listing)
    waiting = asyncio.ensure_future(services.checkout.wait_for_outcome(attempt.id,
                                                                       page_grace=0))
    services.sandbox.clock.advance(31 * 60)  # past the 30-minute default
    async with asyncio.timeout(10):
        expired = (await waiting).attempt
    assert (expired.outcome, expired.status, expired.url) == (Outcome.EXPIRED, "expired", None)
    response = await page.goto(attempt.url)
    await page.shot("expired")
    assert response.status == 410
    assert "expired" in (await page.inner_text("h1")).lower()
    # Asking Stripe again agrees with what the webhook said.
    assert (await services.checkout.refresh(attempt.session_id)).outcome is Outcome.EXPIRED
