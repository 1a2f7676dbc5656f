"""Screenshots of bulk work for the README: Select all matching, its confirmation, and the
Edit menu naming what Ctrl+Z undoes (leaving the demo catalog as it found it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any


async def _settle(window: Any, seconds: float) -> None:
    """Wait until no tab (nor the undo history) has work running, then let the loop paint.
    Never QApplication.processEvents() inside this coroutine: that runs other tasks' steps
    re-entrantly, and a wake-up lost that way leaves a task, and this wait, hanging."""
    for tab in list(window.tabs_by_key.values()):
        await tab.tasks.wait_idle()
    await window.undo_history.tasks.wait_idle()
    await window.tasks.wait_idle()
    await asyncio.sleep(seconds)


async def shoot_bulk_and_undo(window: Any, outdir: Path, theme_name: str, *,
                              save: Callable[[Any, Path], Path]) -> list[Path]:
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QMessageBox

    from uhadmin.domain import ListingStatus

    tab = window.listings_tab
    written: list[Path] = []
    window.tab_widget.setCurrentWidget(tab)

    async def select_all_matching(status: ListingStatus) -> None:
        tab.status_filter.setCurrentIndex(tab.status_filter.findData(status))
        await _settle(window, 0.3)
        tab.select_all_matching()
        await _settle(window, 0.2)

    # Everything pending review: the bar says all of them are selected, and Approve asks
    # with the whole count (answered No here: the demo catalog stays as it is).
    await select_all_matching(ListingStatus.PENDING_REVIEW)
    written.append(save(window, outdir / f"main-select-matching-{theme_name}.png"))
    tab.approve_action.trigger()
    box = next(b for b in tab.findChildren(QMessageBox, "bulkConfirmation")
               if b.isVisible())  # not one answered before and not yet deleted
    await _settle(window, 0.2)
    written.append(save(box, outdir / f"dialog-bulk-matching-{theme_name}.png"))
    box.reject()

    # Submitting the drafts touches nothing in Stripe; the Edit menu then names it, and
    # its undo puts them back.
    await select_all_matching(ListingStatus.DRAFT)
    tab.submit_action.trigger()
    box = next(b for b in tab.findChildren(QMessageBox, "bulkConfirmation")
               if b.isVisible())  # not one answered before and not yet deleted
    box.defaultButton().click()
    await _settle(window, 0.3)
    menu = window.edit_menu
    menu.popup(window.mapToGlobal(QPoint(60, 30)))
    await _settle(window, 0.2)
    written.append(save(menu, outdir / f"menu-edit-undo-{theme_name}.png"))
    menu.hide()
    window.undo_history.undo_action.trigger()
    tab.clear_filters()
    await _settle(window, 0.3)
    return written
