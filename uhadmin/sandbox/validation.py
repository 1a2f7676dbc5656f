"""Check and convert decoded form parameters against the SDK's own `stripe.params` TypedDicts.

The SDK's request-parameter types are generated from Stripe's API spec, so deriving the
sandbox's validation from them keeps it in step with the SDK version: unknown keys, wrong
enum values, ill-typed values and missing required fields are refused with a 400 naming
`param` (e.g. `line_items[0][price]`), as Stripe does.
"""

from __future__ import annotations

import functools
import re
import sys
import types
import typing
from decimal import Decimal, InvalidOperation
from typing import Any

from stripe import RequestOptions  # public: re-exported at the SDK's top level
from typing_extensions import is_typeddict

from uhadmin.sandbox.errors import StripeApiError, invalid_param, missing_param, unknown_param
from uhadmin.sandbox.supported import refuse_unsupported

# Keys of RequestOptions (api_key, idempotency_key, ...) travel as headers, never as params.
_OPTION_KEYS = frozenset(RequestOptions.__annotations__)
_REQUIRED_WRAPPERS = (typing.NotRequired, typing.Required)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Python 3.13 warns (DeprecationWarning) unless type_params is given; 3.12.0-3.12.3 refuse it.
_EVAL_OPTIONS: dict[str, Any] = {"type_params": ()} if sys.version_info >= (3, 13) else {}


@functools.cache
def fields_of(params_type: type) -> tuple[dict[str, Any], frozenset[str]]:
    """The parameter names of a TypedDict with their resolved types, and the required ones."""
    namespace = sys.modules[params_type.__module__].__dict__
    resolved: dict[str, Any] = {}
    for name, annotation in params_type.__annotations__.items():
        if name in _OPTION_KEYS:
            continue
        if isinstance(annotation, str):
            annotation = typing.ForwardRef(annotation)
        resolved[name] = typing._eval_type(  # type: ignore[attr-defined]
            annotation, namespace, namespace, **_EVAL_OPTIONS)
    # A TypedDict class keeps its required keys in its own namespace (`type` has none).
    required = frozenset(vars(params_type)["__required_keys__"]) - _OPTION_KEYS
    return resolved, required


def validate(params: dict[str, Any], params_type: type) -> dict[str, Any]:
    """Converted params (ints, bools, lists...) or a StripeApiError naming the bad `param`,
    also for a parameter Stripe has that the sandbox does not implement (supported.py)."""
    checked = _check_typed_dict(params, params_type, "")
    refuse_unsupported(checked, params_type)
    return checked


