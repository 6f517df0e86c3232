"""From worker threads to the Qt thread: one signal per kind of news, nothing per frame."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Bridge(QObject):
    """Emitted from any thread; Qt queues the call onto the receiver's (the window's) thread."""

    event = Signal(object)  # SessionEvent | EngineEvent
    discovered = Signal(object)  # list[PipelineInfo] (or an Exception)
    files_changed = Signal(list)  # list[Path]
    live_event = Signal(object)  # LiveEvent
    serve_event = Signal(object)  # RunnerEvent, or ("started"|"failed"|"stopped", message)
