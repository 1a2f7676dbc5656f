"""Who holds sync work: holder names, the SQLite sync lock, and dead holders on this host."""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Session

from uhadmin.errors import UhadminError
from uhadmin.services.listing_writes import utcnow
from uhadmin.services.tables import SettingRow

SETTINGS = SettingRow.__table__
SQLITE_LOCK_SETTING = "stripe_sync_lock"


class SyncBusyError(UhadminError):
    """Another process is syncing this SQLite catalog (SQLite allows one at a time)."""


def new_holder() -> str:
    """A name for one run's claims: host and PID (so a dead holder can be told), plus a
    random part (so two runs in one process never share claims)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str | None) -> bool:
    """True only when `holder` ran on this host and its process no longer exists; a holder
    on another host, or one whose PID is alive, is never declared dead here (its lease
    still protects it)."""
    if not holder:
        return False
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


def take_sqlite_lock(session: Session, *, holder: str, lease: timedelta) -> None:
    """Take the catalog-wide sync lock of a SQLite catalog (SyncBusyError if a live process
    holds it). A lock whose holder died on this host is taken over at once."""
    now = utcnow()
    current = session.execute(
        select(SETTINGS.c.value).where(SETTINGS.c.key == SQLITE_LOCK_SETTING)
    ).scalar_one_or_none()
    if current:
        try:
            held = json.loads(current)
            until = datetime.fromisoformat(held["until"])
        except (ValueError, KeyError, TypeError):
            held, until = {"holder": "?"}, now
        other = held.get("holder")
        if other != holder and until > now and not holder_is_dead(other):
            raise SyncBusyError(
                f"another uhadmin process ({other}) is syncing this SQLite "
                f"catalog until {until:%H:%M:%S} UTC at the latest; SQLite allows one "
                "syncing process at a time (PostgreSQL allows several): try again "
                "when it has finished")
    value = json.dumps({"holder": holder, "until": (now + lease).isoformat()})
    session.execute(sqlite_dialect.insert(SETTINGS).values(
        key=SQLITE_LOCK_SETTING, value=value).on_conflict_do_update(
        index_elements=[SETTINGS.c.key], set_={"value": value}))


def renew_sqlite_lock(session: Session, *, holder: str, lease: timedelta) -> None:
    value = json.dumps({"holder": holder, "until": (utcnow() + lease).isoformat()})
    session.execute(update(SETTINGS).where(
        SETTINGS.c.key == SQLITE_LOCK_SETTING,
        SETTINGS.c.value.like(f'{{"holder": "{holder}"%')).values(value=value))


def release_sqlite_lock(session: Session, *, holder: str) -> None:
    session.execute(delete(SETTINGS).where(
        SETTINGS.c.key == SQLITE_LOCK_SETTING,
        SETTINGS.c.value.like(f'{{"holder": "{holder}"%')))
