"""Start-up: from launching the app's process to the window on screen, and to the first frame.

A fresh Python process runs ``studio.ui.app.run_app`` (what ``studio`` runs) with an
application-wide event filter (nothing in ``studio/ui`` changes) that notes when the start-up
splash first paints (the first window on screen), when the main window's preview panes first
paint, and when the first processed frame is painted. Times are ``time.monotonic()``, one
clock for the whole machine, from just before the process was spawned.

* cold: an empty STUDIO_HOME (no discovery cache, no settings): discovery must import every
  bundled pipeline in a child process;
* warm: the same STUDIO_HOME again (the cache answers, no discovery child).

The operating system's file cache is warm in both (the first run of the benchmark pays for
it and is not counted). Target: launch to window shown <= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.common import ROOT, Report, module_main, say

TARGET_S = 1.5

# The child: run_app's steps, plus marks. Kept in one string so that the child imports
# exactly what the app imports (not the benchmarks package).
CHILD = r"""
import json, os, sys, time, types
marks = {}
def mark(name):
    marks.setdefault(name, time.monotonic())
mark("python_started")
EARLY_POOL
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])  # run_app takes this one
mark("app_created")

def main_window():
    return next((w for w in app.topLevelWidgets() if type(w).__name__ == "StudioWindow"), None)

class Watch(QObject):
    # paint events as they are delivered, to the splash and to the main window's panes
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            kind = type(obj).__name__
            if kind == "StartupSplash":
                mark("splash_painted")
            elif kind == "FrameView":
                mark("first_paint")
                window = main_window()
                if window is not None and obj is window.output_view and obj.frame is not None:
                    mark("first_frame_painted")
                    QTimer.singleShot(0, finish)
        return False

def finish():
    window = main_window()
    if window is not None:
        window.close()
    app.quit()

def poll():
    window = main_window()
    if window is None:
        return
    mark("window_built")
    if window.session.latest_output is not None:
        mark("first_frame_out")
    if window.state == "running":
        mark("engine_running")
    if window.pipelines.infos():
        mark("discovered")

watch = Watch()
app.installEventFilter(watch)
timer = QTimer()
timer.timeout.connect(poll)
timer.start(10)
QTimer.singleShot(120_000, finish)
from studio.ui.app import run_app
run_app(types.SimpleNamespace(pipelines=[], pipeline=None, input=None, params=None))
print(json.dumps(marks), flush=True)
"""


#: What-if: the worker starts warming up first thing, not once the window is being built.
EARLY_POOL = "from studio.engine.pool import default_pool; default_pool().fill()"


def launch(home: str, early_pool: bool = False) -> dict[str, float]:
    """One launch; milestones in seconds since just before the spawn."""
    env = dict(os.environ, STUDIO_HOME=home)
    if not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    began = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.replace("EARLY_POOL", EARLY_POOL if early_pool else "")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,  # so a stuck child and its workers go together
    )
    try:
        out, _ = child.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise RuntimeError("the app did not show a processed frame within 180 s") from None
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"the app exited with {child.returncode} before showing a frame")
    marks = json.loads(lines[-1])
    result = {k: round(v - began, 3) for k, v in marks.items()}
    if "first_frame_painted" not in result:
        raise RuntimeError("the app showed no processed frame within 120 s")
    # the user sees a window once the splash paints; the studio's own once its panes paint
    result["window_shown"] = result.get("splash_painted", result["first_paint"])
    result["main_window_shown"] = result["first_paint"]
    return result


def import_times(top: int = 12) -> list[tuple[str, float]]:
    """The slowest imports (cumulative ms) of what the app imports before its window."""
    code = (
        "from PySide6.QtWidgets import QApplication; import qasync; "
        "import studio.settings, studio.ui.main_window"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((parts[2].rstrip(), int(parts[1]) / 1000))
    rows.sort(key=lambda r: -r[1])
    return [(name.strip(), round(ms, 1)) for name, ms in rows[:top]]


STAGES = r"""
import json, time
t0 = time.monotonic(); marks = []
def mark(name):
    marks.append((name, round((time.monotonic() - t0) * 1000)))
from PySide6.QtWidgets import QApplication; mark("PySide6.QtWidgets")
import qasync; mark("qasync")
import numpy; mark("numpy")
from pydantic import BaseModel; mark("pydantic (BaseModel)")
import studio.settings; mark("studio.settings")
import cv2; mark("cv2")
import av; mark("av")
import studio.engine; mark("studio.engine")
import studio.session; mark("studio.session")
import studio.ui.main_window; mark("studio.ui.main_window")
print(json.dumps(marks))
"""


def import_stages(reps: int = 3) -> dict[str, float]:
    """What each group of the app's imports adds, in ms, in the order the app needs them
    (median of ``reps`` fresh interpreters; a module already loaded by an earlier group
    costs nothing later)."""
    runs = []
    for _ in range(reps):
        out = subprocess.run(
            [sys.executable, "-c", STAGES], capture_output=True, text=True, cwd=ROOT
        ).stdout
        marks = json.loads(out.strip().splitlines()[-1])
        runs.append(
            [(name, ms - (marks[i - 1][1] if i else 0)) for i, (name, ms) in enumerate(marks)]
        )
    names = [name for name, _ in runs[0]]
    return {name: statistics.median(r[i][1] for r in runs) for i, name in enumerate(names)}


def run(quick: bool, early_pool: bool = False) -> Report:
    reps = 1 if quick else 3
    report = Report("startup")
    if early_pool:
        report.notes.append("what-if run: the pool's worker is started before the app's imports")
    say("priming the OS file cache (not counted) ...")
    prime = tempfile.mkdtemp(prefix="studio-bench-startup-")
    launch(prime)
    shutil.rmtree(prime, ignore_errors=True)
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    for rep in range(reps):
        home = tempfile.mkdtemp(prefix="studio-bench-startup-")
        try:
            for kind in ("cold", "warm"):
                result = launch(home, early_pool)
                say(f"  {kind} #{rep + 1}: {result}")
                runs[kind].append(result)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    report.details["runs"] = runs
    report.details["slowest_imports_ms"] = import_times()
    report.details["import_stages_ms"] = import_stages()
    say(f"  import stages (ms each): {report.details['import_stages_ms']}")
    for kind in ("cold", "warm"):
        shown = statistics.median(r["window_shown"] for r in runs[kind])
        main = statistics.median(r["main_window_shown"] for r in runs[kind])
        frame = statistics.median(r["first_frame_painted"] for r in runs[kind])
        report.add(
            f"{kind}: launch to window shown (the start-up splash)",
            shown,
            "s",
            at_most=TARGET_S,
            note=f"median of {reps}",
        )
        report.add(
            f"{kind}: launch to the main window shown",
            main,
            "s",
            note=f"median of {reps}; the splash says what loads meanwhile",
        )
        report.add(
            f"{kind}: launch to first processed frame on screen",
            frame,
            "s",
            note=f"median of {reps}; discovery answered at "
            f"{statistics.median(r.get('discovered', 0) for r in runs[kind]):.2f} s, engine "
            f"running at {statistics.median(r.get('engine_running', 0) for r in runs[kind]):.2f} s",
        )
    return report


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--early-pool",
        action="store_true",
        help="what-if: start the worker pool before the app's imports (a proposed change)",
    )


if __name__ == "__main__":
    raise SystemExit(module_main(run, options=_options))
