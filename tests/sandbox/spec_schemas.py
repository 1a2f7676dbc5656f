"""Stripe's published schemas (tests/sandbox/data) as strict JSON Schema validators."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema

SPEC_PATH = Path(__file__).parent / "data" / "openapi-subset-2026-07-29.json"
# Fields Stripe returns that the subset lacks: stripe-python 16's models (generated from
# Stripe's spec for 2026-10-28) have them, `Product.type` not even Optional, so the
# extraction dropped them. Added here rather than by editing the copied file.
SPEC_OMISSIONS = {
    "product": {"type": {"type": "string", "enum": ["good", "service"]}},
    "recurring": {"trial_period_days": {"type": "integer", "nullable": True}},
}


@functools.cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def _strict(schema: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: `nullable` becomes a null alternative (it also holds for
    `anyOf` expandables and enums, which the validators' own OpenAPI modes miss), and an
    object with listed properties allows no others ("nothing the spec lacks")."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: (_strict(value) if key in ("items", "anyOf", "oneOf", "allOf")
                 or key == "additionalProperties" else value)
           for key, value in schema.items() if key != "nullable"}
    if "properties" in schema:
        out["properties"] = {name: _strict(value)
                             for name, value in schema["properties"].items()}
        out.setdefault("additionalProperties", False)
    if schema.get("nullable"):
        return {"anyOf": [{"type": "null"}, out]}
    return out


@functools.cache
def _components() -> dict[str, Any]:
    raw = copy.deepcopy(spec()["components"]["schemas"])
    for name, extra in SPEC_OMISSIONS.items():
        raw[name]["properties"].update(extra)
    schemas = {name: _strict(body) for name, body in raw.items()}
    wanted = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schemas)))
    for missing in wanted - set(schemas):
        # The subset's x-source: schemas it did not transcribe are checked as objects.
        schemas[missing] = {"type": "object"}
    return {"schemas": schemas}


@functools.cache
def _validator(kind: str, name: str) -> jsonschema.Draft4Validator:
    if kind == "component":
        schema: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    else:
        schema = {"$ref": f"#/envelopes/{name.replace('/', '~1')}"}
    root = {**schema, "components": _components(),
            "envelopes": {path: _strict(copy.deepcopy(body))
                          for path, body in spec()["list_envelopes"].items()}}
    return jsonschema.Draft4Validator(root)


def has_schema(name: str) -> bool:
    return name in spec()["components"]["schemas"]


def has_envelope(path: str) -> bool:
    return path in spec()["list_envelopes"]


def problems(payload: Any, *, component: str | None = None,
             envelope: str | None = None) -> list[str]:
    """Every way `payload` breaks the named schema, as `path: message` lines."""
    validator = (_validator("component", component) if component is not None
                 else _validator("envelope", envelope or ""))
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(validator.iter_errors(payload), key=str)]
