"""The root click group, global options, and the shared way commands print results and errors."""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from uhadmin.errors import ConfigError, UhadminError

if TYPE_CHECKING:
    from uhadmin.bootstrap import Services
    from uhadmin.config import Settings

T = TypeVar("T")

# The interpreter's teardown runs the cycle collector over every object the imports made
# (SQLAlchemy, the Stripe SDK): 0.2-0.5 s of a command's exit, measured. Nothing then needs
# collecting, so everything is frozen first. atexit runs only when the process really ends
# (never between the in-process CliRunner calls of the tests).
atexit.register(gc.freeze)

# Exit codes, as the README documents them.
EXIT_OK = 0
EXIT_ERROR = 1  # an expected failure, reported in one line (or one JSON object)
EXIT_USAGE = 2  # a command, option or value the command line does not accept
EXIT_INTERNAL = 70  # a bug (sysexits' EX_SOFTWARE): one line, the traceback only on request
EXIT_INTERRUPTED = 130  # Ctrl+C

# Shows the traceback of an internal error (a bug report) instead of hiding it.
TRACEBACK_VARIABLE = "UHADMIN_TRACEBACK"

# Row ids are PostgreSQL `integer` columns: larger numbers cannot name a row on either backend.
MAX_ID = 2_147_483_647


class WholeNumber(click.IntRange):
    """A bounded whole number ("'abc' is not a valid integer", not "... integer range")."""

    name = "integer"


ROW_ID = WholeNumber(1, MAX_ID)
COUNT = WholeNumber(0, MAX_ID)

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Machine-readable output (JSON), errors included.")


class Currency(click.ParamType):
    """An ISO currency code Stripe accepts, lower-cased; anything else (even '') is refused."""

    name = "currency"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from uhadmin.money import is_known_currency

        code = str(value).strip().lower()
        if not is_known_currency(code):
            self.fail(f"{value!r} is not a currency Stripe accepts (use a code like usd)",
                      param, ctx)
        return code


CURRENCY = Currency()


# The command families and the module each lives in, with the one-line help `uhadmin --help`
# shows: a command's module (and what it imports: SQLAlchemy, the Stripe SDK, Qt) loads
# only when that command runs or its own help is asked for.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "adopt": ("uhadmin.cli.sync_commands",
              "Create listings from products made elsewhere (e.g. the Stripe Dashboard)."),
    "checkout": ("uhadmin.cli.checkout_commands",
                 "Checkout test lab: Stripe Checkout Sessions for listings, and what became of "
                 "them."),
    "db": ("uhadmin.cli.db_commands", "Database maintenance."),
    "docs": ("uhadmin.cli.docs_commands", "Documents regenerated from real runs."),
    "listings": ("uhadmin.cli.listing_commands", "Create, find, edit and review listings."),
    "log": ("uhadmin.cli.log_commands",
            "Every Stripe request uhadmin sent and every webhook it received, newest first."),
    "offline": ("uhadmin.cli.offline_commands",
                "The local copy of the catalog: review without it, merge back when it returns."),
    "reconcile": ("uhadmin.cli.sync_commands",
                  "Compare the database with Stripe; nothing changes without --fix or "
                  "--fix-all."),
    "product": ("uhadmin.cli.repair_commands",
                "A listing's Stripe product: re-create it, link another, or unlink it."),
    "sandbox": ("uhadmin.cli.sandbox_commands", "The offline Stripe sandbox."),
    "screenshot": ("uhadmin.cli.screenshot_commands",
                   "Render each main-window tab and each dialog, offscreen, with a demo "
                   "catalog, to PNGs."),
    "stripe-account": ("uhadmin.cli.account_commands",
                       "Show the catalog's Stripe account and the key's; exit 4 when they "
                       "differ."),
    "sync": ("uhadmin.cli.sync_commands", "Push every pending listing change to Stripe."),
}


