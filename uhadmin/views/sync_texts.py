"""What the Sync tab and the status bar say about runs: one line per report, and the state."""

from __future__ import annotations

from typing import Any

from uhadmin.domain import ConnectionState, SyncReport, SyncStatus

WORK_DONE = (("created", "created"), ("updated", "updated"),
             ("price_changed", "price changed"), ("archived", "archived"),
             ("failed", "failed"))


def did_work(report: SyncReport | None) -> bool:
    """Whether a run changed or tried anything worth telling (not an idle background round)."""
    return report is not None and (report.cancelled or report.offline or any(
        getattr(report, name) for name, _ in WORK_DONE))


def describe_report(report: SyncReport) -> str:
    """One line about what that run did, e.g. "Created 3, archived 1 · 4 Stripe calls in
    1.2 s". Counts of zero are left out; the queue count is not repeated here: the state
    label beside it says it, always current."""
    done = [f"{label} {getattr(report, name):,}" for name, label in WORK_DONE
            if getattr(report, name)]
    line = ", ".join(done) if done else "nothing needed pushing"
    if report.unchanged:
        line += f" ({report.unchanged:,} already matched Stripe)"
    line = line[0].upper() + line[1:]
    calls = report.api_calls
    line += f" · {calls:,} Stripe call{'s' if calls != 1 else ''} in {report.elapsed_s:.1f} s"
    if report.cancelled and report.queued:
        return ("Cancelled: what reached Stripe stays there, the rest stays queued and "
                f"Sync resumes where it stopped. {line}")
    if report.cancelled:
        return f"The cancel came after the last change was pushed: nothing was left. {line}"
    if report.offline:
        return ("Stripe stopped answering: the rest stays queued and is pushed when it "
                f"answers again. {line}")
    return line


def describe_waited(before: SyncReport | None, mine: SyncReport,
                    other: str = "The background sync") -> str:
    """A manual sync that waited behind `other` (a run it did not start): what each did."""
    if not did_work(before):
        return describe_report(mine)
    assert before is not None
    if did_work(mine):
        return f"{other} ran first: {describe_report(before)}. Then this sync: " \
               f"{describe_report(mine)}"
    return (f"{other} had just pushed these changes, so nothing was left: "
            f"{describe_report(before)}")


def state_text(status: SyncStatus) -> str:
    """The Sync tab's state label: the one place the queue count is shown in the tab."""
    queued = f"{status.queued:,} change{'s' if status.queued != 1 else ''} queued"
    return {ConnectionState.UNKNOWN: "Stripe not contacted yet",
            ConnectionState.ONLINE: f"Stripe online · {queued}",
            ConnectionState.OFFLINE: f"Stripe offline · {queued}",
            ConnectionState.STOPPED: f"Sync stopped · {queued}",
            ConnectionState.WRONG_ACCOUNT: f"⚠ Another Stripe account · {queued}",
            }[status.state]


def apply_sync_status(indicator: Any, status: SyncStatus) -> None:
    """Show a SyncStatus on the window's ConnectionIndicator (set_online / set_queued)."""
    online = {ConnectionState.ONLINE: True, ConnectionState.OFFLINE: False,
              ConnectionState.STOPPED: False,
              ConnectionState.WRONG_ACCOUNT: False}.get(status.state)
    indicator.set_online(online, status.message)
    indicator.set_warning("Another Stripe account: sync stopped"
                          if status.state is ConnectionState.WRONG_ACCOUNT else "")
    indicator.set_queued(status.queued)
