"""The SDK's HTTPX client, handing each request straight to the transport httpx would use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import stripe


class LeanHTTPXClient(stripe.HTTPXClient):
    """`stripe.HTTPXClient` without the per-request work of `httpx.AsyncClient` that no
    Stripe call uses: merging a base URL, default headers and a cookie jar into each
    request, storing the answer's cookies, the auth and redirect loops: ~0.6 M of the
    ~6.9 M instructions `uhadmin sync` spent per listing (callgrind, the setup of
    bench/sync_cli_bench.py). The request on the wire is the same (the client's default
    headers under the SDK's own), and so are the connection pool, TLS settings, timeouts,
    proxies from the environment (the transport is the one the client picks for the URL)
    and the errors (the SDK's APIConnectionError for any transport failure)."""

    async def request_async(self, method: str, url: str, headers: Mapping[str, str],
                            post_data: Any = None) -> tuple[bytes, int, Mapping[str, str]]:
        client = self._client_async
        try:  # as with the stock client, a request httpx cannot build fails as unsent
            # The client's default headers first, any the SDK sets itself replacing them
            # (as the client merges them).
            own = {name.lower() for name in headers}
            request = httpx.Request(
                method, url,
                headers=[*((name, value) for name, value in client.headers.raw
                           if name.decode("ascii").lower() not in own), *headers.items()],
                content=post_data or None,
                extensions={"timeout": (httpx.Timeout(self._timeout) if self._timeout
                                        else client.timeout).as_dict()})
        except Exception as error:
            self._handle_request_error(error)
        # The transport the client itself picks for this URL (a mount carries a proxy).
        # Outside the try: were this httpx method gone, that is a bug to see, not "offline".
        transport = client._transport_for_url(request.url)
        try:
            response = await transport.handle_async_request(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        except Exception as error:
            self._handle_request_error(error)
        return content, response.status_code, response.headers
