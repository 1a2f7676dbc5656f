"""The OS keyring holding the Stripe key and webhook secret, with an in-memory fallback."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from uhadmin.config.secret_key import SecretKey
from uhadmin.errors import ConfigError

# keyring is imported when a KeyStore is made: finding the OS backend costs more than the
# whole start of `uhadmin listings list`, which needs no secret.
if TYPE_CHECKING:
    import keyring.backend

KEYRING_SERVICE = "uhadmin"
STRIPE_KEY_NAME = "stripe_api_key"
WEBHOOK_SECRET_NAME = "webhook_secret"

IN_MEMORY_NOTICE = "no keyring backend: the key is kept in memory for this session only"


def _skip_macos_library_search() -> None:
    """keyring loads its macOS backend on every system, and that backend's `api` module
    looks for the Security framework with ctypes.util.find_library, which on Linux runs
    ldconfig, gcc and ld, three times over (~80 ms of every command that reads the key),
    only to find no macOS. Off macOS the module is marked absent instead: the backend
    then reports itself unavailable, as it does there anyway ("macOS required")."""
    if sys.platform != "darwin":
        sys.modules.setdefault("keyring.backends.macOS.api", None)  # type: ignore[arg-type]


def _skip_unreachable_secret_service() -> None:
    """keyring's Secret Service backend (Linux desktops) imports `secretstorage`, which loads
    `cryptography`'s Rust bindings: 12-25 ms of every command that reads the key (measured
    with the library in the page cache; ~110 ms when it is not). Without a
    D-Bus session bus to reach (no DBUS_SESSION_BUS_ADDRESS, which jeepney requires, and no
    socket where one would be) that backend cannot work: a shell without a desktop session
    (ssh, cron, CI). There the module is marked absent, and the backend says what it says
    without it ("SecretStorage required"): unavailable, as it is anyway."""
    if not sys.platform.startswith("linux") or os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    if os.path.exists(os.path.join(runtime, "bus")):
        return
    sys.modules.setdefault("secretstorage", None)  # type: ignore[arg-type]


class KeyStore:
    """Secrets in the OS keyring (service "uhadmin"); without a usable backend, in memory.

    The in-memory fallback lives as long as this object: the composition root makes one
    KeyStore and hands it to everything that reads or saves the key. Never a file.
    """

    def __init__(self, service: str = KEYRING_SERVICE,
                 backend: keyring.backend.KeyringBackend | None = None):
        _skip_macos_library_search()
        _skip_unreachable_secret_service()
        import keyring

        self.service = service
        self._memory: dict[str, str] = {}
        self._backend = backend if backend is not None else keyring.get_keyring()
        if self._is_unusable(self._backend):
            self._fall_back(IN_MEMORY_NOTICE)
        else:
            self.persistent = True
            self.notice = f"saved in the OS keyring ({type(self._backend).__name__})"

    @staticmethod
    def _is_unusable(backend: keyring.backend.KeyringBackend) -> bool:
        from keyring.backends import chainer, fail, null

        if isinstance(backend, (fail.Keyring, null.Keyring)):
            return True
        # A chainer with nothing to chain silently drops every password it is given.
        return isinstance(backend, chainer.ChainerBackend) and not backend.backends

    def _fall_back(self, notice: str) -> None:
        self.persistent = False
        self.notice = notice

    def get(self, name: str = STRIPE_KEY_NAME) -> SecretKey | None:
        import keyring.errors

        if self.persistent:
            try:
                value = self._backend.get_password(self.service, name)
            except keyring.errors.KeyringError as error:
                self._fall_back(f"{IN_MEMORY_NOTICE} (keyring failed: {type(error).__name__})")
            else:
                return SecretKey(value) if value else None
        value = self._memory.get(name)
        return SecretKey(value) if value else None

    def set(self, value: str, name: str = STRIPE_KEY_NAME) -> None:
        import keyring.errors

        raw = value.reveal() if isinstance(value, SecretKey) else value
        if not isinstance(raw, str) or not raw.strip() or raw != raw.strip():
            raise ConfigError(f"{name}: must be non-empty with no surrounding spaces")
        if self.persistent:
            try:
                self._backend.set_password(self.service, name, raw)
                self._memory.pop(name, None)
                return
            except keyring.errors.KeyringError as error:
                self._fall_back(f"{IN_MEMORY_NOTICE} (keyring failed: {type(error).__name__})")
        self._memory[name] = raw

    def delete(self, name: str = STRIPE_KEY_NAME) -> None:
        import keyring.errors

        self._memory.pop(name, None)
        if self.persistent:
            try:
                self._backend.delete_password(self.service, name)
            except keyring.errors.PasswordDeleteError:
                pass  # nothing stored under that name: already the state asked for
            except keyring.errors.KeyringError as error:
                self._fall_back(f"{IN_MEMORY_NOTICE} (keyring failed: {type(error).__name__})")

    def __repr__(self) -> str:
        return f"KeyStore(service={self.service!r}, persistent={self.persistent})"
