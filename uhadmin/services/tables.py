"""SQLAlchemy table definitions: the catalog, its Stripe link, the outbox, checkout and audit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ListingRow(Base):
    """One listing. The marketplace website writes the catalog columns and reads
    `stripe_price_id`; uhadmin owns the `stripe_*`, `pushed_*` and `sync_*` columns."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # --- catalog columns (the website may write these) ---
    title: Mapped[str] = mapped_column(String(5000))
    description: Mapped[str] = mapped_column(Text, default="")
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    image_urls: Mapped[list] = mapped_column(JSON, default=list)
    seller_contact: Mapped[str] = mapped_column(String(320), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    condition: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic lock
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    # --- Stripe link (uhadmin writes these; the website reads stripe_price_id) ---
    stripe_product_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    stripe_price_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Fingerprint of what was last pushed to Stripe successfully; a listing whose current
    # fingerprint differs needs a push, whoever wrote the row.
    pushed_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pushed_price_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pushed_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    pushed_active: Mapped[bool | None] = mapped_column(nullable=True)
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sync_state: Mapped[str] = mapped_column(String(20), default="not_published", index=True)
    sync_error: Mapped[str] = mapped_column(Text, default="")


class StripeChangeRow(Base):
    """Outbox: a pending push of one listing revision to Stripe, written in the same
    transaction as the edit. Claimed by one worker at a time through a lease."""

    __tablename__ = "stripe_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)  # listing version this change carries
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_stripe_changes_pending", "done_at", "listing_id"),)


class StripeOperationRow(Base):
    """An idempotency key derived from (listing, revision, operation), stored before the
    first send so every retry of the same change reuses it."""

    __tablename__ = "stripe_operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(50))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    result_id: Mapped[str | None] = mapped_column(String(255), nullable=True)

    __table_args__ = (UniqueConstraint("listing_id", "revision", "operation"),)


class CheckoutAttemptRow(Base):
    """One Checkout Session a tester created, and what became of it."""

    __tablename__ = "checkout_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attempt_key: Mapped[str] = mapped_column(String(64), unique=True)  # idempotency + metadata
    session_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    line_items: Mapped[list] = mapped_column(JSON, default=list)  # [{listing_id, price_id, qty}]
    amount_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    tester: Mapped[str] = mapped_column(String(200), default="")
    livemode: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="creating")  # Stripe's status
    payment_status: Mapped[str] = mapped_column(String(30), default="unpaid")
    outcome: Mapped[str] = mapped_column(String(20), default="open")
    decline_code: Mapped[str] = mapped_column(String(100), default="")
    decline_message: Mapped[str] = mapped_column(Text, default="")
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookEventRow(Base):
    """A Stripe event already handled: duplicates are processed once."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """Who did what, when: every mutation of a listing or sync leaves one row."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)


class SettingRow(Base):
    """Non-secret shared state (e.g. the catalog id that namespaces Stripe product ids)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
