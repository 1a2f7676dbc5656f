"""Start the desktop app only after checking, before Qt loads, that it can open a window."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# Debian names a library's package after its soname ("libxcb-icccm.so.4" -> libxcb-icccm4,
# with a dash when the name ends in a digit: libxkbcommon-x11-0); these do not follow it.
_PACKAGE_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
# Exit code when no window can be opened (the README's "1: an error, said in one line").
EXIT_NO_DESKTOP = 1


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships `soname`, by Debian's library naming policy."""
    if soname in _PACKAGE_EXCEPTIONS:
        return _PACKAGE_EXCEPTIONS[soname]
    name, _, version = soname.partition(".so.")
    version = version.split(".")[0]
    return f"{name.lower()}{'-' if name[-1].isdigit() else ''}{version}"


def xcb_plugin() -> Path | None:
    """PySide6's X11 platform plugin, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.exists():
            return plugin
    return None


def missing_libraries(plugin: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """The shared libraries `plugin` (and what it loads) needs but the loader cannot find,
    as `ldd` (the loader itself) reports them; [] when ldd is not there to ask."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    result = subprocess.run(
        [ldd, str(plugin)],
        capture_output=True,
        text=True,
        env=dict(env if env is not None else os.environ),
        check=False,
    )
    return sorted(set(_NOT_FOUND.findall(result.stdout)))


_DISPLAY_FIXES = (
    "run it on a desktop, under `xvfb-run -a uhadmin`, or with QT_QPA_PLATFORM=offscreen"
)
_LOCAL_DISPLAY = re.compile(r"^(?:unix)?:(\d+)(?:\.\d+)?$")


def _local_display_answers(display: str) -> bool:
    """For a local display (":0"), whether its X server's socket exists; a remote one
    (host:0, ssh forwarding) cannot be checked without connecting and is assumed there."""
    local = _LOCAL_DISPLAY.match(display)
    return local is None or Path(f"/tmp/.X11-unix/X{local.group(1)}").exists()


def desktop_problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why Qt could not open a window here, in one line with the fix; None when it can (or
    when the platform is not X11: offscreen, Wayland, macOS, Windows)."""
    env = os.environ if env is None else env
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0]
    if not sys.platform.startswith("linux") or platform not in ("", "xcb"):
        return None
    if not platform and env.get("WAYLAND_DISPLAY"):
        return None  # Qt picks its Wayland plugin
    problems = []
    plugin = xcb_plugin()
    missing = missing_libraries(plugin, env) if plugin is not None else []
    if missing:
        packages = " ".join(sorted({debian_package(name) for name in missing}))
        problems.append(
            f"Qt's X11 plugin needs {', '.join(missing)}, not installed (on "
            f"Debian/Ubuntu: sudo apt-get install {packages})"
        )
    display = env.get("DISPLAY", "")
    if not display:
        problems.append(f"there is no display (DISPLAY is not set): {_DISPLAY_FIXES}")
    elif not _local_display_answers(display):
        problems.append(f"no X server runs on DISPLAY={display}: {_DISPLAY_FIXES}")
    if not problems:
        return None
    return "uhadmin cannot open a window: " + "; and ".join(problems)


def main(argv: list[str] | None = None) -> None:
    """`uhadmin-gui`: the desktop app alone, after the desktop check."""
    problem = desktop_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(EXIT_NO_DESKTOP)
    from uhadmin.app import main as app_main

    app_main(argv)


if __name__ == "__main__":
    main()
