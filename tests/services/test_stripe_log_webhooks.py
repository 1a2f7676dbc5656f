"""Webhook deliveries to the real receiver land in the Stripe log, verified or refused."""

from __future__ import annotations

import asyncio

import pytest
from test_receiver import SECRET, post_event, session_event

from uhadmin.domain.stripe_log import StripeLogFilter
from uhadmin.services.stripe_log import StripeLogService

pytestmark = pytest.mark.anyio


async def test_deliveries_are_logged_with_what_they_changed(checkout_lab, sqlite_database):
    log = StripeLogService(sqlite_database)
    checkout_lab.receiver.on_webhook = log.record_payload
    await checkout_lab.service.start_receiver()
    checkout_lab.receiver.add_webhook_secret(SECRET)
    lamp = await checkout_lab.approved_listing()
    attempt = await checkout_lab.service.create([(lamp.id, 1)])
    event = session_event(attempt.session_id, event_id="evt_log_1")
    event["data"]["object"]["metadata"] = {"uhadmin_attempt_id": str(attempt.id)}
    assert (await post_event(checkout_lab.receiver, event)).status_code == 200
    assert (await post_event(checkout_lab.receiver, event)).json()["result"] == "duplicate"
    forged = await post_event(checkout_lab.receiver, session_event("cs_x", event_id="evt_bad"),
                              secret="whsec_" + "00" * 16)
    assert forged.status_code == 400
    await asyncio.sleep(0)
    entries = await log.page(StripeLogFilter(kind="webhook"))
    refused, duplicate, processed = entries
    assert (processed.event_id, processed.event_type, processed.signature_verified,
            processed.attempt_id) == ("evt_log_1", "checkout.session.completed", True,
                                      attempt.id)
    assert processed.effect.startswith("processed: checkout.session " + attempt.session_id)
    assert "payment_status=paid" in processed.effect
    assert duplicate.effect.startswith("duplicate")
    assert (refused.event_id, refused.signature_verified, refused.is_error) == (
        "evt_bad", False, True)
    assert refused.effect.startswith("refused:")
    assert await log.page(StripeLogFilter(attempt_id=attempt.id, kind="webhook")) == [
        duplicate, processed]
    excerpt = (await log.entry(processed.id)).response_excerpt
    assert '"evt_log_1"' in excerpt and SECRET not in excerpt and SECRET not in str(entries)


async def test_a_delivery_whose_data_is_not_an_object_is_still_logged(checkout_lab,
                                                                       sqlite_database):
    # A forged body may put anything under "data"; the log still shows the refused delivery.
    log = StripeLogService(sqlite_database)
    checkout_lab.receiver.on_webhook = log.record_payload
    await checkout_lab.service.start_receiver()
    checkout_lab.receiver.add_webhook_secret(SECRET)
    shapes = {"evt_text": "not an object", "evt_list": [1, 2],
              "evt_object_text": {"object": "text"}}
    for event_id, data in shapes.items():
        event = {"id": event_id, "object": "event", "type": "checkout.session.completed",
                 "data": data}
        forged = await post_event(checkout_lab.receiver, event, secret="whsec_" + "00" * 16)
        assert forged.status_code == 400
    await asyncio.sleep(0)
    entries = await log.page(StripeLogFilter(kind="webhook"))
    assert sorted(entry.event_id for entry in entries) == sorted(shapes)
    assert all(not entry.signature_verified and entry.effect.startswith("refused:")
               for entry in entries)
