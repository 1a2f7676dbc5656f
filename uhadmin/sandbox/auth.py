"""The API key check: a test-mode secret or restricted key, as Bearer or Basic auth."""

from __future__ import annotations

import base64
import re

from uhadmin.sandbox.errors import StripeApiError

_KEY = re.compile(r"^(sk|rk)_(test|live)_([A-Za-z0-9]+)$")


def authenticate(authorization: str | None) -> str:
    """The test-mode key `authorization` carries; Stripe's 401 unless it is well-formed."""
    if not authorization:
        raise StripeApiError(401, "You did not provide an API key. You need to provide "
                             "your API key in the Authorization header, using Bearer "
                             "auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            credential = base64.b64decode(credential).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            credential = ""
    elif scheme.lower() != "bearer":
        credential = ""
    found = _KEY.match(credential.strip())
    masked = credential[:8] + "*" * 4 + credential[-4:] if len(credential) > 12 else "****"
    if not found:
        raise StripeApiError(401, f"Invalid API Key provided: {masked}")
    if found.group(2) == "live":
        raise StripeApiError(401, "The offline Stripe sandbox is test mode only: live keys "
                             f"are refused ({masked}). Use an sk_test_ or rk_test_ key.")
    return credential.strip()
