"""Drive the real studio window in this process, the way ``studio.ui.app.run_app`` does.

The benchmarks that need the app (UI stalls, start-up, soak) may not change ``studio/ui``, so
this module builds the same QApplication + qasync loop + :class:`StudioWindow`, and measures
from the outside: a timer probe for the event loop's stalls, and optional wrappers around
the window's own slots and the preview's ``paintEvent`` (patched on the classes, before the
window exists) that log how long each call held the GUI thread.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import percentile


def prepare_env(home: str | None = None) -> str:
    """STUDIO_HOME in a temp folder and a Qt platform that needs no desktop."""
    home = home or tempfile.mkdtemp(prefix="studio-bench-home-")
    os.environ["STUDIO_HOME"] = home
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return home


def make_app() -> tuple[Any, Any]:
    """The QApplication and its qasync loop, set as asyncio's loop (as ``run_app`` does)."""
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Livepeer Pipeline Studio")
    app.setOrganizationName("Livepeer")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    return app, loop


class CallLog:
    """How long each wrapped GUI-thread call ran: (name, start, end) in perf_counter time."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []
        self.enabled = False

    def wrap(self, owner: type, attr: str, name: str | None = None) -> None:
        original = getattr(owner, attr)
        label = name or f"{owner.__name__}.{attr}"
        log = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not log.enabled:
                return original(*args, **kwargs)
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                log.calls.append((label, t0, time.perf_counter()))

        wrapper.__name__ = attr
        setattr(owner, attr, wrapper)

    def wrap_window(self) -> None:
        """The window's slots that run on the GUI thread at a steady rate, and painting."""
        from studio.ui.main_window import StudioWindow
        from studio.ui.preview import FrameView

        for attr in ("_refresh_frames", "_refresh_stats", "_on_event", "_on_discovered"):
            self.wrap(StudioWindow, attr)
        self.wrap(FrameView, "paintEvent")

    def summary(self, seconds: float) -> dict[str, dict[str, float]]:
        """Per call name: count, ms per call (p50, p95, max) and share of the GUI thread."""
        by: dict[str, list[float]] = {}
        for name, t0, t1 in self.calls:
            by.setdefault(name, []).append((t1 - t0) * 1000)
        return {
            name: {
                "calls": len(ms),
                "p50_ms": round(percentile(ms, 50), 2),
                "p95_ms": round(percentile(ms, 95), 2),
                "max_ms": round(max(ms), 2),
                "busy_pct": round(100 * sum(ms) / 1000 / seconds, 1),
            }
            for name, ms in sorted(by.items())
        }


class Probe:
    """A 5 ms Qt timer whose ticks show how late the event loop gets round to it."""

    def __init__(self, interval_ms: int = 5):
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000.0
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def start(self) -> None:
        self.ticks.clear()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def stalls(self) -> list[tuple[float, float]]:
        """(tick before, tick after) of every gap, for attribution."""
        return list(zip(self.ticks, self.ticks[1:], strict=False))

    def lateness_ms(self) -> list[float]:
        return [max(0.0, (b - a - self.interval) * 1000) for a, b in self.stalls()]

    def summary(self) -> dict[str, float]:
        late = self.lateness_ms()
        return {
            "ticks": len(self.ticks),
            "late_p50_ms": round(percentile(late, 50), 2),
            "late_p99_ms": round(percentile(late, 99), 2),
            "late_max_ms": round(max(late, default=0.0), 2),
            "over_10ms": sum(1 for v in late if v > 10),
            "over_25ms": sum(1 for v in late if v > 25),
        }


def attribute(probe: Probe, log: CallLog, threshold_ms: float = 10.0) -> dict[str, Any]:
    """For each stall over ``threshold_ms``: how much of it the wrapped calls account for."""
    stalls = [(a, b) for a, b in probe.stalls() if (b - a - probe.interval) * 1000 > threshold_ms]
    explained: dict[str, float] = {}
    unexplained = 0.0
    worst: list[dict[str, Any]] = []
    for a, b in stalls:
        inside: dict[str, float] = {}
        for name, t0, t1 in log.calls:
            overlap = min(b, t1) - max(a, t0)
            if overlap > 0:
                inside[name] = inside.get(name, 0.0) + overlap * 1000
        gap = (b - a) * 1000
        rest = max(0.0, gap - sum(inside.values()))
        unexplained += rest
        for name, ms in inside.items():
            explained[name] = explained.get(name, 0.0) + ms
        worst.append(
            {"gap_ms": round(gap, 1), "rest_ms": round(rest, 1)}
            | {k: round(v, 1) for k, v in inside.items()}
        )
    worst.sort(key=lambda w: -w["gap_ms"])
    return {
        "stalls_over_threshold": len(stalls),
        "threshold_ms": threshold_ms,
        "ms_in_wrapped_calls": {k: round(v, 1) for k, v in explained.items()},
        "ms_outside_wrapped_calls": round(unexplained, 1),
        "worst": worst[:8],
    }


async def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` on the event loop (the loop keeps running meanwhile)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


def open_window(folders: list[str], pipeline: str | None, source: str | None, params: Any) -> Any:
    """A shown StudioWindow with fresh settings under STUDIO_HOME and the default pool."""
    from studio.settings import Settings
    from studio.ui.main_window import StartOptions, StudioWindow

    home = Path(os.environ["STUDIO_HOME"])
    options = StartOptions(folders=folders, pipeline=pipeline, source=source, params=params)
    window = StudioWindow(options, Settings.load(home / "settings.json"))
    window.resize(1400, 820)
    window.show()
    return window


def worker_pid(window: Any) -> int | None:
    """The running engine's worker process id (a private attribute: benchmarks only)."""
    engine = window.session.engine
    worker = getattr(engine, "_active", None) if engine is not None else None
    process = getattr(worker, "process", None)
    return process.pid if process is not None else None
