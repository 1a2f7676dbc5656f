"""Settings loading, key masking, the key store (keyring or memory) and the preferences file."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backend
import keyring.core
import keyring.errors
import pytest
from keyring.backends import chainer, fail

from uhadmin.config import (
    IN_MEMORY_NOTICE,
    KeyStore,
    PreferencesStore,
    SecretKey,
    Settings,
    key_mode,
    load_settings,
    mask_key,
)
from uhadmin.errors import ConfigError

TEST_KEY = "sk_test_51AbCdEfGhIjKlMnOpQrStUvWXYZ"
LIVE_KEY = "sk_live_51AbCdEfGhIjKlMnOpQrStUvLIVE"
WEBHOOK_SECRET = "whsec_0123456789abcdefSECRET"


class DictKeyring(keyring.backend.KeyringBackend):
    """A working keyring backend that keeps passwords in a dict (no OS service needed)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("not found") from None


class LockedKeyring(DictKeyring):
    """A backend that exists but refuses every call, like a locked desktop keyring."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


@pytest.fixture
def global_keyring():
    """Let a test replace the process-wide keyring backend, and put the old one back."""
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keys(global_keyring) -> KeyStore:
    # Re-read PYTHON_KEYRING_BACKEND (the fail backend, set by conftest) in case an earlier
    # test in this process initialised keyring differently.
    keyring.core.init_backend()
    return KeyStore()


@pytest.fixture
def prefs(tmp_path: Path) -> PreferencesStore:
    return PreferencesStore(tmp_path / "config" / "preferences.json")


def load(environ=None, overrides=None, keys=None, preferences=None) -> Settings:
    return load_settings(overrides, environ or {}, keys or KeyStore(backend=DictKeyring()),
                         preferences=preferences or PreferencesStore(Path("/nonexistent/p.json")))


def config_error(**kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        load(**kwargs)
    return str(caught.value)


# --- masking and the secret wrapper -----------------------------------------------------------

def test_mask_key() -> None:
    assert mask_key("sk_test_51AbCdEfGhIjKlWXYZ") == "sk_test_…WXYZ"
    assert mask_key("rk_live_51AbCdEfGhIjKl1234") == "rk_live_…1234"
    assert mask_key("whsec_0123456789abcdefABCD") == "whsec_…ABCD"
    assert mask_key("sk_test_short") == "sk_test_…"  # too short to show any of it
    assert mask_key("") == "…"
    assert mask_key("nonsense-with-no-prefix-1234") == "…1234"


def test_secret_key_shows_only_its_mask() -> None:
    secret = SecretKey(TEST_KEY)
    assert secret.reveal() == TEST_KEY
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret:>30}", f"{secret!s}",
                  repr([secret]), repr({"k": secret})):
        assert TEST_KEY not in shown
        assert "…WXYZ" in shown
    assert secret == SecretKey(TEST_KEY) and secret != SecretKey(LIVE_KEY)
    assert secret != TEST_KEY  # never equal to the raw text, so it is not compared by accident
    with pytest.raises(AttributeError):
        secret._value = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        vars(secret)  # no __dict__ for a debugger or serializer to dump
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ConfigError):
        SecretKey("")


def test_key_mode() -> None:
    assert key_mode("sk_test_abc123") == "test"
    assert key_mode("rk_test_abc123") == "test"
    assert key_mode("sk_live_abc123") == "live"
    assert key_mode("rk_live_abc123") == "live"
    assert key_mode(SecretKey(LIVE_KEY)) == "live"


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("pk_test_51AbCdEfGhIjKlMnOp", "that is a publishable key"),
        ("whsec_51AbCdEfGhIjKlMnOp", "that is a webhook signing secret"),
        ("sk_prod_51AbCdEfGhIjKlMnOp", "must start with sk_test_, sk_live_, rk_test_ or rk_live_"),
        ("sk_test_", "malformed key"),
        ("sk_test_51AbCd EfGhIjKlMnOp", "malformed key"),
        ("", "empty"),
    ],
)
def test_key_mode_refuses_other_keys_naming_the_variable(key: str, rule: str) -> None:
    with pytest.raises(ConfigError) as caught:
        key_mode(key)
    message = str(caught.value)
    assert message.startswith("UHADMIN_STRIPE_API_KEY: ")
    assert rule in message
    if len(key) > 12:
        assert key not in message


# --- the key store -----------------------------------------------------------------------------

def test_key_store_without_backend_keeps_the_key_in_memory(memory_keys: KeyStore,
                                                           tmp_path: Path) -> None:
    assert os.environ["PYTHON_KEYRING_BACKEND"] == "keyring.backends.fail.Keyring"
    assert isinstance(keyring.get_keyring(), fail.Keyring)
    assert memory_keys.persistent is False
    assert memory_keys.notice == IN_MEMORY_NOTICE
    assert memory_keys.get() is None
    memory_keys.set(TEST_KEY)
    assert memory_keys.get() == SecretKey(TEST_KEY)
    memory_keys.set(WEBHOOK_SECRET, "webhook_secret")
    assert memory_keys.get("webhook_secret").reveal() == WEBHOOK_SECRET
    memory_keys.delete()
    assert memory_keys.get() is None
    memory_keys.delete()  # deleting nothing is fine
    assert KeyStore().get("webhook_secret") is None  # memory is per store, not a file
    assert TEST_KEY not in repr(memory_keys)


def test_key_store_uses_a_working_keyring_backend(global_keyring) -> None:
    backend = DictKeyring()
    keyring.set_keyring(backend)
    keys = KeyStore()
    assert keys.persistent is True
    assert keys.notice == "saved in the OS keyring (DictKeyring)"
    keys.set(TEST_KEY)
    assert backend.passwords == {("uhadmin", "stripe_api_key"): TEST_KEY}
    assert KeyStore().get() == SecretKey(TEST_KEY)  # a new store (next start) sees it
    keys.delete()
    assert backend.passwords == {}
    assert keys.get() is None
    keys.delete()  # PasswordDeleteError for a missing entry is not an error here


def test_key_store_falls_back_when_the_keyring_fails() -> None:
    keys = KeyStore(backend=LockedKeyring())
    assert keys.persistent is True
    keys.set(TEST_KEY)
    assert keys.persistent is False
    assert keys.notice == f"{IN_MEMORY_NOTICE} (keyring failed: KeyringLocked)"
    assert keys.get() == SecretKey(TEST_KEY)


def test_key_store_treats_an_empty_chainer_as_no_backend() -> None:
    class EmptyChainer(chainer.ChainerBackend):
        backends = []  # what keyring ends up with on a headless box with nothing installed

    assert KeyStore(backend=EmptyChainer()).persistent is False
    assert KeyStore(backend=EmptyChainer()).notice == IN_MEMORY_NOTICE


def test_key_store_refuses_blank_values(memory_keys: KeyStore) -> None:
    for value in ("", "   ", f" {TEST_KEY}"):
        with pytest.raises(ConfigError, match="stripe_api_key: must be non-empty"):
            memory_keys.set(value)


# --- load_settings: defaults and precedence ---------------------------------------------------

def test_defaults_mean_sandbox_with_a_sqlite_file_in_the_user_data_dir(memory_keys: KeyStore,
                                                                       tmp_path: Path) -> None:
    settings = load_settings(environ={}, keys=memory_keys)
    data_home = Path(os.environ["XDG_DATA_HOME"])
    assert settings.data_dir == data_home / "uhadmin"
    assert settings.data_dir.is_dir()  # SQLite would not create the folder itself
    assert settings.database_url == f"sqlite:///{data_home / 'uhadmin' / 'uhadmin.sqlite3'}"
    assert settings.stripe_key is None and settings.mode == "sandbox"
    assert settings.stripe_api_base is None
    assert settings.currency == "usd"
    assert settings.success_url is None and settings.cancel_url is None
    assert settings.webhook_secret is None
    assert settings.allow_live_mode is False
    assert settings.receiver_port == 0
    assert settings.actor  # the OS user name
    assert settings.key_notice == IN_MEMORY_NOTICE
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.currency = "eur"  # type: ignore[misc]


def test_environment_is_read_when_not_given(monkeypatch: pytest.MonkeyPatch,
                                            memory_keys: KeyStore) -> None:
    monkeypatch.setenv("UHADMIN_CURRENCY", "gbp")
    monkeypatch.setenv("UHADMIN_ACTOR", "ana")
    settings = load_settings(keys=memory_keys)
    assert (settings.currency, settings.actor) == ("gbp", "ana")


def test_every_variable_is_read() -> None:
    environ = {
        "UHADMIN_DATABASE_URL": "postgresql+psycopg://uhadmin:pw@127.0.0.1:5432/uhadmin",
        "UHADMIN_STRIPE_API_KEY": TEST_KEY,
        "UHADMIN_STRIPE_API_BASE": "http://127.0.0.1:12111/",
        "UHADMIN_CURRENCY": "EUR",
        "UHADMIN_SUCCESS_URL": "https://shop.example/ok?session={CHECKOUT_SESSION_ID}",
        "UHADMIN_CANCEL_URL": "https://shop.example/back",
        "UHADMIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "UHADMIN_ALLOW_LIVE_MODE": "yes",
        "UHADMIN_RECEIVER_PORT": "8765",
        "UHADMIN_ACTOR": "reviewer-1",
    }
    settings = load(environ=environ)
    assert settings.database_url == environ["UHADMIN_DATABASE_URL"]
    assert settings.stripe_key == SecretKey(TEST_KEY) and settings.mode == "test"
    assert settings.stripe_api_base == "http://127.0.0.1:12111"  # trailing slash dropped
    assert settings.currency == "eur"
    assert settings.success_url == environ["UHADMIN_SUCCESS_URL"]
    assert settings.cancel_url == "https://shop.example/back"
    assert settings.webhook_secret == SecretKey(WEBHOOK_SECRET)
    assert settings.allow_live_mode is True
    assert settings.receiver_port == 8765
    assert settings.actor == "reviewer-1"


def test_precedence_overrides_then_environment_then_preferences(prefs: PreferencesStore,
                                                                 tmp_path: Path) -> None:
    prefs.save({"currency": "jpy", "receiver_port": 1111, "cancel_url": "http://a.example/c"})
    assert load(preferences=prefs).currency == "jpy"
    from_env = load(environ={"UHADMIN_CURRENCY": "gbp"}, preferences=prefs)
    assert (from_env.currency, from_env.receiver_port) == ("gbp", 1111)
    flagged = load(environ={"UHADMIN_CURRENCY": "gbp"}, preferences=prefs,
                   overrides={"currency": "eur", "receiver_port": None,
                              "database_url": "sqlite:////tmp/x.sqlite3"})
    assert flagged.currency == "eur"
    assert flagged.receiver_port == 1111  # a flag left at None does not override
    assert flagged.database_url == "sqlite:////tmp/x.sqlite3"
    assert flagged.cancel_url == "http://a.example/c"
    moved = load(overrides={"data_dir": str(tmp_path / "elsewhere"), "actor": "cli-user"})
    assert moved.data_dir == tmp_path / "elsewhere"
    assert moved.database_url == f"sqlite:///{tmp_path / 'elsewhere' / 'uhadmin.sqlite3'}"
    assert moved.actor == "cli-user"
    assert load(environ={"UHADMIN_CURRENCY": "  "}, preferences=prefs).currency == "jpy"


def test_key_precedence_override_then_environment_then_keyring() -> None:
    backend = DictKeyring()
    keys = KeyStore(backend=backend)
    assert load(keys=keys).mode == "sandbox"
    keys.set("rk_test_fromKeyring0123456789")
    assert load(keys=keys).stripe_key.reveal() == "rk_test_fromKeyring0123456789"
    from_env = load(keys=keys, environ={"UHADMIN_STRIPE_API_KEY": TEST_KEY})
    assert from_env.stripe_key == SecretKey(TEST_KEY)
    overridden = load(keys=keys, environ={"UHADMIN_STRIPE_API_KEY": TEST_KEY},
                      overrides={"stripe_key": SecretKey("sk_test_fromFlag0123456789")})
    assert overridden.stripe_key.reveal() == "sk_test_fromFlag0123456789"
    keys.set(WEBHOOK_SECRET, "webhook_secret")
    assert load(keys=keys).webhook_secret == SecretKey(WEBHOOK_SECRET)


def test_live_key_is_accepted_and_live_mode_permission_is_kept_apart() -> None:
    # Syncing a live catalog with a live key is the product's job; only the checkout test
    # lab needs allow_live_mode, so loading settings must not refuse the key.
    settings = load(environ={"UHADMIN_STRIPE_API_KEY": LIVE_KEY})
    assert settings.mode == "live"
    assert settings.allow_live_mode is False
    assert LIVE_KEY not in repr(settings)
    allowed = load(environ={"UHADMIN_STRIPE_API_KEY": LIVE_KEY, "UHADMIN_ALLOW_LIVE_MODE": "1"})
    assert allowed.mode == "live"
    assert allowed.allow_live_mode is True


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("UHADMIN_DATABASE_URL", "mysql://u:hunter2@h/d", "expected sqlite:///"),
        ("UHADMIN_DATABASE_URL", "uhadmin.sqlite3", "expected sqlite:///"),
        ("UHADMIN_DATABASE_URL", "postgresql+psycopg:///db", "a PostgreSQL URL needs a host"),
        ("UHADMIN_STRIPE_API_KEY", "pk_test_51AbCdEfGhIjKlMnOp", "publishable key"),
        ("UHADMIN_STRIPE_API_KEY", "hunter2hunter2hunter2", "must start with sk_test_"),
        ("UHADMIN_STRIPE_API_BASE", "127.0.0.1:12111", "absolute http:// or https:// URL"),
        ("UHADMIN_STRIPE_API_BASE", "ftp://127.0.0.1", "absolute http:// or https:// URL"),
        ("UHADMIN_STRIPE_API_BASE", "http://127.0.0.1:port", "not a valid URL"),
        ("UHADMIN_CURRENCY", "dollars", "is not a currency Stripe accepts"),
        ("UHADMIN_SUCCESS_URL", "https://shop.example/ok", "must contain {CHECKOUT_SESSION_ID}"),
        ("UHADMIN_CANCEL_URL", "back", "absolute http:// or https:// URL"),
        ("UHADMIN_WEBHOOK_SECRET", "sk_test_51AbCdEfGhIjKlMnOp", "starting with whsec_"),
        ("UHADMIN_ALLOW_LIVE_MODE", "maybe", "expected 1/true/yes or 0/false/no"),
        ("UHADMIN_RECEIVER_PORT", "70000", "expected a port number 0-65535"),
        ("UHADMIN_RECEIVER_PORT", "-1", "expected a port number 0-65535"),
        ("UHADMIN_RECEIVER_PORT", "８０", "expected a port number 0-65535"),
        ("UHADMIN_ACTOR", "x" * 201, "at most 200 characters"),
        ("UHADMIN_STRIPE_RATE_LIMIT", "fast", "expected requests per second"),
        ("UHADMIN_STRIPE_RATE_LIMIT", "0", "expected more than 0"),
        ("UHADMIN_STRIPE_RATE_LIMIT", "-5", "expected more than 0"),
        ("UHADMIN_STRIPE_RATE_LIMIT", "nan", "expected more than 0"),
        ("UHADMIN_STRIPE_RATE_LIMIT", "1e9", "at most 10000"),
    ],
)
def test_invalid_value_names_its_variable(variable: str, value: str, rule: str) -> None:
    message = config_error(environ={variable: value})
    assert message.startswith(f"{variable}: ")
    assert rule in message
    assert "hunter2" not in message  # passwords and keys are never echoed


def test_all_invalid_values_are_reported_together() -> None:
    message = config_error(environ={"UHADMIN_CURRENCY": "xx", "UHADMIN_RECEIVER_PORT": "x"},
                           overrides={"cancel_url": "nope"})
    assert "--cancel-url (UHADMIN_CANCEL_URL): must be an absolute" in message
    assert "UHADMIN_CURRENCY: 'xx'" in message
    assert "UHADMIN_RECEIVER_PORT: expected a port number" in message
    assert len(message.split("; ")) == 3  # one part per problem, as the settings dialog splits


def test_bad_override_and_bad_keyring_entry_name_their_source() -> None:
    assert config_error(overrides={"currency": "xx"}).startswith("--currency (UHADMIN_CURRENCY): ")
    assert config_error(overrides={"colour": "red", "key_notice": "x"}) == (
        "unknown setting override(s): colour, key_notice")
    keys = KeyStore(backend=DictKeyring())
    keys.set("not-a-key-at-all-1234")
    message = config_error(keys=keys)
    assert message.startswith("stripe_api_key in the OS keyring (service 'uhadmin'): ")
    assert "not-a-key-at-all-1234" not in message


def test_bad_saved_preference_names_the_file_and_variable(prefs: PreferencesStore) -> None:
    prefs.path.parent.mkdir(parents=True)
    prefs.path.write_text('{"currency": "xx"}', encoding="utf-8")
    message = config_error(preferences=prefs)
    assert message.startswith(f"currency in {prefs.path} (or set UHADMIN_CURRENCY): ")


def test_settings_never_show_secrets() -> None:
    settings = load(environ={
        "UHADMIN_STRIPE_API_KEY": TEST_KEY,
        "UHADMIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "UHADMIN_DATABASE_URL": "postgresql+psycopg://uhadmin:hunter2@127.0.0.1/uhadmin",
    })
    for shown in (repr(settings), str(settings), f"{settings}"):
        assert TEST_KEY not in shown
        assert WEBHOOK_SECRET not in shown
        assert "hunter2" not in shown
        assert "sk_test_…WXYZ" in shown
        assert "postgresql+psycopg://uhadmin:***@127.0.0.1/uhadmin" in shown
    assert settings.database_url.endswith("uhadmin:hunter2@127.0.0.1/uhadmin")  # still usable


def test_the_key_is_never_written_to_any_file(memory_keys: KeyStore, tmp_path: Path) -> None:
    memory_keys.set(TEST_KEY)
    preferences = PreferencesStore()
    preferences.save({"currency": "eur", "receiver_port": 8080})
    settings = load_settings(environ={"UHADMIN_WEBHOOK_SECRET": WEBHOOK_SECRET},
                             keys=memory_keys, preferences=preferences)
    assert settings.mode == "test"
    roots = [Path(os.environ[name]) for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")]
    written = [path for root in roots for path in root.rglob("*") if path.is_file()]
    assert preferences.path in written
    for path in written:
        content = path.read_bytes()
        assert TEST_KEY.encode() not in content and WEBHOOK_SECRET.encode() not in content


# --- the preferences file ----------------------------------------------------------------------

def test_preferences_live_in_the_user_config_dir() -> None:
    assert PreferencesStore().path == (Path(os.environ["XDG_CONFIG_HOME"]) / "uhadmin"
                                       / "preferences.json")


def test_preferences_round_trip(prefs: PreferencesStore) -> None:
    assert prefs.load() == {}
    saved = {
        "database_url": "sqlite:////tmp/catalog.sqlite3",
        "stripe_api_base": "http://127.0.0.1:12111",
        "currency": "EUR",
        "success_url": "http://127.0.0.1:8000/ok/{CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:8000/back",
        "allow_live_mode": False,
        "receiver_port": "8080",
        "cancel_url_unused": None,  # None means "back to the default": dropped, not refused
    }
    prefs.save({key: value for key, value in saved.items() if key != "cancel_url_unused"})
    loaded = prefs.load()
    assert loaded["currency"] == "eur" and loaded["receiver_port"] == 8080  # stored normalised
    assert loaded["success_url"] == saved["success_url"]
    prefs.save({"currency": "gbp", "receiver_port": None})
    assert prefs.load() == {"currency": "gbp"}  # save replaces; None drops
    assert list(prefs.path.parent.iterdir()) == [prefs.path]  # no temporary file left over


@pytest.mark.parametrize(
    "preferences",
    [
        {"stripe_api_base": "http://127.0.0.1/?key=sk_test_51AbCdEf"},
        {"database_url": "sqlite:////tmp/rk_live_abc.sqlite3"},
        {"cancel_url": "http://a.example/whsec_abc"},
        {"stripe_api_key": "sk_test_51AbCdEfGhIjKlMnOp"},
        {"webhook_secret": "whsec_abc"},
        {"sk_test_51AbCdEfGhIjKlMnOp": "x"},
    ],
)
def test_preferences_refuse_anything_like_a_key(prefs: PreferencesStore, preferences) -> None:
    with pytest.raises(ConfigError, match="keys go to the OS keyring, never into the preferences"):
        prefs.save(preferences)
    assert not prefs.path.exists()


def test_preferences_refuse_unknown_and_invalid_values(prefs: PreferencesStore) -> None:
    with pytest.raises(ConfigError) as caught:
        prefs.save({"colour": "red", "currency": "xx", "receiver_port": 99999})
    message = str(caught.value)
    assert "colour: not a preference that can be saved" in message
    assert "currency (UHADMIN_CURRENCY): 'xx' is not a currency" in message
    assert "receiver_port (UHADMIN_RECEIVER_PORT): expected a port number" in message
    assert not prefs.path.exists()


def test_preferences_file_problems_are_config_errors(prefs: PreferencesStore) -> None:
    prefs.path.parent.mkdir(parents=True)
    prefs.path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid JSON .*fix or delete the file"):
        prefs.load()
    prefs.path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        prefs.load()
    prefs.path.write_text('{"currency": "eur", "from_a_newer_version": 1}', encoding="utf-8")
    assert prefs.load() == {"currency": "eur"}


def test_stripe_rate_limit_is_read_from_its_variable_and_flag() -> None:
    assert load(environ={}).stripe_rate_limit is None
    assert load(environ={"UHADMIN_STRIPE_RATE_LIMIT": " 25 "}).stripe_rate_limit == 25.0
    assert load(environ={}, overrides={"stripe_rate_limit": "12.5"}).stripe_rate_limit == 12.5


class CountingKeyring(DictKeyring):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        return super().get_password(service, username)


def test_without_a_key_store_the_keyring_is_opened_only_when_a_secret_is_read(
        global_keyring) -> None:
    backend = CountingKeyring()
    backend.set_password("uhadmin", "stripe_api_key", TEST_KEY)
    backend.set_password("uhadmin", "webhook_secret", "not-a-whsec")
    keyring.set_keyring(backend)
    settings = load_settings({}, {}, preferences=PreferencesStore(Path("/nonexistent/p.json")))
    assert backend.reads == 0 and settings.currency == "usd"  # `listings list` stops here
    assert settings.mode == "test" and settings.stripe_key.reveal() == TEST_KEY
    assert backend.reads == 1
    with pytest.raises(ConfigError, match="webhook_secret in the OS keyring.*whsec_"):
        _ = settings.webhook_secret
    assert settings.key_notice.startswith("saved in the OS keyring")
    assert backend.reads == 2


KEYRING_PROBE = """
import json, sys
if sys.argv[1] == "keystore":
    from uhadmin.config import KeyStore
    store = KeyStore()
    backend, persistent = type(store._backend).__name__, store.persistent