class UhadminGroup(click.Group):
    """The root group: commands imported on first use, and a `main` that never shows a
    traceback: every outcome is output plus one of the exit codes above."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            # A command module's imports (SQLAlchemy, the services) make objects that live
            # as long as the process: collecting cycles among them while they load only
            # costs time (~5 % of a start), so the collector waits, and then skips them.
            collecting = gc.isenabled()
            gc.disable()
            try:
                importlib.import_module(LAZY_COMMANDS[cmd_name][0])  # registers itself on us
            finally:
                if collecting:
                    gc.freeze()
                    gc.enable()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing in `uhadmin --help` comes from the table: no command module is loaded.
        rows = [(name, LAZY_COMMANDS[name][1] if name in LAZY_COMMANDS
                 else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in arguments[:_end_of_options(arguments)]
        try:
            _refuse_undecodable(arguments)
            result = super().main(arguments, prog_name or "uhadmin", complete_var,
                                  standalone_mode=False, **extra)
            code = result if isinstance(result, int) else EXIT_OK
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "uhadmin"
            report_error("UsageError", f"{exc.format_message()} (see {where} --help)",
                         as_json=as_json)
            code = EXIT_USAGE
        except click.ClickException as exc:
            report_error(type(exc).__name__, exc.format_message(), as_json=as_json)
            code = exc.exit_code
        except UhadminError as exc:
            report_uhadmin_error(exc, as_json=as_json)
            code = getattr(exc, "exit_code", EXIT_ERROR)
        except (click.Abort, KeyboardInterrupt):
            report_error("Interrupted", "interrupted", as_json=as_json)
            code = EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader went away (`uhadmin listings list | head -1`): nothing left to say.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stops the flush at exit failing
            code = EXIT_ERROR
        except OSError as exc:  # a file or folder the command could not use
            where = f"{exc.filename}: " if exc.filename else ""
            report_error("OSError", f"{where}{exc.strerror or exc}", as_json=as_json)
            code = EXIT_ERROR
        except Exception as exc:  # the last resort: a bug, still one line and a known code
            if os.environ.get(TRACEBACK_VARIABLE):
                traceback.print_exc()
            report_error("InternalError",
                         f"internal error: {type(exc).__name__}: {exc} (a bug: please report "
                         f"it; {TRACEBACK_VARIABLE}=1 shows the traceback)", as_json=as_json)
            code = EXIT_INTERNAL
        if standalone_mode:
            sys.exit(code)
        return code


def _end_of_options(arguments: list[str]) -> int:
    return arguments.index("--") if "--" in arguments else len(arguments)


def _refuse_undecodable(arguments: list[str]) -> None:
    """Arguments that were not valid UTF-8 reach Python as lone surrogates, which no
    database, file or terminal accepts, and a NUL (possible only in-process) ends a C
    string early: refuse them here, naming the argument."""
    for position, argument in enumerate(arguments, start=1):
        shown = _one_line(argument[:60]) + ("…" if len(argument) > 60 else "")
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            raise click.UsageError(f"argument {position} ({shown}) is not valid UTF-8 "
                                   "text") from None
        if "\x00" in argument:
            raise click.UsageError(f"argument {position} ({shown}) contains a NUL character")


def _one_line(text: str) -> str:
    """`text` printable on any terminal, on one line: undecodable bytes and control
    characters (a newline in a hostile value echoed back) shown as escapes."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def report_error(kind: str, message: str, *, as_json: bool,
                 extra: dict[str, Any] | None = None) -> None:
    """One line on stderr: `error: message`, or with --json one JSON object."""
    if as_json:
        click.echo(json.dumps({"error": kind, "message": message, **(extra or {})}), err=True)
    else:
        click.echo(f"error: {_one_line(message)}", err=True)


def report_uhadmin_error(exc: UhadminError, *, as_json: bool) -> None:
    problems = getattr(exc, "problems", None)
    extra = {"problems": [{"field": p.field, "rule": p.rule} for p in problems]} \
        if problems else None
    report_error(type(exc).__name__, str(exc), as_json=as_json, extra=extra)


@click.group(cls=UhadminGroup, invoke_without_command=True)
@click.option("--database-url", envvar=None, default=None,
              help="Overrides UHADMIN_DATABASE_URL for this run.")
@click.option("--create", "create_database", is_flag=True,
              help="Create the SQLite catalog if the --database-url file does not exist "
                   "(only the default one is created without asking).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (JSON).")
@click.pass_context
def main_group(ctx: click.Context, database_url: str | None, create_database: bool,
               as_json: bool) -> None:
    """uhadmin: UH Marketplace admin. With no command, starts the desktop app."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url
    ctx.obj["create_database"] = create_database
    ctx.obj["json"] = as_json
    if ctx.invoked_subcommand is None:
        from uhadmin.launch import desktop_problem

        problem = desktop_problem()  # before Qt loads: Qt itself would abort the process
        if problem:
            raise UhadminError(problem)
        from uhadmin.app import run_gui

        sys.exit(run_gui(database_url=database_url, create_database=create_database))


def wants_json(ctx: click.Context, local_flag: bool = False) -> bool:
    return local_flag or bool(ctx.find_root().obj.get("json"))


def emit(ctx: click.Context, payload: Any, text: str | Callable[[], str], *,
         as_json: bool = False) -> None:
    """Print `payload` as JSON or `text` for people (a callable is called only then: the
    locale data for formatted prices costs more than the rest of a `--json` run)."""
    if wants_json(ctx, as_json):
        click.echo(json.dumps(payload, default=str, sort_keys=False))
    else:
        click.echo(text() if callable(text) else text)


def handles_errors(func: Callable) -> Callable:
    """Turn expected errors into one clear line on stderr (JSON with --json) and exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UhadminError as exc:
            ctx = click.get_current_context()
            report_uhadmin_error(exc, as_json=wants_json(ctx, bool(kwargs.get("as_json"))))
            ctx.exit(getattr(exc, "exit_code", EXIT_ERROR))  # e.g. 4: another Stripe account

    return wrapper


def settings_for(ctx: click.Context, *, create: bool = False) -> Settings:
    """Settings for this run (the global --database-url), with the catalog checked: a SQLite
    file is created only at the default place, with --create, or when `create` is True
    (`db upgrade`); a mistyped path or a file that is not SQLite is an error naming it."""
    from uhadmin.config import catalog_file_problem, default_database_url, load_settings

    root = ctx.find_root().obj or {}
    settings = load_settings(overrides={"database_url": root.get("database_url")})
    may_create = (create or bool(root.get("create_database"))
                  or settings.database_url == default_database_url(settings.data_dir))
    problem = catalog_file_problem(settings.database_url, may_create=may_create)
    if problem:
        raise ConfigError(problem)
    return settings


def run_with_services(ctx: click.Context, work: Callable[[Services], Awaitable[T]]) -> T:
    """Build settings and services (migrating the database), run `work` on a fresh loop,
    then stop whatever it started (receiver, Stripe connections, sandbox) and close."""
    import asyncio

    from uhadmin.bootstrap import build_services

    services = build_services(settings_for(ctx))

    async def main() -> T:
        try:
            return await work(services)
        finally:
            await services.aclose()

    try:
        return asyncio.run(main())
    finally:
        services.close()  # idempotent; covers a failure before the loop ran
