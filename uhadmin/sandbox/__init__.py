"""The offline Stripe: an HTTP server speaking Stripe's API and hosting a checkout page."""
