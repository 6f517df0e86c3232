"""UI stalls: how late the studio window's event loop runs a 5 ms timer while previewing.

The real :class:`~studio.ui.main_window.StudioWindow` (offscreen, or the X display when
DISPLAY is set) previews a 1280x720 test pattern at 30 fps through ``busy25``, a pipeline that
takes about 25 ms a frame. A 5 ms precise QTimer records each tick; a tick's lateness is the
time the loop could not answer anything: a click, a key, a repaint. Targets: max <= 25 ms and
p99 <= 10 ms.

Three phases, one process:

* ``baseline``: the same probe in the same process before the window exists: the machine's
  own scheduling noise (other processes, the other core's load), the floor for the others;
* ``compute``: busy25 doing real torch work for 25 ms a frame (the figure of the budget);
* ``sleep``: busy25 sleeping 25 ms a frame, so that CPU contention from the worker is gone
  and what is left is the app process itself.

The window's frame and stats slots and the preview's ``paintEvent`` are wrapped (patched on
the classes, nothing in ``studio/ui`` changes) so each stall over 10 ms is split into time
spent in those calls and time outside them (Qt internals, the GIL held by another thread,
the process waiting for a core).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from benchmarks.app_harness import (
    CallLog,
    Probe,
    attribute,
    make_app,
    open_window,
    prepare_env,
    wait_for,
    worker_pid,
)
from benchmarks.common import PIPELINES, Report, cpu_seconds, module_main, say, thread_cpu

MAX_TARGET_MS = 25.0
P99_TARGET_MS = 10.0


async def _phase(probe: Probe, log: CallLog | None, seconds: float, pids: dict[str, int]) -> dict:
    """Run the probe for ``seconds``; lateness, attribution and CPU use over that time."""
    cpu_before = {k: cpu_seconds(pid) for k, pid in pids.items()}
    threads_before = thread_cpu()
    if log is not None:
        log.calls.clear()
        log.enabled = True
    probe.start()
    began = time.perf_counter()
    await asyncio.sleep(seconds)
    probe.stop()
    elapsed = time.perf_counter() - began
    result: dict[str, Any] = {"seconds": round(elapsed, 2), **probe.summary()}
    if log is not None:
        log.enabled = False
        result["gui_calls"] = log.summary(elapsed)
        result["stalls"] = attribute(probe, log)
    cpu_after = {k: cpu_seconds(pid) for k, pid in pids.items()}
    result["cpu_pct"] = {
        k: round(100 * ((cpu_after[k] or 0) - (cpu_before[k] or 0)) / elapsed, 1) for k in pids
    }
    threads_after = thread_cpu()
    result["app_threads_cpu_pct"] = {
        name: round(100 * (threads_after.get(name, 0) - threads_before.get(name, 0)) / elapsed, 1)
        for name in threads_after
        if threads_after.get(name, 0) - threads_before.get(name, 0) > 0.01 * elapsed
    }
    return result


async def _measure(seconds: float) -> dict[str, Any]:
    log = CallLog()
    log.wrap_window()
    probe = Probe(5)
    results: dict[str, Any] = {}
    say(f"baseline: the probe alone for {min(seconds, 5.0):g} s ...")
    results["baseline"] = await _phase(probe, None, min(seconds, 5.0), {})
    window = open_window([str(PIPELINES)], "busy25", "testsrc:1280x720", {"ms": 25.0})
    try:
        ok = await wait_for(
            lambda: window.state == "running" and window.session.latest_output is not None, 180
        )
        if not ok:
            raise RuntimeError(f"the window never ran busy25 (state {window.state})")
        await asyncio.sleep(2.0)  # the first frames, the first paints, the pool's new spare
        pid = worker_pid(window)
        pids = {"app": os.getpid(), "worker": pid or 0}
        for mode in ("compute", "sleep"):
            if mode != "compute":
                window.session.update_params({"mode": mode})
                engine = window.session.engine
                await wait_for(lambda e=engine, m=mode: e.params.get("mode") == m, 30)
                await asyncio.sleep(1.0)
            say(f"{mode}: previewing through busy25 for {seconds:g} s ...")
            before = window.session.engine.snapshot()
            result = await _phase(probe, log, seconds, pids)
            after = window.session.engine.snapshot()
            result["engine"] = {
                "output_fps": after.output_fps,
                "pipeline_ms": round(after.pipeline_ms, 1),
                "latency_ms": round(after.latency_ms, 1),
                "drops": after.drops - before.drops,
                "frames_out": after.frames_out - before.frames_out,
            }
            results[mode] = result
            say(f"  {mode}: { {k: v for k, v in result.items() if k.startswith('late')} }")
    finally:
        window.close()
    return results


def run(quick: bool, worker_threads: int | None = None) -> Report:
    prepare_env()
    if worker_threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(worker_threads)  # the pool's workers inherit it
    app, loop = make_app()
    seconds = 8.0 if quick else 20.0
    with loop:
        results = loop.run_until_complete(_measure(seconds))
    app.processEvents()
    report = Report("ui_stalls", details=results)
    if worker_threads is not None:
        results["what_if"] = {"worker_threads": worker_threads}
        report.notes.append(f"what-if run, not the budget's figure: {results['what_if']}")
    base = results["baseline"]
    for mode in ("compute", "sleep"):
        r = results[mode]
        note = (
            f"baseline (probe alone) max {base['late_max_ms']} / p99 {base['late_p99_ms']} ms; "
            f"out {r['engine']['frames_out'] / r['seconds']:.1f} fps, "
            f"pipeline {r['engine']['pipeline_ms']} ms"
        )
        target = mode == "compute"
        report.add(
            f"busy25 {mode}: loop stall max",
            r["late_max_ms"],
            "ms",
            at_most=MAX_TARGET_MS if target else None,
            note=note,
        )
        report.add(
            f"busy25 {mode}: loop stall p99",
            r["late_p99_ms"],
            "ms",
            at_most=P99_TARGET_MS if target else None,
        )
    report.add("baseline (no window): loop stall max", base["late_max_ms"], "ms")
    report.add("baseline (no window): loop stall p99", base["late_p99_ms"], "ms")
    return report


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--worker-threads", type=int, help="what-if: OMP_NUM_THREADS for the pipeline's worker"
    )


if __name__ == "__main__":
    raise SystemExit(module_main(run, options=_options))
