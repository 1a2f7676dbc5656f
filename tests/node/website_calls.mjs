// The marketplace website's Stripe calls, made with the official Node `stripe` package
// against the offline sandbox. Run by tests/node/test_website_client.py:
//   node website_calls.mjs <sandbox url> <secret key>
// Every check asserts; the last line printed is a JSON summary of what ran.

import assert from "node:assert/strict";
import http from "node:http";

import Stripe from "stripe";

const [baseUrl, secretKey] = process.argv.slice(2);
const base = new URL(baseUrl);

function client(key) {
  return new Stripe(key, {
    host: base.hostname,
    port: Number(base.port),
    protocol: base.protocol.replace(":", ""),
    maxNetworkRetries: 0,
    timeout: 15000,
  });
}

const stripe = client(secretKey);
const done = [];

// A loopback receiver that keeps each delivery's raw body and signature header.
async function startReceiver() {
  const deliveries = [];
  const waiting = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      deliveries.push({
        body: Buffer.concat(chunks),
        signature: request.headers["stripe-signature"],
      });
      response.writeHead(200).end();
      while (waiting.length) waiting.shift()();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/stripe/webhook`;
  async function next(index) {
    const deadline = Date.now() + 10000;
    while (deliveries.length <= index) {
      assert.ok(Date.now() < deadline, "no webhook delivery within 10 s");
      await new Promise((resolve) => {
        waiting.push(resolve);
        setTimeout(resolve, 200);
      });
    }
    return deliveries[index];
  }
  return { url, next, close: () => server.close() };
}

// 1. A listing becomes a product with its default price in one call.
const product = await stripe.products.create({
  name: "Calculus textbook",
  metadata: { listing_id: "42" },
  default_price_data: { currency: "usd", unit_amount: 2450 },
});
assert.equal(product.object, "product");
assert.match(product.default_price, /^price_/);
done.push("product with default_price_data");

// 2. Checkout in payment mode from the price id.
const session = await stripe.checkout.sessions.create({
  mode: "payment",
  line_items: [{ price: product.default_price, quantity: 2 }],
  success_url: "http://127.0.0.1:3000/checkout/success?session_id={CHECKOUT_SESSION_ID}",
  cancel_url: "http://127.0.0.1:3000/listings/42",
  client_reference_id: "listing-42",
  metadata: { listing_id: "42" },
});
assert.equal(session.status, "open");
assert.equal(session.amount_total, 4900);
assert.ok(session.url.startsWith(baseUrl), session.url);
done.push("checkout session from a price id");

// 3. Retrieve with expand, nested to the product.
const expanded = await stripe.checkout.sessions.retrieve(session.id, {
  expand: ["line_items.data.price.product"],
});
assert.equal(expanded.line_items.data[0].price.id, product.default_price);
assert.equal(expanded.line_items.data[0].price.product.id, product.id);
done.push("retrieve with expand");

// 4. List the line items.
const items = await stripe.checkout.sessions.listLineItems(session.id, { limit: 5 });
assert.equal(items.object, "list");
assert.deepEqual(items.data.map((item) => item.quantity), [2]);
done.push("list line items");

// 5. Expire an abandoned session; expiring it twice is refused.
const expired = await stripe.checkout.sessions.expire(session.id);
assert.equal(expired.status, "expired");
assert.equal(expired.url, null);
await assert.rejects(stripe.checkout.sessions.expire(session.id), (error) => {
  assert.ok(error instanceof Stripe.errors.StripeInvalidRequestError);
  assert.equal(error.code, "checkout_session_not_open");
  return true;
});
done.push("expire");

// 6. Auto-pagination over more products than one page holds.
for (let index = 0; index < 11; index += 1) {
  await stripe.products.create({ name: `Page item ${index}` });
}
const seen = [];
for await (const listed of stripe.products.list({ limit: 5 })) {
  seen.push(listed.id);
}
assert.equal(seen.length, 12);
assert.equal(new Set(seen).size, 12);
const all = await stripe.products.list({ limit: 3 }).autoPagingToArray({ limit: 100 });
assert.deepEqual(all.map((item) => item.id), seen);
done.push("auto-pagination");

// 7. An idempotent retry gets the first answer back; other params with the key are refused.
const first = await stripe.products.create({ name: "Retried" }, { idempotencyKey: "web-42-1" });
const again = await stripe.products.create({ name: "Retried" }, { idempotencyKey: "web-42-1" });
assert.equal(again.id, first.id);
assert.equal(again.lastResponse.headers["idempotent-replayed"], "true");
await assert.rejects(
  stripe.products.create({ name: "Other" }, { idempotencyKey: "web-42-1" }),
  (error) => error instanceof Stripe.errors.StripeIdempotencyError,
);
done.push("idempotent retry");

// 8. Error classes the website branches on.
await assert.rejects(stripe.products.retrieve("prod_missing"), (error) => {
  assert.ok(error instanceof Stripe.errors.StripeInvalidRequestError);
  assert.equal(error.type, "StripeInvalidRequestError");
  assert.equal(error.statusCode, 404);
  assert.equal(error.code, "resource_missing");
  return true;
});
await assert.rejects(
  stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{ price: "price_missing", quantity: 1 }],
    success_url: "http://127.0.0.1:3000/ok",
  }),
  (error) => {
    assert.ok(error instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(error.statusCode, 400);
    assert.equal(error.param, "line_items[0][price]");
    return true;
  },
);
await assert.rejects(client("not_a_stripe_key").products.list(), (error) => {
  assert.ok(error instanceof Stripe.errors.StripeAuthenticationError);
  assert.equal(error.statusCode, 401);
  return true;
});
done.push("error classes");

// 9. A webhook verified with constructEvent; a tampered body is refused.
const receiver = await startReceiver();
try {
  const endpoint = await stripe.webhookEndpoints.create({
    url: receiver.url,
    enabled_events: ["product.created"],
  });
  assert.match(endpoint.secret, /^whsec_/);
  const listed = await stripe.products.create({ name: "Webhook lamp" });
  const delivery = await receiver.next(0);
  const event = stripe.webhooks.constructEvent(delivery.body, delivery.signature,
                                               endpoint.secret);
  assert.equal(event.type, "product.created");
  assert.equal(event.data.object.id, listed.id);
  const tampered = Buffer.from(delivery.body.toString().replace("Webhook lamp", "Free lamp"));
  assert.throws(
    () => stripe.webhooks.constructEvent(tampered, delivery.signature, endpoint.secret),
    (error) => error instanceof Stripe.errors.StripeSignatureVerificationError,
  );
  done.push("webhook verified with constructEvent");
} finally {
  receiver.close();
}

console.log(JSON.stringify({ stripe: Stripe.PACKAGE_VERSION, apiVersion: Stripe.API_VERSION,
                             done }));
