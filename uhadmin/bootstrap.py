"""The composition root: build the database and every service once, from validated settings."""

from __future__ import annotations

from dataclasses import dataclass

from uhadmin.config import Settings
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService


@dataclass
class Services:
    """Everything the GUI and the CLI use, wired together; close() releases it all."""

    settings: Settings
    db: Database
    bus: ChangeBus
    listings: ListingService

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def build_services(settings: Settings, *, upgrade: bool = True) -> Services:
    """Open the database (migrating it to the newest schema unless `upgrade` is False) and
    wire the services on it."""
    db = Database(settings.database_url)
    try:
        if upgrade:
            db.upgrade()
        bus = ChangeBus()
        listings = ListingService(db, bus, default_currency=settings.currency)
    except BaseException:
        db.close()
        raise
    return Services(settings=settings, db=db, bus=bus, listings=listings)
