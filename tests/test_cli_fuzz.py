"""Every command with hostile arguments: never a traceback, one line (or one JSON object) on
error, a documented exit code, and a database left as it was by a refused command."""

from __future__ import annotations

import importlib
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from uhadmin.cli import main
from uhadmin.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, LAZY_COMMANDS

pytestmark = pytest.mark.slow

HOSTILE = [
    "",
    " ",
    "-1",
    "0",
    "2147483648",
    "9223372036854775808",
    "1" * 40,
    "1e309",
    "nan",
    "abc",
    "\x00",
    "a\nb",
    "\udcff",
    "\U0001f4a5",
    "x" * 5000,
    "--json",
    "../../../etc/passwd",
    "/proc/nope/x",
    "'; DROP TABLE listings;--",
]

# Enough valid arguments for each command to get past its required ones, so each hostile
# value is judged on its own. Values a command would act on for real (a folder to render
# screenshots into, a port to serve on) are never among HOSTILE for those commands.
BASE_ARGUMENTS: dict[str, list[str]] = {
    "listings add": ["--title", "Lamp", "--price", "12.50"],
    "listings show": ["1"],
    "listings update": ["1", "--title", "Lamp"],
    "listings status": ["1", "pending_review"],
    "listings delete": ["1"],
    "checkout create": ["--listing", "1", "--no-open"],
    "checkout status": ["cs_test_missing"],
    "checkout expire": ["cs_test_missing"],
    "adopt": ["prod_missing"],
    "screenshot": ["/proc/nope"],
}
# Commands that would block or render for a long time when a hostile value happens to be
# valid: only values their parameter type refuses are sent to them.
TYPE_REFUSED_ONLY = {"sandbox serve", "screenshot", "checkout create", "checkout serve",
                     "docs how-it-works"}
FLAGS_THAT_WAIT = {"--wait", "--follow"}


def leaf_commands() -> dict[str, click.Command]:
    """Every runnable command, by its path under `uhadmin`, with every module loaded."""
    for module in {module for module, _help in LAZY_COMMANDS.values()}:
        importlib.import_module(module)
    found: dict[str, click.Command] = {}

    def walk(prefix: str, command: click.Command) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found[prefix] = command

    walk("", main)
    return found


def refused_by_type(param: click.Parameter, value: str) -> bool:
    try:
        param.type.convert(value, param, None)
    except (click.BadParameter, ValueError):  # click.Path: ValueError for a NUL
        return True
    return False


def cases() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for path, command in sorted(leaf_commands().items()):
        base = BASE_ARGUMENTS.get(path, [])
        for param in command.params:
            if getattr(param, "is_flag", False) or param.name == "help":
                continue
            for value in HOSTILE:
                if path in TYPE_REFUSED_ONLY and not refused_by_type(param, value):
                    continue
                out.append((path, with_value(command, base, param, value)))
        out.append((path, [*base, "--no-such-option"]))
        out.append((path, [*base, "\udcff"]))
    return out


def with_value(
    command: click.Command, base: list[str], param: click.Parameter, value: str
) -> list[str]:
    """`base` with `param` given `value` (replacing the base's own value, if any)."""
    replaced = list(base)
    if isinstance(param, click.Argument):
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        positionals = [
            i
            for i, a in enumerate(base)
            if not a.startswith("-") and (i == 0 or not base[i - 1].startswith("-"))
        ]
        index = arguments.index(param)
        if index < len(positionals):
            replaced[positionals[index]] = value
            return replaced
        return [*base, value]
    option = param.opts[0]
    if option in base:
        replaced[base.index(option) + 1] = value
        return replaced
    return [*base, option, value]


def dump(path: Path) -> list[str]:
    """The catalog's content. The Stripe log is left out: recording a refused call is its job
    (it is a record of what was sent, not catalog data)."""
    # closing(): sqlite3's own context manager ends the transaction but keeps it open.
    with closing(sqlite3.connect(path)) as connection:
        return [line for line in connection.iterdump()
                if not line.startswith('INSERT INTO "stripe_log"')]


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stripe_sandbox) -> Path:
    """A catalog with a draft (id 1) and an approved listing, used by every invocation; Stripe
    is the shared sandbox (no in-process one per command)."""
    path = tmp_path / "catalog.sqlite3"
    monkeypatch.setenv("UHADMIN_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("UHADMIN_STRIPE_API_BASE", stripe_sandbox.url)
    monkeypatch.chdir(tmp_path)  # a relative path in a hostile value lands here
    runner = CliRunner()
    for args in (
        ["db", "upgrade"],
        ["listings", "add", "--title", "Desk", "--price", "40"],
        ["listings", "add", "--title", "Bike", "--price", "90", "--status", "approved"],
    ):
        assert runner.invoke(main, args).exit_code == 0
    return path


def check(result, args: list[str], before: list[str], catalog: Path, *, as_json: bool) -> list[str]:
    """The assertions of one invocation; returns the database as it is now."""
    shown = f"uhadmin {' '.join(map(repr, args))}"
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{shown}: {result.exception!r}"
    )
    assert "Traceback" not in output, f"{shown}:\n{output}"
    assert result.exit_code in (EXIT_OK, EXIT_ERROR, EXIT_USAGE), f"{shown}: {output}"
    after = dump(catalog)
    if result.exit_code != EXIT_OK:
        lines = result.stderr.splitlines()
        assert len(lines) == 1, f"{shown}: {result.stderr!r}"
        if as_json:
            assert lines[0].startswith("{") and "error" in json.loads(lines[0]), (
                f"{shown}: {lines[0]}"
            )
        assert after == before, f"{shown} failed but changed the database"
    return after


