"""Stripe's test cards and what each does, from resources/test_cards.json."""

from __future__ import annotations

import json
from importlib import resources

from uhadmin.domain.checkout import TestCard


def load_test_cards() -> tuple[TestCard, ...]:
    """Stripe's test cards from resources/test_cards.json."""
    path = resources.files("uhadmin.resources") / "test_cards.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(TestCard(number=card["number"], brand=card["brand"], outcome=card["outcome"],
                          decline_code=card.get("decline_code", ""),
                          description=card.get("description", ""))
                 for card in data["cards"])
