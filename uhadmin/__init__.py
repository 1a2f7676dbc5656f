"""uhadmin: the desktop admin of the UH Marketplace, keeping listings in step with Stripe."""

__version__ = "0.1.0"
