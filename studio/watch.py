"""A tiny polling file watcher: stat only, no dependencies, same behaviour on every OS.

Why polling: the studio watches a handful of pipeline files, where a few ``stat`` calls a
second cost nothing, and polling sees what event APIs make hard: editors that save by writing
a temp file and renaming it over the original (new inode), files deleted and created again,
network and container mounts without change events.

The callback runs on the watcher's own daemon thread, once per burst of changes, after
``debounce`` seconds without a further change (an editor's save is often several writes). A
Qt app should hop to its GUI thread from there, for example by emitting a signal.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

#: What identifies one version of a file; ``None`` while the file does not exist.
Signature = tuple[int, int, int, int] | None


def file_signature(path: Path) -> Signature:
    """``(mtime_ns, size, inode, device)`` of ``path``, or ``None`` if it cannot be stat'ed.

    The inode changes when an editor saves by rename, even if size and mtime happen to match.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


class FileWatcher:
    """Calls ``callback(changed_paths)`` when watched files change, appear or disappear.

    ``interval`` is the polling period. ``debounce`` is the quiet time that ends a burst;
    ``max_delay`` bounds how long a file that never stops changing can hold reports back.
    Paths are reported in the order they were given. An exception in the callback is logged
    and the watcher keeps going.
    """

    def __init__(
        self,
        paths: Iterable[Path | str],
        callback: Callable[[list[Path]], None],
        interval: float = 0.25,
        debounce: float = 0.3,
        *,
        max_delay: float = 3.0,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.callback = callback
        self.interval = interval
        self.debounce = max(0.0, debounce)
        self.max_delay = max(max_delay, self.debounce)
        self._lock = threading.Lock()
        self._paths: list[Path] = []
        self._seen: dict[Path, Signature] = {}
        self._pending: set[Path] = set()
        self._first_change = 0.0
        self._last_change = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.set_paths(paths)

    @property
    def paths(self) -> list[Path]:
        """The watched paths, in the order given."""
        with self._lock:
            return list(self._paths)

    @property
    def running(self) -> bool:
        """Whether the watcher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def set_paths(self, paths: Iterable[Path | str]) -> None:
        """Watch exactly ``paths`` from now on. Files already watched keep their state (a
        change in flight is still reported); new ones are compared from their state now."""
        unique = list(dict.fromkeys(Path(p) for p in paths))
        with self._lock:
            known = set(self._seen)
        fresh = {p: file_signature(p) for p in unique if p not in known}
        with self._lock:
            self._paths = unique
            seen: dict[Path, Signature] = {}
            for p in unique:
                if p in self._seen:
                    seen[p] = self._seen[p]
                else:
                    seen[p] = fresh[p] if p in fresh else file_signature(p)
            self._seen = seen
            self._pending &= set(unique)

    def start(self) -> None:
        """Start polling on a daemon thread (a no-op if already running)."""
        if self.running:
            return
        with self._lock:
            self._seen = {p: file_signature(p) for p in self._paths}
            self._pending.clear()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="studio-file-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop polling and wait (up to ``timeout``) for the thread; pending reports are
        dropped. Safe to call from the callback itself and more than once."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.interval):
            changed = self.poll()
            if changed and not stop.is_set():
                try:
                    self.callback(changed)
                except Exception:
                    log.exception("file watcher callback failed")

    def poll(self, now: float | None = None) -> list[Path]:
        """Stat every path once; the paths of a burst that has just ended, else ``[]``.

        The watcher thread calls this; it is public so that a headless tool can drive a
        watcher from its own loop without starting the thread.
        """
        with self._lock:
            paths = list(self._paths)
        current = {p: file_signature(p) for p in paths}
        now = time.monotonic() if now is None else now  # after the stats: quiet starts here
        with self._lock:
            for path, signature in current.items():
                # A path dropped by set_paths meanwhile is no longer of interest.
                if path in self._seen and signature != self._seen[path]:
                    if not self._pending:
                        self._first_change = now
                    self._pending.add(path)
                    self._last_change = now
                    self._seen[path] = signature
            if not self._pending:
                return []
            quiet = now - self._last_change >= self.debounce
            overdue = now - self._first_change >= self.max_delay
            if not (quiet or overdue):
                return []
            changed = [p for p in self._paths if p in self._pending]
            self._pending.clear()
            return changed
