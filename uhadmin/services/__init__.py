"""Plain async Python: the database, listings, Stripe sync, checkout testing."""
