"""Starting the desktop app where no window can open: one line naming what is missing and
the command that installs it, before Qt loads (Qt itself would abort the process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from uhadmin.launch import debian_package, desktop_problem, xcb_plugin


def without_display() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    return env


@pytest.mark.parametrize("module", ["uhadmin.launch", "uhadmin.cli"])
def test_no_display_is_one_line_and_exit_1(module: str):
    result = subprocess.run(
        [sys.executable, "-m", module],
        env=without_display(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Aborted" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: uhadmin cannot open a window")
    assert "DISPLAY is not set" in line and "xvfb-run" in line


def test_a_display_without_an_x_server_is_named(tmp_path: Path):
    env = {**without_display(), "DISPLAY": ":4711"}
    result = subprocess.run(
        [sys.executable, "-m", "uhadmin.launch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "no X server runs on DISPLAY=:4711" in line


def test_offscreen_and_wayland_need_no_x11():
    assert desktop_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert desktop_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None


@pytest.mark.parametrize(
    "soname, package",
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
    ],
)
def test_debian_package_names_follow_the_library_policy(soname: str, package: str):
    assert debian_package(soname) == package


# In a private mount namespace, the system library folder is replaced by links to every file
# in it except the hidden library, so the loader (and ldd) really cannot find it.
HIDE_AND_RUN = textwrap.dedent("""\
    set -e
    libs=/usr/lib/x86_64-linux-gnu
    mkdir -p "$WORK/original" "$WORK/shown"
    mount --bind "$libs" "$WORK/original"
    for entry in "$WORK"/original/*; do ln -s "$entry" "$WORK/shown/${entry##*/}"; done
    rm -f "$WORK"/shown/$HIDE*
    mount --bind "$WORK/shown" "$libs"
    exec "$@"
""")


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/lib/x86_64-linux-gnu").is_dir(),
    reason="hiding a system library needs root (as CI runs) on Debian x86-64",
)
def test_a_hidden_library_is_named_with_its_package(tmp_path: Path):
    plugin = xcb_plugin()
    assert plugin is not None
    env = {**os.environ, "DISPLAY": ":99", "WORK": str(tmp_path), "HIDE": "libxcb.so.1"}
    env.pop("QT_QPA_PLATFORM", None)
    result = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "bash",
            "-c",
            HIDE_AND_RUN,
            "hide",
            sys.executable,
            "-m",
            "uhadmin.launch",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert "libxcb.so.1" in line and "sudo apt-get install" in line
    assert " libxcb1" in line.split("apt-get install", 1)[1] + " "
