"""Undo and redo for listing edits, status changes and bulk actions (Ctrl+Z, Ctrl+Shift+Z).

A QUndoStack holds one command per action, named as the Edit menu shows it ("Approve 4
listings"). A command keeps the versions its action wrote; undoing asks the listing service
to revert those changes from the audit log (its optimistic lock skips any listing saved
since, and says by whom), and redoing reverts the revert. The work is async and may be
long, so the stack's actions stay disabled while it runs, and a Cancel stops it between
batches; an undo that changed nothing goes back on the stack as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack

from uhadmin.domain import CancelToken
from uhadmin.domain.bulk import BulkOutcome, BulkProgress, ListingVersion, skip_summary
from uhadmin.views.messages import friendly_text
from uhadmin.views.ports import ListingWriter
from uhadmin.views.repaint import lay_out_and_paint_now
from uhadmin.views.tasks import TaskRunner


class RevertCommand(QUndoCommand):
    """One undoable action: the listing versions it wrote (and, once undone, the versions
    the undo wrote, which a redo reverts)."""

    def __init__(self, history: UndoHistory, text: str,
                 written: Sequence[ListingVersion]) -> None:
        super().__init__(text)
        self.history = history
        self.written = tuple(written)  # what the action (or the last redo) wrote
        self.restored: tuple[ListingVersion, ...] = ()  # what the last undo wrote
        self.quiet = True  # QUndoStack.push calls redo(): the action itself already ran

    def undo(self) -> None:
        if not self._quieted():
            self.history.start(self, undoing=True)

    def redo(self) -> None:
        if not self._quieted():
            self.history.start(self, undoing=False)

    def _quieted(self) -> bool:
        """True (once) when the stack moves this command without running it."""
        quiet, self.quiet = self.quiet, False
        return quiet


class UndoHistory(QObject):
    """The window's undo stack for listings, with the Edit menu's Undo and Redo actions."""

    status_message = Signal(str)
    progress_started = Signal(str, int)
    progress_advanced = Signal(int, int, str)
    progress_finished = Signal()
    reverted = Signal(object)  # BulkOutcome, after each undo or redo

    def __init__(self, listings: ListingWriter, *, actor: str,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._listings = listings
        self._actor = actor
        self._cancel: CancelToken | None = None
        self.stack = QUndoStack(self)
        self.tasks = TaskRunner(lambda error: self.status_message.emit(friendly_text(error)),
                                self)
        self.undo_action = QAction("&Undo", self)
        self.undo_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        self.redo_action = QAction("&Redo", self)
        # Ctrl+Shift+Z everywhere, and Ctrl+Y as Windows people expect (the platform's own
        # Redo list adds keys nobody reads on the shortcuts page).
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for act in (self.undo_action, self.redo_action):
            # Window-wide, but a text box's own Ctrl+Z still undoes typing in it.
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.undo_action.triggered.connect(lambda _checked=False: self.undo())
        self.redo_action.triggered.connect(lambda _checked=False: self.redo())
        self.stack.indexChanged.connect(lambda _index: self._update_actions())
        self.tasks.busy_changed.connect(lambda _key, _busy: self._update_actions())
        self._update_actions()

    # --- recording -------------------------------------------------------------------

    def record(self, text: str, written: Sequence[ListingVersion]) -> None:
        """An action just ran and wrote these versions: make it the next thing to undo."""
        if written:
            self.stack.push(RevertCommand(self, text, written))

    # --- undo / redo -----------------------------------------------------------------

    def undo(self) -> None:
        if self.stack.canUndo() and not self.busy:
            self.stack.undo()

    def redo(self) -> None:
        if self.stack.canRedo() and not self.busy:
            self.stack.redo()

    @property
    def busy(self) -> bool:
        return self.tasks.is_running("revert")

    def cancel(self) -> bool:
        """Stop a running undo or redo after its current batch; False if none runs."""
        if self._cancel is None or not self.busy:
            return False
        self._cancel.cancel()
        return True

    def start(self, command: RevertCommand, *, undoing: bool) -> None:
        self.tasks.spawn("revert", self.revert(command, undoing=undoing))

    async def revert(self, command: RevertCommand, *, undoing: bool) -> BulkOutcome:
        """Revert what the command's action (undoing) or its last undo (redoing) wrote."""
        targets = command.written if undoing else command.restored
        verb = "Undo" if undoing else "Redo"
        text = f"{verb} {command.text()}"
        self._cancel = CancelToken()
        self.progress_started.emit(f"{text}…", len(targets))

        def progress(step: BulkProgress) -> None:
            self.progress_advanced.emit(step.done, step.total, f"{text}…")

        lay_out_and_paint_now()  # the progress panel, before the writes compete with it
        try:
            outcome: BulkOutcome = await self._listings.revert(
                targets, actor=self._actor, initiator=self, on_progress=progress,
                cancel=self._cancel)
        finally:
            self.progress_finished.emit()
        if undoing:
            command.restored = outcome.changed
        else:
            command.written = outcome.changed
        self.status_message.emit(describe_revert(verb, command.text(), outcome))
        if not outcome.changed:
            self._put_back(command, undoing=undoing)
        self.reverted.emit(outcome)
        return outcome

    def _put_back(self, command: RevertCommand, *, undoing: bool) -> None:
        """Nothing was reverted: the stack goes back to where it was, without running."""
        command.quiet = True
        if undoing:
            self.stack.redo()
        else:
            self.stack.undo()

    def _update_actions(self) -> None:
        busy = self.busy
        try:
            states = ((self.undo_action, self.stack.canUndo(), "&Undo", self.stack.undoText()),
                      (self.redo_action, self.stack.canRedo(), "&Redo", self.stack.redoText()))
        except RuntimeError:
            return  # the stack is being destroyed with its window (it empties itself first)
        for act, possible, prefix, name in states:
            act.setEnabled(possible and not busy)
            act.setText(f"{prefix} {name}" if possible else prefix)
            act.setToolTip(f"{prefix.replace('&', '')} {name}".strip())


def describe_revert(verb: str, action: str, outcome: BulkOutcome) -> str:
    """"Undid Approve 4 listings: 3 restored; skipped 1: changed since by bob" and the like."""
    done = "Undid" if verb == "Undo" else "Redid"
    restored = len(outcome.changed)
    if restored == 0:
        head = f"Nothing to {verb.lower()} for {action}"
    else:
        head = f"{done} {action}: {restored:,} restored"
    tail = [part for part in (skip_summary(outcome.skipped),) if part]
    if outcome.cancelled:
        tail.append(f"cancelled, {outcome.not_reached:,} not reached")
    return "; ".join([head, *tail])
