"""Two sandbox servers on one data file (the GUI's and a CLI command's) serve one account."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import stripe

from uhadmin.sandbox.server import SandboxServer
from uhadmin.sandbox.store import SandboxStore


def client_for(server: SandboxServer | str, key: str | None = None) -> stripe.StripeClient:
    url = server if isinstance(server, str) else server.url
    key = key or server.test_key  # type: ignore[union-attr]
    return stripe.StripeClient(key, base_addresses={"api": url},
                               http_client=stripe.HTTPXClient(allow_sync_methods=True))


@pytest.fixture
def pair(tmp_path):
    data = tmp_path / "stripe_sandbox.sqlite3"
    with SandboxServer(data_path=data) as gui, SandboxServer(data_path=data) as cli:
        assert gui.port != cli.port
        yield gui, cli


def test_objects_made_on_one_are_retrieved_listed_and_updated_on_the_other(pair):
    gui, cli = pair
    a, b = client_for(gui), client_for(cli)
    made = a.v1.products.create({"name": "Desk lamp", "id": "listing_7",
                                 "metadata": {"listing_id": "7"},
                                 "default_price_data": {"currency": "usd", "unit_amount": 1200}})
    seen = b.v1.products.retrieve("listing_7", {"expand": ["default_price"]})
    assert (seen.name, seen.default_price.unit_amount) == ("Desk lamp", 1200)
    assert [p.id for p in b.v1.products.list().data] == ["listing_7"]
    assert b.v1.products.search({"query": "metadata['listing_id']:'7'"}).data[0].id == made.id
    b.v1.products.update("listing_7", {"name": "Desk lamp (renamed)"})
    assert a.v1.products.retrieve("listing_7").name == "Desk lamp (renamed)"
    newer = b.v1.products.create({"name": "Chair"})
    assert [p.id for p in a.v1.products.list().data] == [newer.id, "listing_7"]  # newest first
    # A product with prices stays undeletable on the other side (its price index follows).
    with pytest.raises(stripe.InvalidRequestError):
        b.v1.products.delete("listing_7")
    a.v1.products.delete(newer.id)
    with pytest.raises(stripe.InvalidRequestError):
        b.v1.products.retrieve(newer.id)
    assert [p.id for p in b.v1.products.list().data] == ["listing_7"]


def test_idempotency_keys_are_shared(pair):
    gui, cli = pair
    first = client_for(gui).v1.products.create({"name": "Once"}, {"idempotency_key": "k-1"})
    again = client_for(cli).v1.products.create({"name": "Once"}, {"idempotency_key": "k-1"})
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    with pytest.raises(stripe.IdempotencyError):
        client_for(cli).v1.products.create({"name": "Other"}, {"idempotency_key": "k-1"})
    assert len(client_for(gui).v1.products.list().data) == 1


def test_a_session_created_on_one_is_paid_on_the_others_hosted_page(pair):
    gui, cli = pair
    cli_client = client_for(cli)
    product = cli_client.v1.products.create({
        "name": "Textbook", "default_price_data": {"currency": "usd", "unit_amount": 900}})
    session = cli_client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "http://127.0.0.1:9/ok?session={CHECKOUT_SESSION_ID}",
        "line_items": [{"price": product.default_price, "quantity": 1}]})
    # The GUI's sandbox serves the page for a session it never created itself.
    page_on_gui = session.url.replace(cli.url, gui.url)
    assert httpx.get(page_on_gui).status_code == 200
    paid = httpx.post(page_on_gui, data={"email": "b@example.test",
                                         "cardNumber": "4242 4242 4242 4242",
                                         "cardExpiry": "12 / 34", "cardCvc": "123",
                                         "billingName": "Ada"})
    assert paid.status_code == 303
    done = cli_client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert "checkout.session.completed" in [e.type for e in cli_client.v1.events.list().data]


def test_alternating_writes_lose_no_update(pair):
    gui, cli = pair
    clients = [client_for(gui), client_for(cli)]
    clients[0].v1.products.create({"name": "Counter", "id": "counter",
                                   "metadata": {"n": "0"}})
    for step in range(1, 21):
        client = clients[step % 2]
        current = int(client.v1.products.retrieve("counter").metadata["n"])
        assert current == step - 1  # each side reads the other's last write
        client.v1.products.update("counter", {"metadata": {"n": str(current + 1),
                                                           f"by{step}": "x"}})
    final = clients[0].v1.products.retrieve("counter").metadata
    assert final["n"] == "20" and all(f"by{step}" in final for step in range(1, 21))


def test_concurrent_creates_on_both_all_land_in_one_order(pair):
    gui, cli = pair

    def create_many(server: SandboxServer, tag: str) -> list[str]:
        client = client_for(server)
        return [client.v1.products.create({"name": f"{tag} {i}"}).id for i in range(25)]

    with ThreadPoolExecutor(2) as pool:
        made = [*pool.map(create_many, (gui, cli), ("gui", "cli"))]
    listed = {side: [p.id for p in client_for(side).v1.products.list({"limit": 100}).data]
              for side in (gui, cli)}
    assert listed[gui] == listed[cli]
    assert sorted(listed[gui]) == sorted(made[0] + made[1])
    for ids in made:  # each side's own creates keep their order in the shared list
        positions = [listed[gui].index(i) for i in ids]
        assert positions == sorted(positions, reverse=True)


def test_reset_on_one_empties_the_other(pair):
    gui, cli = pair
    client_for(gui).v1.products.create({"name": "Soon gone"})
    cli.reset()
    assert client_for(gui).v1.products.list().data == []


@pytest.mark.slow
def test_a_separate_process_shares_the_account(tmp_path):
    data = tmp_path / "stripe_sandbox.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-c", "from uhadmin.cli import main; main()", "sandbox", "serve",
         "--port", "0", "--data", str(data), "--json"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        other = client_for(announced["url"], announced["test_key"])
        with SandboxServer(data_path=data) as mine:
            made = other.v1.products.create({"name": "From the CLI"})
            assert client_for(mine).v1.products.retrieve(made.id).name == "From the CLI"
            client_for(mine).v1.products.update(made.id, {"name": "From the GUI"})
            assert other.v1.products.retrieve(made.id).name == "From the GUI"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_tombstones_are_pruned_and_a_late_reader_reloads_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("uhadmin.sandbox.store.MAX_TOMBSTONES", 5)
    data = tmp_path / "account.sqlite3"
    writer, reader = SandboxStore(data), SandboxStore(data)
    with writer.transaction(write=True):
        for i in range(150):
            writer.put("product", {"id": f"p{i}", "n": i})
    for i in range(120):  # one revision each; a prune happens at revision 100
        with writer.transaction(write=True):
            writer.delete("product", f"p{i}")
    with reader.transaction():
        assert list(reader.objects["product"]) == [f"p{i}" for i in range(120, 150)]
    assert writer._db.execute("SELECT count(*) FROM sandbox_deleted").fetchone()[0] < 25
    writer.close()
    reader.close()


def test_writes_outside_a_write_transaction_are_refused(tmp_path):
    store = SandboxStore(tmp_path / "account.sqlite3")
    with pytest.raises(RuntimeError), store.transaction():
        store.put("product", {"id": "p1"})
    memory = SandboxStore()
    with memory.transaction():
        memory.put("product", {"id": "p1"})  # in memory only, the lock is enough
    store.close()
