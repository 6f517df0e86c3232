"""Helpers for the window tests: a window factory and waits on its state."""

from __future__ import annotations

WAIT = 90_000  # ms: a cold worker imports torch; this machine is small


def wait_running(qtbot, window, name: str | None = None) -> None:
    """Until ``name`` (or any pipeline) runs and an output frame exists."""
    qtbot.waitUntil(
        lambda: (
            window.state == "running"
            and (name is None or (window.session.pipeline and window.session.pipeline.name == name))
        ),
        timeout=WAIT,
    )
    qtbot.waitUntil(lambda: window.session.latest_output is not None, timeout=WAIT)
