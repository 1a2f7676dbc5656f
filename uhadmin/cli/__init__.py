"""The `uhadmin` command line: a composition root that wires services and prints results."""

from __future__ import annotations

from uhadmin.cli.common import main_group

# Each command family lives in its own module, registers itself on `main` and is imported
# only when one of its commands runs (common.LAZY_COMMANDS).
main = main_group
