"""The error types every layer raises and every view knows how to show."""

from __future__ import annotations

from dataclasses import dataclass


class UhadminError(Exception):
    """An expected failure: shown to the person as a friendly message, never a traceback."""


@dataclass(frozen=True)
class FieldProblem:
    """One broken rule on one input field, e.g. ("price", "at least USD 0.50")."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class ValidationError(UhadminError):
    """Input breaks one or more rules; nothing has been written."""

    def __init__(self, problems: list[FieldProblem] | FieldProblem):
        self.problems = [problems] if isinstance(problems, FieldProblem) else list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, field: str, rule: str) -> ValidationError:
        return cls(FieldProblem(field, rule))


class NotFoundError(UhadminError):
    """The object asked for does not exist."""


class ConflictError(UhadminError):
    """Someone saved a newer version first; the stale copy was not written."""

    def __init__(self, listing_id: int, expected_version: int, actual_version: int | None):
        self.listing_id = listing_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"listing {listing_id} was changed by someone else "
            f"(you edited version {expected_version}, it is now version {actual_version}); "
            "reload it and apply your change again"
        )


class IllegalTransitionError(UhadminError):
    """A listing status change the state machine does not allow."""


class ConfigError(UhadminError):
    """A setting is missing or malformed; the message names the variable or flag."""


class StripeUnavailableError(UhadminError):
    """Stripe could not be reached (offline, timeout); queued work stays queued."""


class StripeRefusedError(UhadminError):
    """Stripe answered with an error for this request (bad parameter, missing object...)."""

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None,
                 http_status: int | None = None):
        self.code = code
        self.param = param
        self.http_status = http_status
        super().__init__(message)


class ModeMismatchError(UhadminError):
    """The key's mode and Stripe's `livemode` disagree, or live mode was not allowed."""


class AccountMismatchError(ModeMismatchError):
    """The key belongs to another Stripe account than the one this catalog was synced with."""

    exit_code = 4  # `uhadmin` exits with this, so scripts can tell it from other failures
