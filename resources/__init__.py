"""Templates, styles, icons and test-card data that ship inside the uhadmin package."""
