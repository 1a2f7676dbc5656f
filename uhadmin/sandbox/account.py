"""GET /v1/account: the account a key belongs to, shaped as Stripe's Account object.

One sandbox serves one set of objects, but Stripe ties every key to one account; here the
account id is derived from the key (the same key, the same `acct_` id, in every process and
after a reset), so pointing the app at another key looks like another account, as it would
at Stripe. The fields are those the SDK's `Account` class declares for a Standard account.
"""

from __future__ import annotations

import hashlib
import string
from typing import Any

_ALPHABET = string.digits + string.ascii_letters
DISPLAY_NAME = "uhadmin offline sandbox"
CREATED = 1_700_000_000  # fixed: the account predates every object the sandbox makes


def account_id_for(api_key: str) -> str:
    """`acct_1` plus 15 characters from a hash of the key (never the key itself)."""
    number = int.from_bytes(hashlib.sha256(api_key.encode()).digest()[:12], "big")
    letters = []
    for _ in range(15):
        number, digit = divmod(number, len(_ALPHABET))
        letters.append(_ALPHABET[digit])
    return "acct_1" + "".join(letters)


def account_object(api_key: str) -> dict[str, Any]:
    """The Account object GET /v1/account answers for `api_key`."""
    account_id = account_id_for(api_key)
    return {
        "id": account_id, "object": "account",
        "business_profile": {"annual_revenue": None, "estimated_worker_count": None,
                             "mcc": None, "name": DISPLAY_NAME, "product_description": None,
                             "support_address": None, "support_email": None,
                             "support_phone": None, "support_url": None, "url": None},
        "business_type": None,
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True, "controller": {"type": "account"}, "country": "US",
        "created": CREATED, "default_currency": "usd", "details_submitted": True,
        "email": "sandbox@uhadmin.invalid",
        "external_accounts": {"object": "list", "data": [], "has_more": False,
                              "url": f"/v1/accounts/{account_id}/external_accounts"},
        "future_requirements": None, "metadata": {}, "payouts_enabled": True,
        "requirements": None,
        "settings": {"dashboard": {"display_name": DISPLAY_NAME, "timezone": "Etc/UTC"}},
        "tos_acceptance": {"date": CREATED}, "type": "standard",
    }
