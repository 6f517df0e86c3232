"""Warm worker processes, so a reload or a pipeline switch skips the interpreter start.

A worker's fixed cost is Python plus torch (seconds on a small machine). The pool keeps one
process that has paid it and waits for a pipeline to load; taking it starts the next spare
in the background. Spares are generic: what they load arrives with the LOAD message.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: The worker's runtime tuning, each measured by ``python -m benchmarks --only worker_faults``
#: (docs/performance.md); a value already in the environment wins.
#: glibc returns frame-sized blocks (multi-MB tensors) to the kernel on free, so every frame
#: zero-fills fresh pages (600-1800 faults a 720p frame): keep blocks up to 32 MB in the heap
#: and up to 256 MB of free memory (bounded by one frame's working set).
#: OpenMP threads sleep between torch ops instead of spinning, which gives the app's GUI
#: thread its core back between frames at no cost in fps.
WORKER_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
    "OMP_WAIT_POLICY": "PASSIVE",
}


def worker_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` plus :data:`WORKER_ENV` where ``base`` does not set them, and the studio on
    PYTHONPATH (the worker runs ``python -m studio.engine.worker``)."""
    env = {**WORKER_ENV, **base}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
    return env


class WorkerProcess:
    """A worker's OS process and our end of its socketpair."""

    def __init__(self) -> None:
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "studio.engine.worker", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=worker_environment(os.environ),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn: Any = Connection(ours.detach())

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll()

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def join(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.join(2.0)


class WorkerPool:
    """Keeps ``spares`` started workers ready; :meth:`take` never waits for one."""

    def __init__(self, spares: int = 1):
        self.spares = spares
        self._lock = threading.Lock()
        self._ready: list[WorkerProcess] = []
        self._closed = False

    def take(self) -> WorkerProcess:
        with self._lock:
            while self._ready:
                proc = self._ready.pop(0)
                if proc.is_alive():
                    break
            else:
                proc = None
        if proc is None:
            proc = WorkerProcess()
        self.fill()
        return proc

    def fill(self) -> None:
        """Start spares up to the target count (cheap: Popen returns at once)."""
        with self._lock:
            while not self._closed and len(self._ready) < self.spares:
                self._ready.append(WorkerProcess())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, []
        for proc in ready:
            with contextlib.suppress(OSError):
                proc.conn.close()  # the spare sees EOF and exits
            proc.join(0.5)
            proc.kill()


_default: WorkerPool | None = None


def default_pool() -> WorkerPool:
    """The process-wide pool the app uses (closed at exit)."""
    global _default
    if _default is None:
        _default = WorkerPool()
        atexit.register(_default.close)
    return _default
