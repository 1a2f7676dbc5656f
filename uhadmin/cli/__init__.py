"""The `uhadmin` command line: a composition root that wires services and prints results."""

from __future__ import annotations

from uhadmin.cli.common import main_group

main = main_group

# Each command family lives in its own module and registers itself on `main`.
from uhadmin.cli import (  # noqa: E402,F401
    checkout_commands,
    db_commands,
    docs_commands,
    listing_commands,
    log_commands,
    offline_commands,
    sandbox_commands,
    screenshot_commands,
    sync_commands,
)
