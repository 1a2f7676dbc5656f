"""Every Stripe and catalog limit a listing must meet, checked before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from uhadmin.domain.listing import Listing, ListingChanges, ListingStatus, NewListing
from uhadmin.errors import FieldProblem, ValidationError
from uhadmin.money import MAXIMUM_AMOUNT_MINOR, check_amount, is_known_currency

# Stripe Product limits (STRIPE_FACTS.md).
MAX_TITLE_CHARS = 5000  # product name
MAX_DESCRIPTION_CHARS = 40000
MAX_IMAGES = 8
MAX_IMAGE_URL_CHARS = 2048
# Column widths of uhadmin/services/tables.py (ListingRow); repeated here because this bottom
# layer may not import the services, and PostgreSQL would refuse a longer value mid-write.
MAX_SELLER_CONTACT_CHARS = 320
MAX_CATEGORY_CHARS = 100
MAX_CONDITION_CHARS = 50
# Stripe metadata limits.
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_CHARS = 40
MAX_METADATA_VALUE_CHARS = 500


def _text_problems(field: str, value: object, limit: int, *, required: bool = False
                   ) -> list[FieldProblem]:
    if not isinstance(value, str):
        return [FieldProblem(field, "must be text")]
    problems = []
    if required and not value.strip():
        problems.append(FieldProblem(field, "required (must not be blank)"))
    if len(value) > limit:
        problems.append(FieldProblem(field, f"at most {limit:,} characters (has {len(value):,})"))
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL, so the write would fail half-way.
        problems.append(FieldProblem(field, "must not contain NUL characters"))
    return problems


def _image_problems(urls: object) -> list[FieldProblem]:
    if isinstance(urls, str) or not isinstance(urls, (tuple, list)):
        return [FieldProblem("images", "must be a list of URLs")]
    problems = []
    if len(urls) > MAX_IMAGES:
        problems.append(FieldProblem(
            "images", f"at most {MAX_IMAGES} (Stripe's limit, has {len(urls)})"))
    for number, url in enumerate(urls, start=1):
        field = f"images[{number}]"
        if not isinstance(url, str):
            problems.append(FieldProblem(field, "must be text"))
            continue
        if len(url) > MAX_IMAGE_URL_CHARS:
            problems.append(FieldProblem(field, f"at most {MAX_IMAGE_URL_CHARS} characters"))
            continue
        if not _is_absolute_http_url(url):
            problems.append(FieldProblem(field, "must be an absolute http:// or https:// URL"))
    return problems


def _is_absolute_http_url(url: str) -> bool:
    if url != url.strip() or any(char.isspace() or ord(char) < 32 for char in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _currency_problems(currency: object) -> list[FieldProblem]:
    if isinstance(currency, str) and is_known_currency(currency):
        return []
    if isinstance(currency, str) and is_known_currency(currency.strip().lower()):
        return [FieldProblem("currency", f"must be lower-case: {currency.strip().lower()!r}")]
    return [FieldProblem(
        "currency", f"{currency!r} is not a currency Stripe accepts (a lower-case code like usd)"
    )]


def _price_problems(price_minor: object, currency: str) -> list[FieldProblem]:
    try:
        check_amount(price_minor, currency, field="price")  # type: ignore[arg-type]
    except ValidationError as error:
        return error.problems
    return []


def _price_in_problems(price_minor: object, currency: object) -> list[FieldProblem]:
    """The price rules of `currency`, or those of every currency when it is not one Stripe
    knows (a stored row's currency may be anything the website wrote)."""
    if isinstance(currency, str) and is_known_currency(currency):
        return _price_problems(price_minor, currency)
    return _bare_price_problems(price_minor)


def _bare_price_problems(price_minor: object) -> list[FieldProblem]:
    """The rules that hold in every currency, for a price whose currency is not known here."""
    if isinstance(price_minor, bool) or not isinstance(price_minor, int):
        return [FieldProblem("price", "must be a whole number of minor units")]
    if price_minor < 0:
        return [FieldProblem("price", "must not be negative")]
    if price_minor > MAXIMUM_AMOUNT_MINOR:
        return [FieldProblem("price", "at most 8 digits in minor units (Stripe's maximum)")]
    return []


def _status_problems(status: object) -> list[FieldProblem]:
    if isinstance(status, ListingStatus):
        return []
    allowed = ", ".join(s.value for s in ListingStatus)
    return [FieldProblem("status", f"{status!r} is not a listing status (one of {allowed})")]


def _raise_if_any(problems: list[FieldProblem]) -> None:
    if problems:
        raise ValidationError(problems)


def validate_new_listing(new: NewListing) -> None:
    """Raise one ValidationError listing every broken rule of a listing about to be created."""
    problems = _text_problems("title", new.title, MAX_TITLE_CHARS, required=True)
    problems += _text_problems("description", new.description, MAX_DESCRIPTION_CHARS)
    problems += _currency_problems(new.currency)
    problems += _price_in_problems(new.price_minor, new.currency)
    problems += _image_problems(new.image_urls)
    problems += _text_problems("seller_contact", new.seller_contact, MAX_SELLER_CONTACT_CHARS)
    problems += _text_problems("category", new.category, MAX_CATEGORY_CHARS)
    problems += _text_problems("condition", new.condition, MAX_CONDITION_CHARS)
    problems += _status_problems(new.status)
    _raise_if_any(problems)


def listing_problems(listing: Listing) -> tuple[FieldProblem, ...]:
    """Every rule of a staff edit that a stored listing breaks (empty when it is valid).

    Pure and total: the listing may come from a row the website wrote, with anything in it.
    """
    return field_problems(listing.title, listing.description, listing.currency,
                          listing.price_minor, listing.image_urls, listing.seller_contact,
                          listing.category, listing.condition, listing.status)


def field_problems(title: object, description: object, currency: object, price_minor: object,
                   image_urls: object, seller_contact: object, category: object,
                   condition: object, status: object) -> tuple[FieldProblem, ...]:
    """listing_problems over the checked fields alone (a sync checks each row it claims
    without building the whole Listing)."""
    problems = _text_problems("title", title, MAX_TITLE_CHARS, required=True)
    problems += _text_problems("description", description, MAX_DESCRIPTION_CHARS)
    problems += _currency_problems(currency)
    problems += _price_in_problems(price_minor, currency)
    problems += _image_problems(image_urls)
    problems += _text_problems("seller_contact", seller_contact, MAX_SELLER_CONTACT_CHARS)
    problems += _text_problems("category", category, MAX_CATEGORY_CHARS)
    problems += _text_problems("condition", condition, MAX_CONDITION_CHARS)
    problems += _status_problems(status)
    return tuple(problems)


def validate_listing_changes(changes: ListingChanges, *, current: Listing | None = None) -> None:
    """Raise one ValidationError listing every broken rule of a partial edit.

    A price is checked against the new currency, else `current`'s; with neither known only
    the currency-independent rules (whole, non-negative, at most 8 digits) apply, so callers
    that hold the stored listing should pass it.
    """
    problems: list[FieldProblem] = []
    if changes.title is not None:
        problems += _text_problems("title", changes.title, MAX_TITLE_CHARS, required=True)
    if changes.description is not None:
        problems += _text_problems("description", changes.description, MAX_DESCRIPTION_CHARS)
    if changes.currency is not None:
        problems += _currency_problems(changes.currency)
    currency = changes.currency if changes.currency is not None else (
        current.currency if current is not None else None)
    price = changes.price_minor if changes.price_minor is not None else (
        current.price_minor if current is not None else None)
    # A currency change alone re-checks the stored price: 0.50 USD is not a valid JPY price.
    price_touched = changes.price_minor is not None or changes.currency is not None
    if price_touched and price is not None:
        problems += _price_in_problems(price, currency)
    if changes.image_urls is not None:
        problems += _image_problems(changes.image_urls)
    if changes.seller_contact is not None:
        problems += _text_problems("seller_contact", changes.seller_contact,
                                   MAX_SELLER_CONTACT_CHARS)
    if changes.category is not None:
        problems += _text_problems("category", changes.category, MAX_CATEGORY_CHARS)
    if changes.condition is not None:
        problems += _text_problems("condition", changes.condition, MAX_CONDITION_CHARS)
    _raise_if_any(problems)


def validate_metadata(metadata: Mapping[str, str], *, field: str = "metadata") -> None:
    """Raise one ValidationError unless Stripe would take `metadata` as it is."""
    if not isinstance(metadata, Mapping):
        raise ValidationError.single(field, "must be a mapping of text keys to text values")
    problems: list[FieldProblem] = []
    if len(metadata) > MAX_METADATA_KEYS:
        problems.append(FieldProblem(
            field, f"at most {MAX_METADATA_KEYS} keys (Stripe's limit, has {len(metadata)})"))
    for key, value in metadata.items():
        if not isinstance(key, str):
            problems.append(FieldProblem(field, f"key {key!r} must be text"))
            continue
        where = f"{field}[{key[:MAX_METADATA_KEY_CHARS]!r}]"
        if not key:
            problems.append(FieldProblem(field, "keys must not be empty"))
        if len(key) > MAX_METADATA_KEY_CHARS:
            problems.append(FieldProblem(
                where, f"key at most {MAX_METADATA_KEY_CHARS} characters (has {len(key)})"))
        if "[" in key or "]" in key:
            problems.append(FieldProblem(where, "key must not contain [ or ]"))
        if not isinstance(value, str):
            problems.append(FieldProblem(
                where, f"value must be text (Stripe metadata holds strings only), not "
                       f"{type(value).__name__}"))
        elif len(value) > MAX_METADATA_VALUE_CHARS:
            problems.append(FieldProblem(
                where, f"value at most {MAX_METADATA_VALUE_CHARS} characters (has {len(value)})"))
    _raise_if_any(problems)
