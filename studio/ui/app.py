"""``studio``: the desktop app on a qasync event loop (Qt and asyncio in one thread)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any


def run_app(args: Any) -> int:
    """Open the studio window with the command line's selection; returns the exit code."""
    from PySide6.QtWidgets import QApplication

    if (
        not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
    ):
        print(
            "studio: no display found (DISPLAY is unset). Run it in a desktop session, "
            "under xvfb-run, or set QT_QPA_PLATFORM=offscreen.",
            file=sys.stderr,
        )
        return 1
    from studio.ui.splash import TITLE, app_icon, show_splash

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(TITLE)
    app.setOrganizationName("Livepeer")
    app.setWindowIcon(app_icon())
    splash = show_splash()  # on screen before the second of imports below
    splash.step("Loading numpy, pydantic and the settings ...")
    import qasync

    from studio.settings import Settings

    settings = Settings.load()
    splash.step("Loading OpenCV, PyAV and the studio ...")
    from studio.ui.main_window import StartOptions, StudioWindow

    splash.step("Building the window ...")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    options = StartOptions(
        folders=list(args.pipelines or []),
        pipeline=args.pipeline,
        source=args.input,
        params=args.params,
    )
    window = StudioWindow(options, settings)
    window.show()
    splash.done(window)
    _close_on_signals(window)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    return 0


def _close_on_signals(window: Any) -> None:
    """Ctrl+C in the terminal and a polite ``kill`` close the window the normal way: the
    settings are saved, the pipeline's ``on_stop`` runs and shared memory is released,
    instead of the process dying mid-frame. (Python runs the handler at its next bytecode;
    the window's timers make that within a frame.)"""
    import signal

    from PySide6.QtCore import QTimer

    def close(signum: int, frame: Any) -> None:
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close)
