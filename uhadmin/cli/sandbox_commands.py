"""`uhadmin sandbox serve`: run the offline Stripe on loopback until Ctrl+C."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from uhadmin.cli.common import emit, main_group

if TYPE_CHECKING:  # imported when serving: the sandbox loads the Stripe SDK's types
    from uhadmin.sandbox.server import SandboxServer


@main_group.group("sandbox")
def sandbox_group() -> None:
    """The offline Stripe sandbox."""


@sandbox_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              type=click.Choice(["127.0.0.1", "localhost", "::1"]),
              help="Loopback address to listen on.")
@click.option("--port", default=12111, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0 picks a free one).")
@click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
              help="SQLite file that keeps the account between runs (default: memory).")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Requests per second before 429s (25 reproduces Stripe test mode).")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0,
              help="Added latency per API request.")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Fraction of API requests answered 500 without effect.")
@click.option("--drop-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Fraction of API requests that take effect, then lose their connection.")
@click.option("--search-delay", "search_delay_s", type=click.FloatRange(min=0), default=0.0,
              help="Seconds before new or changed objects show up in search.")
@click.option("--webhook", "webhook_urls", multiple=True,
              help="Deliver every event to this URL (repeatable), signed with the printed "
                   "whsec_ secret.")
@click.option("--allow-remote-webhooks", is_flag=True,
              help="Let webhook endpoints point off this machine (default: loopback only).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (JSON).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, data_path: str | None,
          rate_limit: float | None, latency_ms: float, fail_rate: float, drop_rate: float,
          search_delay_s: float, webhook_urls: tuple[str, ...], allow_remote_webhooks: bool,
          as_json: bool) -> None:
    """Serve Stripe's API and hosted checkout on loopback until Ctrl+C."""
    from uhadmin.sandbox.server import SandboxServer, serve_forever

    try:
        server = SandboxServer(host=host, port=port, data_path=data_path,
                               rate_limit=rate_limit, latency_ms=latency_ms,
                               fail_rate=fail_rate, drop_rate=drop_rate,
                               search_delay_s=search_delay_s, webhook_urls=webhook_urls,
                               allow_remote_webhooks=allow_remote_webhooks)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook") from exc

    def announce(started: SandboxServer) -> None:
        # The test key is the sandbox's own fake key (it opens nothing real), so printing it
        # is how a tester learns what to paste into the app.
        payload = {"url": started.url, "test_key": started.test_key,
                   "webhook_secret": started.webhook_secret if webhook_urls else None,
                   "data": data_path}
        lines = [f"Offline Stripe sandbox listening on {started.url}",
                 f"Test key: {started.test_key}",
                 f"Account: {data_path or 'in memory (lost on exit)'}"]
        if webhook_urls:
            lines.append(f"Webhook signing secret: {started.webhook_secret}")
        lines.append("Press Ctrl+C to stop.")
        emit(ctx, payload, "\n".join(lines), as_json=as_json)

    try:
        serve_forever(server, announce)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
