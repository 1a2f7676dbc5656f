"""`uhadmin docs how-it-works` regenerates docs/how-it-works.md from a real sandbox run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def route_block(markdown: str) -> str:
    found = re.search(r"```ts\n(.*?)\n```", markdown, re.DOTALL)
    assert found is not None, "the doc shows a route.ts"
    return found.group(1).strip()


@pytest.mark.slow
def test_the_command_writes_the_flow_from_the_calls_it_logged(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from uhadmin.cli import main; main()", "docs", "how-it-works",
         str(tmp_path)], capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr
    doc = (tmp_path / "how-it-works.md").read_text(encoding="utf-8")
    for expected in ("POST /v1/products", "default_price_data[unit_amount]=4500",
                     '"object": "product"', "POST /v1/checkout/sessions", "mode=payment",
                     "line_items[0][price]=price_", "`checkout.session.completed`",
                     "| yes |", "payment_status=paid", "The attempt's outcome: **paid**"):
        assert expected in doc, expected
    shipped = (ROOT / "resources" / "route.ts").read_text(encoding="utf-8").strip()
    assert route_block(doc) == shipped


def test_the_committed_doc_shows_the_shipped_route_ts() -> None:
    doc = (ROOT / "docs" / "how-it-works.md").read_text(encoding="utf-8")
    assert route_block(doc) == (ROOT / "resources" / "route.ts").read_text(
        encoding="utf-8").strip()
