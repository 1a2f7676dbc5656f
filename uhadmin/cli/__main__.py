"""`python -m uhadmin.cli`: the `uhadmin` command."""

from uhadmin.cli import main

main()