def _join(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _is_typed_dict(annotation: Any) -> bool:
    return isinstance(annotation, type) and is_typeddict(annotation)


def _check_typed_dict(value: Any, params_type: type, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_param(path, f"Invalid object: {path} must be a hash of parameters.",
                            code="parameter_invalid_string")
    fields, required = fields_of(params_type)
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key not in fields:
            raise unknown_param(_join(path, key))
        result[key] = _check(item, fields[key], _join(path, key))
    for key in sorted(required):
        if key not in value:
            raise missing_param(_join(path, key))
    return result


def _check(value: Any, annotation: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in _REQUIRED_WRAPPERS:
        return _check(value, typing.get_args(annotation)[0], path)
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        return _check_union(value, typing.get_args(annotation), path)
    if origin is typing.Literal:
        return _check_enum(value, typing.get_args(annotation), path)
    if _is_typed_dict(annotation):
        return _check_typed_dict(value, annotation, path)
    if origin in (list, typing.List):  # noqa: UP006 - both spellings appear in the SDK
        return _check_list(value, typing.get_args(annotation)[0], path)
    if origin in (dict, typing.Dict):  # noqa: UP006
        return _check_dict(value, typing.get_args(annotation)[1], path)
    if annotation is str:
        return _check_scalar_string(value, path, "string")
    if annotation is bool:
        text = _check_scalar_string(value, path, "boolean")
        if text not in ("true", "false"):
            raise invalid_param(path, f"Invalid boolean: {text}", code="parameter_invalid_boolean")
        return text == "true"
    if annotation is int:
        text = _check_scalar_string(value, path, "integer")
        try:
            number = int(text)
        except ValueError:
            number = None
        # Stripe's integers are 64-bit: 2**70 is refused, not wrapped or kept.
        if number is None or not _INT64_MIN <= number <= _INT64_MAX:
            raise invalid_param(path, f"Invalid integer: {text}",
                                code="parameter_invalid_integer")
        return number
    if annotation is Decimal:
        text = _check_scalar_string(value, path, "decimal")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise invalid_param(path, f"Invalid decimal: {text}") from None
    if annotation is float:
        text = _check_scalar_string(value, path, "number")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise invalid_param(path, f"Invalid number: {text}") from None
    # UntypedStripeObject and anything else free-form: accept as sent.
    return value


def _check_scalar_string(value: Any, path: str, kind: str) -> str:
    if isinstance(value, dict):
        raise invalid_param(path, f"Invalid {kind}: {path} must be a {kind}, not a hash.")
    return value


def _check_enum(value: Any, choices: tuple[Any, ...], path: str) -> Any:
    text = _check_scalar_string(value, path, "string")
    allowed = [str(choice) for choice in choices]
    if text not in allowed:
        shown = [c for c in allowed if c != ""]
        if not shown:  # `Literal[''] | Dict[...]`: a hash, or "" to unset
            raise invalid_param(path, f"Invalid hash: {path} must be a hash, or an empty "
                                "string to unset it.")
        if len(shown) > 12:  # e.g. the ~250 webhook event types
            shown = [*shown[:11], "..."]
        listing = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f", or {shown[-1]}"
        field_name = re.sub(r"(\[\d+\])+$", "", path).rsplit("[", 1)[-1].rstrip("]")
        raise invalid_param(path, f"Invalid {field_name}: must be one of {listing}",
                            code="parameter_invalid_string")
    return text


def _check_union(value: Any, members: tuple[Any, ...], path: str) -> Any:
    literals: list[Any] = []
    others: list[Any] = []
    for member in members:
        if typing.get_origin(member) is typing.Literal:
            literals.extend(typing.get_args(member))
        elif member is not type(None):
            others.append(member)
    if literals and value in [str(x) for x in literals]:
        return value
    # `Literal[...] | str` is how SDK 16 spells an enum that tolerates future values; the
    # API itself refuses values outside the list, so the sandbox does too.
    non_str = [m for m in others if m is not str]
    if literals and (not non_str or (isinstance(value, str) and not _accepts_string(non_str))):
        if "" in literals and len(literals) == 1 and str in others:
            return _check_scalar_string(value, path, "string")
        return _check_enum(value, tuple(literals), path)
    if isinstance(value, dict):
        for member in non_str:
            if _is_typed_dict(member) or typing.get_origin(member) in (dict, list, typing.Dict,  # noqa: UP006
                                                                       typing.List):  # noqa: UP006
                return _check(value, member, path)
        for member in non_str:
            return _check(value, member, path)
    last_error: StripeApiError | None = None
    for member in others:
        if _is_hash_type(member):
            continue
        try:
            return _check(value, member, path)
        except StripeApiError as exc:
            last_error = exc
    if last_error is not None:
        raise last_error
    if others and all(_is_hash_type(member) for member in others):
        raise invalid_param(path, f"Invalid hash: {path} must be a hash.")
    return _check(value, others[0], path) if others else value


def _is_hash_type(annotation: Any) -> bool:
    """TypedDicts, Dict[...] and the SDK's UntypedStripeObject all arrive as bracket hashes."""
    origin = typing.get_origin(annotation) or annotation
    return (_is_typed_dict(annotation) or origin in (dict, typing.Dict)  # noqa: UP006
            or getattr(origin, "__name__", "") == "UntypedStripeObject")


def _accepts_string(members: list[Any]) -> bool:
    return any(m in (int, bool, Decimal, float) or typing.get_origin(m) in (list, typing.List)  # noqa: UP006
               for m in members)


def _check_list(value: Any, item_type: Any, path: str) -> list[Any]:
    if not isinstance(value, dict) or not all(k.isdigit() for k in value):
        raise invalid_param(path, f"Invalid array: {path} must be an array.",
                            code="parameter_invalid_array")
    ordered = sorted(value.items(), key=lambda kv: int(kv[0]))
    return [_check(item, item_type, f"{path}[{index}]") for index, (_, item) in
            enumerate(ordered)]


def _check_dict(value: Any, item_type: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_param(path, f"Invalid hash: {path} must be a hash.",
                            code="parameter_invalid_string")
    return {key: _check(item, item_type, f"{path}[{key}]") for key, item in value.items()}


def require_known(params: dict[str, Any], allowed: set[str]) -> None:
    """For endpoints the SDK types loosely: refuse any key outside `allowed`."""
    for key in params:
        if key not in allowed:
            raise unknown_param(key)


__all__ = ["StripeApiError", "fields_of", "require_known", "validate"]
