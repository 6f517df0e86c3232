"""Start-up: from launching the app's process to the window on screen, and to the first frame.

A fresh Python process runs what ``python -m studio`` runs (``studio.ui.app.run_app``: the
QApplication, the qasync loop, ``StudioWindow(...)``, ``show()``), with two class-level hooks
on the preview pane's ``paintEvent`` (nothing in ``studio/ui`` changes) that print when the
first paint and the first processed frame were on screen. Times are ``time.monotonic()``,
one clock for the whole machine, from just before the process was spawned.

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
import json, os, sys, time
marks = {}
def mark(name):
    marks.setdefault(name, time.monotonic())
mark("python_started")
EARLY_POOL
import asyncio
from PySide6.QtWidgets import QApplication
import qasync
from studio.settings import Settings
from studio.ui.main_window import StartOptions, StudioWindow
from studio.ui.preview import FrameView
mark("imports_done")
original_paint = FrameView.paintEvent
state = {}
def paint(self, event):
    original_paint(self, event)
    mark("first_paint")
    window = state.get("window")
    if window is not None and self is window.output_view and self.frame is not None:
        mark("first_frame_painted")
        state["done"].set()
FrameView.paintEvent = paint
app = QApplication(sys.argv[:1])
app.setApplicationName("Livepeer Pipeline Studio")
app.setOrganizationName("Livepeer")
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
mark("app_created")
window = StudioWindow(StartOptions(), Settings.load())
state["window"] = window
mark("window_built")
window.show()
mark("show_returned")
async def main():
    state["done"] = asyncio.Event()
    async def watch():
        while True:
            if window.session.latest_output is not None:
                mark("first_frame_out")
            if window.state == "running":
                mark("engine_running")
            if window.pipelines.infos():
                mark("discovered")
            await asyncio.sleep(0.01)
    task = asyncio.ensure_future(watch())
    try:
        await asyncio.wait_for(state["done"].wait(), 120)
    finally:
        task.cancel()
    print(json.dumps(marks), flush=True)
    window.close()
with loop:
    loop.run_until_complete(main())
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
    result["window_shown"] = max(result["show_returned"], result.get("first_paint", 0.0))
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
        frame = statistics.median(r["first_frame_painted"] for r in runs[kind])
        imports = statistics.median(r["imports_done"] for r in runs[kind])
        report.add(
            f"{kind}: launch to window shown",
            shown,
            "s",
            at_most=TARGET_S,
            note=f"median of {reps}; imports done at {imports:.2f} s",
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
