"""The last few seconds of a stage's events: the rolling figures every stage shows.

The engine, the RTMP sender and player and the box runner all show "per second" figures
(fps, mean times, delays) over a short window that slides with the clock; this is that
window. It is not thread-safe on its own: each stage already holds a lock for its counters
and keeps its window under the same lock.
"""

from __future__ import annotations

from collections import deque


class Recent[T]:
    """``(time, value)`` pairs of the last ``window`` seconds, oldest first."""

    __slots__ = ("_items", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self._items: deque[tuple[float, T]] = deque()

    def add(self, t: float, value: T) -> None:
        """Note an event; what fell out of the window goes now, so memory stays bounded
        even when nobody reads the figures (a headless run)."""
        self._items.append((t, value))
        self._forget(t)

    def since(self, now: float) -> list[tuple[float, T]]:
        """What happened in the window before ``now``, oldest first."""
        self._forget(now)
        return list(self._items)

    def _forget(self, now: float) -> None:
        horizon = now - self.window
        items = self._items
        while items and items[0][0] < horizon:
            items.popleft()

    def values(self, now: float) -> list[T]:
        return [value for _, value in self.since(now)]

    def count(self, now: float) -> int:
        return len(self.since(now))

    def rate(self, now: float) -> float:
        """Events per second: over the span the events cover once there are two (right from
        the first frames, when the window is not full yet), else per window."""
        items = self.since(now)
        if len(items) < 2:
            return len(items) / self.window
        first, last = items[0][0], items[-1][0]
        span = max(now - first, last - first)
        return (len(items) - 1) / span if span > 0 else 0.0
