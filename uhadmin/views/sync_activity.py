"""How the Sync tab shows runs it did not start: the background sync, in the same picture."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from uhadmin.domain import SyncActivity, SyncProgress, SyncReport
from uhadmin.views.sync_texts import describe_report, did_work

RUN_NAMES = {"background": "The background sync", "reconcile": "Reconcile's sync",
             "repair": "A product repair's sync", "checkout": "The checkout lab's sync"}


def run_name(initiator: str) -> str:
    """How the tab names a run it did not start ("The background sync")."""
    return RUN_NAMES.get(initiator, "Another sync")


class BackgroundRunsView:
    """Mixed into SyncTab (it provides the labels, signals and `_update_buttons`): a
    background run's progress goes to the same status-bar display as a manual one's; a
    manual run waiting behind it says so; what the background run did is reported."""

    summary_label: Any
    progress_started: Any
    progress_advanced: Any
    progress_finished: Any
    _what: str
    _waiting: bool
    _waited_behind: SyncReport | None
    _background_shown: bool
    _behind: str  # the initiator of the run a manual one waits behind
    _update_buttons: Callable[[], None]  # SyncTab's: enables the buttons for the state

    def _activity(self, activity: SyncActivity) -> None:
        if activity.initiator == "manual":
            if activity.phase == "waiting":
                self._waiting = True
                self._behind = activity.behind
                self.summary_label.setText(
                    f"Waiting for {run_name(activity.behind).lower()} to finish; syncing "
                    f"{self._what} right after it (the catalog has one sync at a time).")
                self._show_background_progress(activity.progress, activity.behind)
            elif activity.phase == "running" and self._waiting:
                self._waiting = False
                self.progress_started.emit(f"Syncing {self._what}", 0)
            return
        if activity.phase == "progress":
            self._show_background_progress(activity.progress, activity.initiator)
        elif activity.phase == "finished":
            if self._waiting:
                self._waited_behind = activity.report
            elif self._background_shown:
                self._background_shown = False
                self.progress_finished.emit()
                self._update_buttons()
            if did_work(activity.report) and not self._waiting:
                assert activity.report is not None
                self.summary_label.setText(
                    f"{run_name(activity.initiator)}, at {time.strftime('%H:%M')}: "
                    f"{describe_report(activity.report)}")

    def _show_background_progress(self, step: SyncProgress | None, initiator: str) -> None:
        text = run_name(initiator) + ("; yours runs next" if self._waiting else "")
        if not self._waiting and not self._background_shown:
            self._background_shown = True
            self.progress_started.emit(text, step.total if step else 0)
            self._update_buttons()
        if step is not None:
            self.progress_advanced.emit(step.done, step.total, text)
