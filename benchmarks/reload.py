"""Hot reload: from saving a pipeline file to the first frame made by the new code.

A copy of green-shift that tags each frame with a revision number (``REV``, in the frame's
metadata) runs in an Engine with a warm :class:`~studio.engine.pool.WorkerPool`, fed by a
30 fps test pattern at 1280x720, as in the app. Each repetition rewrites the file with the
next revision and times the first frame that carries it. Three paths:

* ``watcher``: what the app does on save (``StudioWindow._on_files_changed``): a
  :class:`~studio.watch.FileWatcher` polling every 0.1 s with a 0.15 s debounce calls
  ``engine.reload()``, and discovery rescans the folder 4 s later (the app defers its
  ``rescan()`` so that the child importing the folder does not compete with the reload);
* ``reload``: ``engine.reload()`` called right after the save: the engine's own share;
* ``deferred``: as ``reload``, but the pool starts its next spare 3 s after the take instead
  of at once (patched on the pool instance): how much the new spare's torch import, running
  beside the reload on a small machine, costs the reload;
* ``cold``: no pool: a new Engine started from scratch (a fresh interpreter and torch).

Before each warm repetition the pool's spare is given time to finish importing torch (it
says hello on its pipe), since a user saves far less often than every few seconds.
Target: the warm path (``watcher``) <= 1.5 s.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Report, module_main, prepare_home, say, write_green_shift_copy

TARGET_S = 1.5
#: The app's watcher and rescan timing (studio/ui/main_window.py, since commit b1ada9d).
APP_POLL, APP_DEBOUNCE, APP_RESCAN_DELAY = 0.1, 0.15, 4.0


class Feed:
    """A paced 1280x720 source into whichever engine is current; notes each frame's REV."""

    def __init__(self) -> None:
        from studio.sources import SourcePump, TestPattern

        self.engine: Any = None
        self.lock = threading.Lock()
        self.waiting: tuple[int, threading.Event] | None = None
        self.seen_at = 0.0
        self.pump = SourcePump(TestPattern(1280, 720, 30.0, realtime=True), self._sink)

    def attach(self, engine: Any) -> None:
        engine.on_frame = self._on_frame
        self.engine = engine

    def _sink(self, frame: Any) -> None:
        engine = self.engine
        if engine is not None:
            engine.submit(frame.image, t_capture=frame.t_capture)

    def _on_frame(self, out: Any) -> None:
        rev = (out.metadata or {}).get("rev")
        with self.lock:
            if self.waiting is not None and rev == self.waiting[0]:
                self.seen_at = time.monotonic()
                self.waiting[1].set()
                self.waiting = None

    def expect(self, rev: int) -> threading.Event:
        event = threading.Event()
        with self.lock:
            self.waiting = (rev, event)
        return event


