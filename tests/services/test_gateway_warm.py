"""The GUI's warm-up imports everything the SDK's first requests would import later."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

FIRST_CALLS = textwrap.dedent("""
    import asyncio, sys, tempfile, pathlib
    from uhadmin.sandbox.server import SandboxServer
    from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
    from uhadmin.services.stripe_gateway.account import retrieve_account
    from uhadmin.services.stripe_gateway.warm import import_first_request_modules

    sandbox = SandboxServer(data_path=pathlib.Path(tempfile.mkdtemp()) / "s.sqlite3").start()

    async def main():
        gateway = StripeGateway(GatewayConfig(api_key=sandbox.test_key, api_base=sandbox.url))
        assert import_first_request_modules() == []
        before = set(sys.modules)
        product = await gateway.call("products.create", lambda c, o: c.v1.products.create_async(
            {"name": "Desk", "default_price_data": {"currency": "usd", "unit_amount": 500}}, o))
        price = product["default_price"]
        await gateway.call("prices.update", lambda c, o: c.v1.prices.update_async(
            price, {"active": True}, o))
        await gateway.call("checkout.sessions.create", lambda c, o:
                           c.v1.checkout.sessions.create_async({
                               "mode": "payment", "success_url": "http://127.0.0.1/ok",
                               "cancel_url": "http://127.0.0.1/no",
                               "line_items": [{"price": price, "quantity": 1}]}, o))
        await retrieve_account(gateway)  # as the sync's account check reads it
        await gateway.aclose()
        late = sorted(name for name in set(sys.modules) - before
                      if name.split(".")[0] in {"stripe", "anyio", "h11", "httpcore", "sniffio"})
        print(late)

    asyncio.run(main())
    sandbox.stop()
""")


@pytest.mark.slow
def test_after_the_warm_up_a_first_request_imports_nothing():
    shown = subprocess.run([sys.executable, "-c", FIRST_CALLS], capture_output=True,
                           text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "[]"
