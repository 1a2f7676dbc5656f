// app/api/checkout/route.ts — the buy button POSTs {"listingId": 42} here and sends the buyer
// to the URL it answers: Stripe's hosted Checkout page for that listing's price.
import Stripe from "stripe";

// Your own query, e.g. with `pg`:
//   SELECT id, title, stripe_price_id FROM listings WHERE id = $1 AND status = 'approved'
// uhadmin writes stripe_price_id when it syncs an approved listing to Stripe.
import { getApprovedListing } from "./listings";

// STRIPE_API_BASE is set only to use uhadmin's offline sandbox (e.g. http://127.0.0.1:12111);
// leave it unset for Stripe itself.
function stripeConfig(): Stripe.StripeConfig {
  const base = process.env.STRIPE_API_BASE;
  if (!base) return {};
  const url = new URL(base);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return { protocol, host: url.hostname, port: Number(url.port || (protocol === "http" ? 80 : 443)) };
}

const stripe = new Stripe(process.env.STRIPE_SECRET_KEY as string, stripeConfig());

export async function POST(request: Request): Promise<Response> {
  const body = await request.json().catch(() => ({}));
  const listingId = Number(body?.listingId);
  if (!Number.isInteger(listingId) || listingId < 1) {
    return Response.json({ error: "listingId: a listing id (a whole number)" }, { status: 400 });
  }
  const listing = await getApprovedListing(listingId);
  if (!listing?.stripe_price_id) {
    return Response.json({ error: "this listing is not for sale (yet)" }, { status: 404 });
  }
  const origin = process.env.SITE_URL ?? new URL(request.url).origin;
  const session = await stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{ price: listing.stripe_price_id, quantity: 1 }],
    success_url: `${origin}/checkout/success?session_id={CHECKOUT_SESSION_ID}`,
    cancel_url: `${origin}/listings/${listing.id}`,
    metadata: { listing_id: String(listing.id) },
  });
  return Response.json({ url: session.url });
}
