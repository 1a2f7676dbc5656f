"""No module outside the Stripe gateway imports a private part of the SDK (`stripe._x`).

import-linter sees only the package `stripe` (see the contract in pyproject.toml), so this
reads every import statement of uhadmin/ instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "uhadmin"
GATEWAY = PACKAGE / "services" / "stripe_gateway"


def private_stripe_imports(source: str) -> list[str]:
    """The `stripe._x` modules (or `_x` names from stripe) a module imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [name for name in names if name.split(".")[0] == "stripe"
                  and any(part.startswith("_") for part in name.split(".")[1:])]
    return found


def test_the_rule_sees_each_form_of_a_private_import():
    assert private_stripe_imports("from stripe._request_options import RequestOptions")
    assert private_stripe_imports("import stripe._http_client as h")
    assert private_stripe_imports("from stripe import _api_requestor")
    assert not private_stripe_imports("import stripe.params as sp\nfrom stripe import "
                                      "RequestOptions\nfrom uhadmin._x import y")


def test_only_the_gateway_imports_private_parts_of_the_sdk():
    offenders = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py")) if GATEWAY not in path.parents
        if (found := private_stripe_imports(path.read_text(encoding="utf-8")))}
    assert offenders == {}
