"""One logged Stripe request as a runnable curl command, Node script or Python script.

Each snippet reads the key from an environment variable (never pasted in), names the API
base when it is not Stripe's (the offline sandbox), pins the logged Stripe-Version and reuses
the logged Idempotency-Key, so a replay of a write is answered exactly as the logged call was.
"""

from __future__ import annotations

import json
import pprint
import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

from uhadmin.domain.stripe_log import StripeLogEntry, dict_of_params, typed_params

KEY_VARIABLE = "STRIPE_SECRET_KEY"
STRIPE_API_BASE = "https://api.stripe.com"
SNIPPET_FORMATS = ("curl", "node", "python")

# Path segments that are namespaces in both SDKs (stripe.checkout.sessions...).
_NAMESPACES = {"checkout", "billing_portal", "billing", "terminal", "radar", "reporting",
               "identity", "issuing", "tax", "treasury", "test_helpers", "climate",
               "financial_connections", "apps", "entitlements", "forwarding", "sigma"}
# POST /v1/<resource>/<id>/<action>: the same method name in both SDKs.
_ACTIONS = {"expire", "cancel", "confirm", "capture", "finalize_invoice", "pay", "void_invoice",
            "close", "approve", "decline", "verify", "reopen"}


@dataclass(frozen=True)
class SdkCall:
    """Where a request lands in the SDKs: resource path, method, path id, or raw."""

    resources: tuple[str, ...]  # ("checkout", "sessions")
    method: str  # "create" | "retrieve" | "update" | "list" | "del" | "search" | action
    object_id: str | None
    raw: bool = False


def sdk_call_of(method: str, path: str) -> SdkCall:
    """The SDK method a logged (method, path) corresponds to, or raw when unsure."""
    segments = [part for part in path.strip("/").split("/") if part]
    raw = SdkCall((), "", None, raw=True)
    if segments[:1] != ["v1"] or len(segments) < 2:
        return raw
    segments = segments[1:]
    if segments == ["account"] and method == "GET":
        return SdkCall(("accounts",), "retrieve_current", None)
    resources = [segments.pop(0)] if segments[0] in _NAMESPACES else []
    if not segments:
        return raw
    resources.append(segments.pop(0))
    if segments == ["search"] and method == "GET":
        return SdkCall(tuple(resources), "search", None)
    if len(segments) == 2 and segments[1] in _ACTIONS and method == "POST":
        return SdkCall(tuple(resources), segments[1], segments[0])
    verb = {(0, "POST"): "create", (0, "GET"): "list", (1, "POST"): "update",
            (1, "GET"): "retrieve", (1, "DELETE"): "del"}.get((len(segments), method))
    if verb is None:
        return raw
    return SdkCall(tuple(resources), verb, segments[0] if segments else None)


def _base_of(entry: StripeLogEntry) -> str | None:
    base = (entry.api_base or "").rstrip("/")
    return None if not base or base == STRIPE_API_BASE else base


def _header_comment(entry: StripeLogEntry, marker: str) -> str:
    what = f"{entry.method} {entry.path}"
    served = f", for {entry.served}" if entry.served else ""
    status = f" -> {entry.status}" if entry.status is not None else ""
    lines = [f"{marker} uhadmin Stripe log entry {entry.id}: {what}{status}{served}",
             f"{marker} The key comes from ${KEY_VARIABLE}; it is never part of a snippet."]
    if entry.idempotency_key:
        lines.append(f"{marker} Same Idempotency-Key: Stripe answers as it did then; "
                     "change the key to run the write again.")
    if any(value == "[redacted]" for _, value in entry.params):
        lines.append(f"{marker} Values shown as [redacted] were secrets: fill them in.")
    return "\n".join(lines)


# --- curl ---------------------------------------------------------------------------------

def as_curl(entry: StripeLogEntry) -> str:
    """The request as one curl command (bash)."""
    url = (_base_of(entry) or STRIPE_API_BASE) + entry.path
    if entry.method == "GET" and entry.params:
        first = f"curl -G {shlex.quote(url)}"
    elif entry.method == "POST" and entry.params:
        first = f"curl {shlex.quote(url)}"
    else:
        first = f"curl -X {entry.method} {shlex.quote(url)}"
    lines = [first, f'-u "${KEY_VARIABLE}:"']
    if entry.api_version:
        lines.append("-H " + shlex.quote(f"Stripe-Version: {entry.api_version}"))
    if entry.idempotency_key:
        lines.append("-H " + shlex.quote(f"Idempotency-Key: {entry.idempotency_key}"))
    lines += ["--data-urlencode " + shlex.quote(f"{name}={value}")
              for name, value in entry.params]
    return _header_comment(entry, "#") + "\n" + " \\\n  ".join(lines) + "\n"


