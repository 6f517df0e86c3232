"""SourcePump: reads a source in its own thread and hands every frame to a sink.

Sources block (pacing, cameras), the engine must not, so the pump is the one thread that
waits on a source. Callbacks run in the pump's thread: the sink must be quick (e.g. the
engine's ``submit``) and a GUI must marshal ``on_error``/``on_end`` to its own thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from studio.sources.base import FrameSource, SourceFrame

_FPS_WINDOW = 1.0  # seconds of delivery times the fps estimate looks at


class SourcePump:
    """Pump ``source`` into ``sink`` until stopped, the stream ends or something fails.

    A failure in the source or the sink is reported once through ``on_error`` and ends
    the pump; the end of the stream calls ``on_end``. ``stop()`` calls neither. When the
    pump ends, whatever the reason, the source is closed.
    """

    def __init__(
        self,
        source: FrameSource,
        sink: Callable[[SourceFrame], None],
        on_error: Callable[[Exception], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ):
        self.source = source
        self._sink = sink
        self._on_error = on_error
        self._on_end = on_end
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._times: deque[float] = deque()
        self._frames = 0
        self.error: Exception | None = None

    @property
    def frames(self) -> int:
        """Frames handed to the sink so far."""
        return self._frames

    @property
    def fps(self) -> float:
        """Frames per second delivered over the last second (0.0 when idle)."""
        now = time.monotonic()
        with self._lock:
            times = self._times
            while times and times[0] < now - _FPS_WINDOW:
                times.popleft()
            if len(times) < 2 or times[-1] <= times[0]:
                return 0.0
            return (len(times) - 1) / (times[-1] - times[0])

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a SourcePump starts once; make a new one to restart")
        self._thread = threading.Thread(target=self._run, name="source-pump", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Close the source (waking a blocked read) and join; True when the thread ended."""
        self._stopping.set()
        self.source.close()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return thread is None
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                frame = self.source.read()
                if frame is None:
                    if not self._stopping.is_set() and self._on_end is not None:
                        self._on_end()
                    return
                if self._stopping.is_set():
                    return
                self._sink(frame)
                now = time.monotonic()
                with self._lock:
                    self._frames += 1
                    self._times.append(now)
                    while self._times[0] < now - _FPS_WINDOW:
                        self._times.popleft()
        except Exception as exc:
            self.error = exc
            if not self._stopping.is_set() and self._on_error is not None:
                self._on_error(exc)
        finally:
            self.source.close()