def test_every_command_survives_hostile_arguments(catalog: Path):
    runner = CliRunner()
    before = dump(catalog)
    checked = 0
    for path, args in cases():
        for json_flag in ([], ["--json"]):
            full = [*path.split(), *args, *json_flag]
            if FLAGS_THAT_WAIT & set(full):
                continue
            result = runner.invoke(main, full)
            before = check(result, full, before, catalog, as_json=bool(json_flag))
            checked += 1
    assert checked > 500  # every command, every value-taking parameter


def test_usage_errors_are_one_json_object_with_json(catalog: Path):
    result = CliRunner().invoke(main, ["--json", "listings", "show", "abc"])
    assert result.exit_code == EXIT_USAGE
    error = json.loads(result.stderr)
    assert error["error"] == "UsageError" and "LISTING_ID" in error["message"]


def test_a_mistyped_catalog_path_is_refused_and_nothing_is_created(tmp_path: Path):
    typo = tmp_path / "no-such-folder" / "catalog.sqlite3"
    result = CliRunner().invoke(main, ["--database-url", f"sqlite:///{typo}", "listings", "list"])
    assert result.exit_code == EXIT_ERROR
    assert str(typo) in result.stderr and "does not exist" in result.stderr
    assert not typo.parent.exists()
    created = CliRunner().invoke(
        main, ["--create", "--database-url", f"sqlite:///{typo}", "listings", "list", "--json"]
    )
    assert created.exit_code == EXIT_OK and json.loads(created.stdout)["total"] == 0


def test_currency_empty_is_refused_not_usd(catalog: Path):
    before = dump(catalog)
    result = CliRunner().invoke(
        main, ["listings", "add", "--title", "Lamp", "--price", "1", "--currency", ""]
    )
    assert result.exit_code == EXIT_USAGE and "--currency" in result.stderr
    assert dump(catalog) == before


def test_every_command_module_is_in_the_lazy_table_with_its_own_help():
    """`uhadmin --help` lists commands from LAZY_COMMANDS without importing them: the table
    must name every command and say what its own help says."""
    importlib.import_module("uhadmin.cli")
    for module in {module for module, _help in LAZY_COMMANDS.values()}:
        importlib.import_module(module)
    assert set(main.commands) == set(LAZY_COMMANDS)
    for name, command in main.commands.items():
        assert LAZY_COMMANDS[name][1] == command.get_short_help_str(limit=200), name


def uhadmin(*args: str | bytes, database: Path | None = None) -> subprocess.CompletedProcess:
    """The real executable, as a shell runs it (arguments may be raw bytes)."""
    env_args = ["--database-url", f"sqlite:///{database}"] if database else []
    return subprocess.run(
        [sys.executable, "-m", "uhadmin.cli", *env_args, *args], capture_output=True, timeout=120
    )


@pytest.mark.parametrize(
    "args, code, needle",
    [
        ((b"listings", b"show", b"\xff\xfe"), EXIT_USAGE, b"not valid UTF-8"),
        (("listings", "show", "99999999999999999999"), EXIT_USAGE, b"LISTING_ID"),
        (("listings", "delete", "2147483648"), EXIT_USAGE, b"LISTING_ID"),
        (("--json", "listings", "list", "--limit", "0"), EXIT_USAGE, b'"error": "UsageError"'),
        (("listings", "list"), EXIT_ERROR, b"is not a SQLite database"),
        (("screenshot", "/proc/nope"), EXIT_ERROR, b"/proc/nope"),
    ],
)
def test_real_processes_print_one_line_and_a_documented_code(
    catalog: Path, tmp_path: Path, args, code, needle
):
    database = catalog
    if needle == b"is not a SQLite database":
        database = tmp_path / "notes.txt"
        database.write_text("these are not the rows you are looking for\n")
    before = dump(catalog)
    result = uhadmin(*args, database=database)
    assert result.returncode == code, result.stderr
    assert b"Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.splitlines()) == 1 and needle in result.stderr
    assert dump(catalog) == before