# --- Node ---------------------------------------------------------------------------------

def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def as_node(entry: StripeLogEntry) -> str:
    """A Node script using the official `stripe` package, the way route.ts writes it."""
    options: dict[str, object] = {}
    if entry.api_version:
        options["apiVersion"] = entry.api_version
    base = _base_of(entry)
    if base:
        parsed = urlsplit(base)
        options["protocol"] = parsed.scheme
        options["host"] = parsed.hostname
        if parsed.port:
            options["port"] = parsed.port
    params = typed_params(dict_of_params(entry.params))
    request_options = {"idempotencyKey": entry.idempotency_key} if entry.idempotency_key \
        else None
    call = sdk_call_of(entry.method, entry.path)
    if call.raw:
        invocation = (f"stripe.rawRequest({json.dumps(entry.method)}, "
                      f"{json.dumps(entry.path)}, {_js(params)}"
                      + (f", {_js(request_options)}" if request_options else "") + ")")
    else:
        target = ".".join(["stripe", *(_camel(r) for r in call.resources),
                           "retrieve" if call.method == "retrieve_current" else
                           _camel(call.method)])
        arguments = [json.dumps(call.object_id)] if call.object_id else []
        if params or request_options:
            arguments.append(_js(params))
        if request_options:
            arguments.append(_js(request_options))
        invocation = f"{target}({', '.join(arguments)})"
    return "\n".join([
        _header_comment(entry, "//"),
        "const Stripe = require('stripe');",
        "",
        f"const stripe = new Stripe(process.env.{KEY_VARIABLE}, {_js(options)});",
        "",
        "(async () => {",
        f"  const result = await {invocation};",
        "  console.log(JSON.stringify(result, null, 2));",
        "})().catch((error) => {",
        "  console.error(error.message);",
        "  process.exit(1);",
        "});",
        "",
    ])


def _js(value: object) -> str:
    return json.dumps(value, indent=2).replace("\n", "\n  ")


# --- Python -------------------------------------------------------------------------------

def as_python(entry: StripeLogEntry) -> str:
    """A Python script using `stripe.StripeClient`."""
    client_args = [f"os.environ[{KEY_VARIABLE!r}]"]
    base = _base_of(entry)
    if base:
        client_args.append(f"base_addresses={{'api': {base!r}}}")
    if entry.api_version:
        client_args.append(f"stripe_version={entry.api_version!r}")
    params = typed_params(dict_of_params(entry.params))
    options = {"idempotency_key": entry.idempotency_key} if entry.idempotency_key else None
    call = sdk_call_of(entry.method, entry.path)
    if call.raw:
        keywords = "".join(f", {name}={value!r}" for name, value in params.items())
        invocation = f"client.raw_request({entry.method.lower()!r}, {entry.path!r}{keywords})"
        print_line = "print(result.http_body)"
    else:
        method = "delete" if call.method == "del" else call.method
        target = ".".join(["client", "v1", *call.resources, method])
        arguments = [repr(call.object_id)] if call.object_id else []
        if params:
            arguments.append(f"params={_py(params)}")
        if options:
            arguments.append(f"options={_py(options)}")
        invocation = f"{target}({', '.join(arguments)})"
        print_line = "print(result)"
    return "\n".join([
        _header_comment(entry, "#"),
        "import os",
        "",
        "import stripe",
        "",
        f"client = stripe.StripeClient({', '.join(client_args)})",
        f"result = {invocation}",
        print_line,
        "",
    ])


def _py(value: object) -> str:
    return pprint.pformat(value, sort_dicts=False, width=88)


def snippet(entry: StripeLogEntry, kind: str) -> str:
    """The snippet of `kind` ("curl", "node" or "python") for one request entry."""
    if entry.kind != "request":
        raise ValueError("only requests to Stripe can be copied as code (this is a webhook)")
    makers = {"curl": as_curl, "node": as_node, "python": as_python}
    if kind not in makers:
        raise ValueError(f"snippet kind: one of {', '.join(SNIPPET_FORMATS)}")
    return makers[kind](entry)
