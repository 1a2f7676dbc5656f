"""Offline catalog review: a local replica of the shared catalog and the operations made on it."""