def _spare_ready(pool: Any, timeout: float = 120.0) -> bool:
    """Wait until the pool's spare has imported torch (its HELLO is waiting on the pipe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = list(pool._ready)
        if ready and ready[0].conn.poll(0):
            return True
        time.sleep(0.1)
    return False


def _info(folder: Path) -> Any:
    from studio.discovery import discover

    found = [i for i in discover([folder], bundled=False, entry_points=False) if i.ok]
    if not found:
        raise RuntimeError("the green-shift copy was not discovered")
    return found[0]


def run(quick: bool) -> Report:
    from studio.discovery import discover
    from studio.engine import Engine
    from studio.engine.pool import WorkerPool
    from studio.watch import FileWatcher

    prepare_home()
    reps = 2 if quick else 5
    folder = Path(tempfile.mkdtemp(prefix="studio-bench-reload-"))
    file = write_green_shift_copy(folder, rev=1)
    info = _info(folder)
    pool = WorkerPool(spares=1)
    pool.fill()
    feed = Feed()
    engine = Engine(info.spec, info.file, device="cpu", pool=pool, hang_timeout=30)
    engine.start()
    feed.attach(engine)
    feed.pump.start()
    times: dict[str, list[dict[str, float]]] = {
        "watcher": [],
        "reload": [],
        "deferred": [],
        "cold": [],
    }
    rev = 1
    marks: dict[str, float] = {}

    def on_event(event: Any) -> None:
        if event.kind == "reloaded":
            marks.setdefault("ready", time.monotonic())

    engine.on_event = on_event

    def on_change(_paths: list[Path]) -> None:
        marks["callback"] = time.monotonic()
        engine.reload()
        rescan = threading.Timer(APP_RESCAN_DELAY, discover, ([folder],), {"cache": True})
        rescan.daemon = True
        rescan.start()

    watcher = FileWatcher([file], on_change, interval=APP_POLL, debounce=APP_DEBOUNCE)
    watcher.start()
    try:
        for rep in range(reps):
            for path in ("watcher", "reload", "deferred"):
                if not _spare_ready(pool):
                    raise RuntimeError("the pool's spare worker never got ready")
                time.sleep(0.5)
                rev += 1
                marks.clear()
                seen = feed.expect(rev)
                watcher_on = path == "watcher"
                if not watcher_on:
                    watcher.stop()
                if path == "deferred":
                    pool.fill = lambda: threading.Timer(3.0, WorkerPool.fill, (pool,)).start()
                saved = time.monotonic()
                write_green_shift_copy(folder, rev)
                if not watcher_on:
                    engine.reload()
                if not seen.wait(60):
                    raise RuntimeError(f"no frame from revision {rev} within 60 s")
                pool.__dict__.pop("fill", None)
                row = {"total": feed.seen_at - saved}
                if "callback" in marks:
                    row["save_to_callback"] = marks["callback"] - saved
                if "ready" in marks:
                    row["to_ready"] = marks["ready"] - saved
                    row["ready_to_frame"] = feed.seen_at - marks["ready"]
                row = {k: round(v, 3) for k, v in row.items()}
                say(f"  {path} #{rep + 1}: {row}")
                times[path].append(row)
                if not watcher_on:
                    watcher.start()  # takes the file as it is now: the save it missed is old
        watcher.stop()
        engine.stop()
        for rep in range(max(1, reps // 2)):
            rev += 1
            seen = feed.expect(rev)
            saved = time.monotonic()
            write_green_shift_copy(folder, rev)
            cold = Engine(info.spec, info.file, device="cpu", hang_timeout=30)
            cold.start(wait=False)
            while cold.state != "running" and cold.state != "failed":
                time.sleep(0.01)
            feed.attach(cold)
            if not seen.wait(60):
                raise RuntimeError(f"no frame from the cold engine (rev {rev}) within 60 s")
            row = {"total": round(feed.seen_at - saved, 3)}
            say(f"  cold #{rep + 1}: {row}")
            times["cold"].append(row)
            feed.engine = None
            cold.stop()
    finally:
        watcher.stop()
        feed.pump.stop()
        engine.stop()
        pool.close()
    report = Report("reload", details={"runs": times})
    medians = {k: statistics.median(r["total"] for r in v) for k, v in times.items() if v}

    def part(path: str, key: str) -> str:
        values = [r[key] for r in times[path] if key in r]
        return f"{statistics.median(values):.2f}" if values else "?"

    report.add(
        "warm, as the app does (watcher + reload): save to first new frame",
        medians["watcher"],
        "s",
        at_most=TARGET_S,
        note=f"median of {reps}; save to watcher callback {part('watcher', 'save_to_callback')} "
        f"s, to new worker ready {part('watcher', 'to_ready')} s",
    )
    report.add(
        "warm, engine.reload() right after the save: to first new frame",
        medians["reload"],
        "s",
        note=f"median of {reps}; to new worker ready {part('reload', 'to_ready')} s, ready to "
        f"first frame {part('reload', 'ready_to_frame')} s",
    )
    report.add(
        "warm, engine.reload(), next spare started 3 s later: to first new frame",
        medians["deferred"],
        "s",
        note=f"median of {reps}; to new worker ready {part('deferred', 'to_ready')} s",
    )
    report.add(
        "cold (no pool): save to first new frame",
        medians["cold"],
        "s",
        note=f"median of {len(times['cold'])}",
    )
    return report


if __name__ == "__main__":
    raise SystemExit(module_main(run))
