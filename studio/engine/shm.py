"""Frames across the process boundary through shared memory, not pickled copies.

Each side creates the segments it writes into and the other side attaches by name. A
segment grows (under a new name) when a bigger frame comes; readers follow the name that
travels with each frame message. Names are predictable from a prefix so a supervisor can
clean up after a writer that died.
"""

from __future__ import annotations

import contextlib
import sys
from multiprocessing import resource_tracker, shared_memory

import numpy as np


def attach(name: str) -> shared_memory.SharedMemory:
    """Open another process's segment without making this process its owner.

    Python < 3.13 registers attached segments with the resource tracker, which then unlinks
    them (with a "leaked" warning) when this process exits: wrong for a segment we don't own.
    """
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    shm = shared_memory.SharedMemory(name=name)
    with contextlib.suppress(Exception):
        resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm


def frame_nbytes(height: int, width: int) -> int:
    return height * width * 3


class FrameSlot:
    """A writable shared-memory frame buffer owned by this process.

    ``track=False`` keeps it away from the resource tracker: the worker uses that, since its
    supervisor (the engine) cleans up after it, and a tracker would be one more process.
    """

    def __init__(self, prefix: str, track: bool = True):
        self.prefix = prefix
        self.track = track
        self._gen = 0
        self._shm: shared_memory.SharedMemory | None = None
        self.names: list[str] = []

    @property
    def name(self) -> str | None:
        return self._shm.name if self._shm else None

    def view(self, height: int, width: int) -> np.ndarray:
        """A (H, W, 3) uint8 view to write into, growing the segment when needed."""
        need = frame_nbytes(height, width)
        if self._shm is None or self._shm.size < need:
            self._release()
            self._gen += 1
            name = f"{self.prefix}_{self._gen}"
            self._shm = _create(name, need, self.track)
            self.names.append(name)
        return np.ndarray((height, width, 3), np.uint8, self._shm.buf)

    def _release(self) -> None:
        if self._shm is not None:
            shm, self._shm = self._shm, None
            with contextlib.suppress(FileNotFoundError):
                if self.track:
                    shm.unlink()
                else:
                    _unlink(shm.name)
            with contextlib.suppress(BufferError):
                shm.close()  # a view still held elsewhere keeps the mapping until it is freed

    def close(self) -> None:
        """Unlink and unmap."""
        self._release()


class FrameReader:
    """Attaches to another process's segments by name and reads frames from them."""

    def __init__(self) -> None:
        self._attached: dict[str, shared_memory.SharedMemory] = {}

    def view(self, name: str, height: int, width: int) -> np.ndarray:
        shm = self._attached.get(name)
        if shm is None:
            shm = attach(name)
            self._attached[name] = shm
        return np.ndarray((height, width, 3), np.uint8, shm.buf)

    def forget_others(self, keep: set[str]) -> None:
        """Detach from segments the writer has replaced."""
        for name in [n for n in self._attached if n not in keep]:
            with contextlib.suppress(BufferError):
                self._attached.pop(name).close()

    def close(self) -> None:
        self.forget_others(set())


def unlink_leftovers(names: list[str]) -> None:
    """Unlink segments a dead writer left behind (each name at most once)."""
    for name in names:
        try:
            shm = attach(name)
        except FileNotFoundError:
            continue
        shm.close()
        with contextlib.suppress(FileNotFoundError):
            _unlink(name)


def _create(name: str, size: int, track: bool) -> shared_memory.SharedMemory:
    if track:
        return shared_memory.SharedMemory(name=name, create=True, size=size)
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, create=True, size=size, track=False)
    shm = shared_memory.SharedMemory(name=name, create=True, size=size)
    with contextlib.suppress(Exception):
        resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm


def _unlink(name: str) -> None:
    """Unlink without telling a resource tracker (for untracked segments)."""
    import _posixshmem

    _posixshmem.shm_unlink("/" + name.lstrip("/"))
