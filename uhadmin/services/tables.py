"""SQLAlchemy table definitions: the catalog, its Stripe link, the outbox, checkout and audit."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from uhadmin.services.listing_table import LISTINGS, METADATA


class Base(DeclarativeBase):
    metadata = METADATA  # shared with the Core-declared listings table
    # Every mapping here is one declared Table (SQLAlchemy types `__table__` as the wider
    # FromClause, which insert/update/delete refuse; its maintainers' advice is this line).
    __table__: ClassVar[Table]


class ListingRow(Base):
    """One listing (the table and what each column is for: listing_table.LISTINGS)."""

    __table__ = LISTINGS

    # The columns as typed attributes; the mapping comes from the table above.
    id: Mapped[int]
    title: Mapped[str]
    description: Mapped[str]
    price_minor: Mapped[int]
    currency: Mapped[str]
    image_urls: Mapped[list]
    seller_contact: Mapped[str]
    category: Mapped[str]
    condition: Mapped[str]
    status: Mapped[str]
    rejection_reason: Mapped[str]
    version: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[str]
    updated_by: Mapped[str]
    stripe_product_id: Mapped[str | None]
    stripe_price_id: Mapped[str | None]
    pushed_fingerprint: Mapped[str | None]
    pushed_price_minor: Mapped[int | None]
    pushed_currency: Mapped[str | None]
    pushed_active: Mapped[bool | None]
    pushed_at: Mapped[datetime | None]
    sync_state: Mapped[str]
    sync_error: Mapped[str]


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
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_stripe_changes_pending", "done_at", "listing_id"),
        # ux_stripe_changes_one_pending: see declare_partial_indexes().
    )


# (table, index, columns, condition on SQLite, condition on PostgreSQL); "ux_" is unique.
PARTIAL_INDEXES = (
    ("stripe_changes", "ux_stripe_changes_one_pending", ("listing_id",),
     "done_at IS NULL", "done_at IS NULL"),
    ("stripe_log", "ix_stripe_log_attempt", ("attempt_id", "id"),
     "attempt_id IS NOT NULL", "attempt_id IS NOT NULL"),
    ("stripe_log", "ix_stripe_log_errors", ("is_error", "id"), "is_error IS 1",
     "is_error IS true"),
    ("stripe_log", "ix_stripe_log_status_class", ("status_class", "id"),
     "status_class <> '2xx'", "status_class <> '2xx'"),
    ("stripe_log", "ix_stripe_log_event", ("event_id",),
     "event_id IS NOT NULL", "event_id IS NOT NULL"),
)


def declare_partial_indexes() -> None:
    """Declare the partial indexes on the metadata: the one pending change per listing
    (migration 0005; several admins' syncs fold their scans into the same row instead of
    pushing it twice) and the Stripe log's (migration 0006_hlog3; a sync's entries go into
    none of them).

    Declared only by the migration environment, which compares the whole schema with the
    database: a `postgresql_where` makes SQLAlchemy import its whole PostgreSQL dialect
    (asyncpg's module included), ~5 % of the start of `uhadmin sync` on SQLite, and no
    query needs an index declared. Idempotent.
    """
    declared = {index.name for table in Base.metadata.tables.values()
                for index in table.indexes}
    for table_name, name, columns, sqlite_where, postgresql_where in PARTIAL_INDEXES:
        if name not in declared:
            table = Base.metadata.tables[table_name]
            Index(name, *(table.c[column] for column in columns),
                  unique=name.startswith("ux_"), sqlite_where=text(sqlite_where),
                  postgresql_where=text(postgresql_where))


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
    # The last card tried, from the intent's latest charge (migration 0003).
    card_brand: Mapped[str] = mapped_column(String(30), default="", server_default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="", server_default="")
    three_d_secure: Mapped[bool | None] = mapped_column(nullable=True)


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

    # History of one listing, newest first, without scanning the whole log.
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id", "at"),)


class SettingRow(Base):
    """Non-secret shared state (e.g. the catalog id that namespaces Stripe product ids)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class StripeLogRow(Base):
    """One HTTP attempt at Stripe, or one webhook event received (services/stripe_log.py).

    Newest first is `id` descending; each filter the log tab offers has an index ending in
    `id`, so a filtered first page is an index range scan even with a million entries.
    """

    __tablename__ = "stripe_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(10))  # "request" | "webhook"
    method: Mapped[str] = mapped_column(String(10), default="")
    api_base: Mapped[str] = mapped_column(String(200), default="")
    path: Mapped[str] = mapped_column(String(500), default="")
    api_version: Mapped[str] = mapped_column(String(40), default="")
    params: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[name, value], ...]
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_class: Mapped[str | None] = mapped_column(String(10), nullable=True)
    is_error: Mapped[bool] = mapped_column(default=False)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    call_id: Mapped[str] = mapped_column(String(32), default="")
    retry: Mapped[int] = mapped_column(Integer, default=0)
    endpoint: Mapped[str] = mapped_column(String(100), default="")
    served: Mapped[str] = mapped_column(String(30), default="")
    sync_run: Mapped[str | None] = mapped_column(String(100), nullable=True)
    listing_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    listing_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decline_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    object_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    event_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    signature_verified: Mapped[bool | None] = mapped_column(nullable=True)
    effect: Mapped[str] = mapped_column(Text, default="")
    # Lower-cased words the text filter looks in (path, ids, codes, parameters).
    search_text: Mapped[str] = mapped_column(Text, default="")

    # Indexes a sync's entries (2xx, no attempt, event or error) have nothing in are partial
    # (migration 0006_hlog3): fewer to write on every request; the filters name the same
    # conditions (stripe_log_store._conditions). They are declared by
    # declare_partial_indexes(): ix_stripe_log_attempt, _errors, _status_class, _event.
    __table_args__ = (
        Index("ix_stripe_log_listing", "listing_id", "id"),
        Index("ix_stripe_log_method", "method", "id"),
        Index("ix_stripe_log_call", "call_id"),
        Index("ix_stripe_log_request", "request_id"),
        # The text filter finds an id typed in full through these (stripe_log_store).
        Index("ix_stripe_log_idempotency", "idempotency_key"),
        Index("ix_stripe_log_object", "object_id"),
    )
