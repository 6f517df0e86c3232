"""Live latency: capture to output through the Engine, with a paced 30 fps source.

A real-time test pattern (:class:`~studio.sources.TestPattern`, pumped by a
:class:`~studio.sources.SourcePump` exactly as the app does) feeds an Engine running a
pipeline of known cost. Each frame's capture-to-output latency is compared with the
pipeline's own time (measured in the worker): the studio may add at most 15 ms at p95.

To say where the rest goes, the benchmark wraps the engine's private ``_complete`` (no
change to the engine) to learn when each frame was sent to the worker, which splits the
latency into: *wait* (capture to dispatch: the copy into shared memory plus the wait for the
frame in flight), *pipeline* (the worker's own figure: tensor in, transform, tensor out) and
*return* (the rest: pipe messages, wake-ups, the copy out of shared memory).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from typing import Any

from benchmarks.common import Report, infos, module_main, percentile, say

CASES = [("edge-detect", 1280, 720), ("green-shift", 1280, 720)]
FPS = 30.0
BUDGET_MS = 15.0
WARMUP_S = 2.0


def measure(info: Any, width: int, height: int, seconds: float) -> dict[str, Any]:
    """Run ``info`` on a paced source for ``seconds``; per-frame timings after a warm-up."""
    from studio.engine import Engine
    from studio.sources import SourcePump, TestPattern

    engine = Engine(info.spec, info.file, device="cpu", hang_timeout=30)
    engine.start()
    worker = engine._active
    sent: dict[int, float] = {}
    original = worker._complete

    def complete() -> Any:  # the frame leaving the worker still knows when it was sent
        frame = original()
        if frame is not None:
            sent[frame.seq] = frame.t_sent
        return frame

    worker._complete = complete
    rows: list[tuple[float, float, float, float]] = []
    lock = threading.Lock()
    measuring = threading.Event()

    def on_frame(out: Any) -> None:
        if measuring.is_set() and not out.failed:
            with lock:
                rows.append((out.t_capture, sent.pop(out.seq, 0.0), out.t_output, out.pipeline_ms))

    engine.on_frame = on_frame

    def sink(frame: Any) -> None:
        engine.submit(
            frame.image, pts=frame.pts, time_base=frame.time_base, t_capture=frame.t_capture
        )

    pump = SourcePump(TestPattern(width, height, FPS, realtime=True), sink)
    pump.start()
    time.sleep(WARMUP_S)
    before = engine.snapshot()
    frames_before = pump.frames
    measuring.set()
    time.sleep(seconds)
    measuring.clear()
    after = engine.snapshot()
    produced = pump.frames - frames_before
    pump.stop()
    engine.stop()
    with lock:
        data = list(rows)
    latency = [(t_out - t_cap) * 1000 for t_cap, _, t_out, _ in data]
    pipeline = [ms for *_, ms in data]
    wait = [(t_sent - t_cap) * 1000 for t_cap, t_sent, _, _ in data if t_sent]
    back = [(t_out - t_sent) * 1000 - ms for _, t_sent, t_out, ms in data if t_sent]
    extra = [lat - ms for lat, ms in zip(latency, pipeline, strict=True)]
    return {
        "frames_in": produced,
        "frames_out": len(data),
        "source_fps": round(produced / seconds, 2),
        "output_fps": round(len(data) / seconds, 2),
        "drops": after.drops - before.drops,
        "latency_p50_ms": round(percentile(latency, 50), 2),
        "latency_p95_ms": round(percentile(latency, 95), 2),
        "latency_max_ms": round(max(latency, default=0.0), 2),
        "pipeline_p50_ms": round(percentile(pipeline, 50), 2),
        "pipeline_p95_ms": round(percentile(pipeline, 95), 2),
        "wait_p50_ms": round(percentile(wait, 50), 2),
        "wait_p95_ms": round(percentile(wait, 95), 2),
        "return_p50_ms": round(percentile(back, 50), 2),
        "return_p95_ms": round(percentile(back, 95), 2),
        "added_p50_ms": round(percentile(extra, 50), 2),
        "added_p95_ms": round(percentile(extra, 95), 2),
        "overhead_mean_ms": round(statistics.fmean(latency) - statistics.fmean(pipeline), 2)
        if data
        else None,
    }


def run(quick: bool, threads: int | None = None, only: str | None = None) -> Report:
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # the worker inherits it
    seconds = 6.0 if quick else 15.0
    found = infos(*(name for name, _, _ in CASES), extra=False)
    report = Report("live_latency")
    report.details["seconds_per_case"] = seconds
    if threads is not None:
        report.notes.append(f"what-if run: OMP_NUM_THREADS={threads} in the worker")
    for name, width, height in CASES:
        if only is not None and name != only:
            continue
        say(f"{name} {width}x{height} @ {FPS:g} fps for {seconds:g} s ...")
        m = measure(found[name], width, height, seconds)
        say(f"  {m}")
        report.details[f"{name} {width}x{height}"] = m
        label = f"{name} {width}x{height}"
        report.add(
            f"{label} latency p95 - pipeline p95",
            m["latency_p95_ms"] - m["pipeline_p95_ms"],
            "ms",
            at_most=BUDGET_MS,
            note=f"latency p50 {m['latency_p50_ms']} / p95 {m['latency_p95_ms']} ms, pipeline "
            f"p50 {m['pipeline_p50_ms']} / p95 {m['pipeline_p95_ms']} ms; wait p95 "
            f"{m['wait_p95_ms']}, return p95 {m['return_p95_ms']} ms",
        )
        report.add(
            f"{label} per-frame added latency p95",
            m["added_p95_ms"],
            "ms",
            note="p95 of (latency - pipeline time) frame by frame: less sensitive to a slow "
            "patch of the machine than the difference of two p95s",
        )
        report.add(
            f"{label} dropped frames",
            100.0 * m["drops"] / max(1, m["frames_in"]),
            "%",
            note=f"{m['drops']} of {m['frames_in']}; out {m['output_fps']} fps",
        )
    return report


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, help="what-if: OMP_NUM_THREADS for the worker")
    parser.add_argument("--pipeline", dest="only", help="only this pipeline")


if __name__ == "__main__":
    raise SystemExit(module_main(run, options=_options))
