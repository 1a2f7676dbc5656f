"""The status bar's progress panel: its bar stays put while the text beside it changes."""

from __future__ import annotations

from uhadmin.views.status_items import ProgressPanel


def test_the_bar_does_not_jump_as_rate_and_eta_change(qtbot):
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    panel.begin(None, "Syncing 2,000 listings", 2000)
    panel.show()
    qtbot.waitExposed(panel)
    positions = set()
    for done in (1500, 7, 1999, 12):  # wide then narrow texts: "1,500/2,000" vs "7/2,000"
        panel.advance(done, 2000)
        panel.layout().activate()
        positions.add(panel.bar.x())
    assert len(positions) <= 2  # it may move right once as the text first widens, never back

    panel.begin(None, "Approving", 10)  # a new run starts narrow again
    assert panel.label.minimumWidth() == 0
