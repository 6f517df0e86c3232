"""The frame-source contract: what the engine, the pump and the recorder rely on.

A source hands out RGB uint8 images with timestamps. Every frame is a fresh array that the
receiver owns, so a pipeline or a recorder may keep or modify it without copying. Sources
are read from one thread, but ``close()`` may come from another one (the pump's ``stop``):
it must make a blocked ``read()`` return promptly, after which ``read()`` returns None.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from types import TracebackType
from typing import Self

import numpy as np

TIME_BASE = Fraction(1, 90_000)
"""The time base every built-in source uses, so that switching sources keeps units."""


@dataclass(slots=True)
class SourceFrame:
    """One captured or generated frame.

    ``image`` is uint8 (H, W, 3) RGB, C-contiguous, owned by the receiver: the source never
    reuses or overwrites it. ``pts * time_base`` is the media time in seconds (starts near 0,
    strictly increasing); ``t_capture`` is ``time.monotonic()`` at capture, for latency.
    """

    image: np.ndarray
    pts: int
    time_base: Fraction
    t_capture: float
    index: int

    @property
    def time(self) -> float:
        """The media time in seconds."""
        return float(self.pts * self.time_base)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


class SourceError(RuntimeError):
    """A source could not open or stopped working; the message says what and what to do."""


class FrameSource(ABC):
    """A stream of :class:`SourceFrame`; use it as a context manager or close it."""

    description: str = "frame source"

    @property
    @abstractmethod
    def width(self) -> int: ...

    @property
    @abstractmethod
    def height(self) -> int: ...

    @property
    @abstractmethod
    def fps(self) -> float:
        """The nominal frame rate (the device's or the file's), not a measurement."""

    @abstractmethod
    def read(self) -> SourceFrame | None:
        """The next frame, waiting until it is due when paced in real time.

        None at the end of the stream or once closed; :class:`SourceError` when the
        device or file fails.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; idempotent and safe from another thread."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


class Pacer:
    """Real-time pacing from media timestamps, for sources that are not clocked by a device.

    Frame ``t`` (media seconds) is due at ``anchor + t``. A frame that is late by more than
    one ``interval`` is delivered at once and the schedule is re-anchored to it, so a slow
    consumer gets the next frames at the normal rate instead of a catch-up burst. Media time
    that jumps backwards, or further ahead than ``max_wait`` (broken timestamps), also
    re-anchors: such a frame comes one ``interval`` after the previous one.
    """

    def __init__(self, interval: float, max_wait: float | None = None):
        self.interval = interval
        self.max_wait = max_wait
        self._anchor: float | None = None

    def reset(self) -> None:
        self._anchor = None

    def wait(self, media_time: float, interrupt: threading.Event) -> bool:
        """Sleep until ``media_time`` is due; False when ``interrupt`` was set meanwhile."""
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = now - media_time
            return not interrupt.is_set()
        delay = self._anchor + media_time - now
        if delay < -self.interval:
            self._anchor = now - media_time
            delay = 0.0
        elif self.max_wait is not None and delay > self.max_wait:
            self._anchor = now + self.interval - media_time
            delay = self.interval
        if delay > 0:
            return not interrupt.wait(delay)
        return not interrupt.is_set()