else:  # keyring on its own, as it picks without uhadmin
    import keyring
    backend, persistent = type(keyring.get_keyring()).__name__, None
print(json.dumps({"backend": backend, "persistent": persistent,
                  "secretstorage": sys.modules.get("secretstorage", 0) is not None
                  and "secretstorage" in sys.modules}))
"""


def keyring_probe(what: str, env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-c", KEYRING_PROBE, what], env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Secret Service is Linux's")
def test_key_store_without_a_dbus_session_skips_secretstorage_and_picks_the_same(
        tmp_path: Path) -> None:
    # No session bus to reach (ssh, cron, CI): secretstorage (and cryptography's Rust
    # bindings, 12-25 ms warm) is not loaded, and the backend is the one keyring picks with it.
    env = {key: value for key, value in os.environ.items()
           if key not in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND")}
    env["XDG_RUNTIME_DIR"] = str(tmp_path)  # no `bus` socket there
    ours, keyrings = keyring_probe("keystore", env), keyring_probe("keyring", env)
    assert ours["secretstorage"] is False and keyrings["secretstorage"] is True
    assert ours["backend"] == keyrings["backend"]
    # A session bus address: the Secret Service backend is tried as before.
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path / 'bus'}"
    tried = keyring_probe("keystore", env)
    assert tried["secretstorage"] is True and tried["backend"] == ours["backend"]
