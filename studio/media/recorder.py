"""Recording processed frames to MP4 without slowing the frame path.

Encoding a 720p frame costs ~20 ms here, so it runs in its own thread behind a short queue:
the engine's reader thread only enqueues a reference. If the encoder falls behind by more
than the queue, frames are dropped and counted rather than delaying the preview.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np

from studio.media.mp4 import Mp4Writer

_STOP = object()


class Recorder:
    """An :class:`Mp4Writer` fed from any thread through a bounded queue."""

    def __init__(self, path: str | Path, fps: float = 30.0, backlog: int = 60):
        self.writer = Mp4Writer(path, fps)  # fails here, in the caller, for a bad path
        self.path = self.writer.path
        self.dropped = 0
        self.error: Exception | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=backlog)
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    @property
    def frames_written(self) -> int:
        return self.writer.frames_written

    def add(self, image: np.ndarray, pts_seconds: float | None = None) -> None:
        """Queue a frame (never blocks); the array must not be modified afterwards."""
        try:
            self._queue.put_nowait((image, pts_seconds))
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 10.0) -> int:
        """Finish what is queued, close the file; returns the frames written."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return self.frames_written

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if self.error is None:
                    self.writer.write(*item)
        except Exception as exc:
            self.error = exc
        finally:
            self.writer.close()
