"""The pure sync decisions: the Stripe-needs-it rule and the plan of one push, no database."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from uhadmin.domain.stripe_rule import stripe_holds, stripe_needs_change
from uhadmin.services.sync.planning import operations_to_save, plan_for, work_for

SOURCE = Path(__file__).resolve().parents[2] / "uhadmin"


def row(**values) -> SimpleNamespace:
    base = {"id": 7, "title": "Lamp", "description": "", "price_minor": 1500,
            "currency": "usd", "image_urls": [], "status": "approved", "version": 3,
            "stripe_product_id": None, "stripe_price_id": None, "pushed_fingerprint": None,
            "pushed_price_minor": None, "pushed_currency": None, "pushed_active": None}
    base.update(values)
    return SimpleNamespace(**base)


def pushed(**values) -> SimpleNamespace:
    """A row as the sync leaves it after pushing it, with `values` changed since."""
    before = row()
    fingerprint = work_for(before, "cat").fingerprint
    after = row(stripe_product_id="uh_cat_7", stripe_price_id="price_1",
                pushed_fingerprint=fingerprint, pushed_price_minor=1500,
                pushed_currency="usd", pushed_active=True)
    for key, value in values.items():
        setattr(after, key, value)
    return after


@pytest.mark.parametrize(("before", "after", "published", "needed"), [
    ("draft", "draft", False, False),
    ("draft", "pending_review", False, False),
    ("pending_review", "rejected", False, False),
    ("pending_review", "approved", False, True),
    ("approved", "approved", False, True),
    ("approved", "archived", True, True),
    ("archived", "archived", True, True),  # Stripe keeps the archived product up to date
    ("archived", "archived", False, False),
])
def test_one_rule_says_whether_stripe_needs_a_change(before, after, published, needed) -> None:
    assert stripe_needs_change(before, after, published=published) is needed
    assert stripe_needs_change(before, after, published=published,
                               stripe_matches=True) is False
    assert stripe_holds(after, published=published) is (after == "approved" or published)


@pytest.mark.parametrize(("listing", "plan"), [
    (row(), "create"),
    (row(status="archived"), "not_published"),
    (pushed(), "unchanged"),
    (pushed(title="Brass lamp"), "update"),
    (pushed(price_minor=1600), "price_change"),
    (pushed(currency="eur"), "price_change"),
    (pushed(status="archived"), "archive"),
    (pushed(pushed_active=False, pushed_fingerprint="old"), "relist"),
])
def test_plan_of_one_push(listing, plan) -> None:
    assert plan_for(work_for(listing, "cat")) == plan


def test_a_row_that_breaks_a_rule_is_never_planned_for_stripe() -> None:
    bad = work_for(pushed(price_minor=10 ** 12), "cat",
                   problems=("price_minor: at most 99999999 for usd",))
    assert plan_for(bad) == "invalid" and operations_to_save(bad, "invalid") == ()
    # A draft with problems concerns nobody at Stripe: nothing to refuse.
    assert plan_for(work_for(row(status="draft"), "cat", problems=("x: y",))) == \
        "not_published"


def test_uncertain_create_saves_every_key_recovery_may_use() -> None:
    work = work_for(row(), "cat", uncertain=frozenset({"create:abc"}))
    assert operations_to_save(work, "create") == (
        "create", "update", "price_create", "price_default", "price_archive")
    assert operations_to_save(work_for(row(), "cat"), "create") == ("create",)


def test_only_the_write_path_inserts_audit_or_outbox_rows() -> None:
    writers = sorted(
        str(path.relative_to(SOURCE)) for path in SOURCE.rglob("*.py")
        if re.search(r"insert\((AUDIT|OUTBOX|AuditRow|StripeChangeRow)\b", path.read_text()))
    assert writers == ["services/listing_writes.py"]
