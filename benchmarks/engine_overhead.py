"""Engine overhead: frames/s through the Engine divided by frames/s of a direct loop.

This is ``studio bench`` (:func:`studio.bench.bench`) over three pipelines of rising cost:
identity (only the host's work), green-shift (one in-place op) and edge-detect (a Sobel
filter), at 640x360 and 1280x720. Both loops run side by side in alternating rounds, so
the ratio survives a noisy machine; the target is engine/direct >= 0.90.

``--threads N`` sets OMP_NUM_THREADS for both child processes (the direct loop and the
worker): on a 2-core machine it shows how much of the gap is torch's threads competing with
the parent process for the same cores.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

from benchmarks.common import Report, infos, module_main, say

PIPELINES = ["identity", "green-shift", "edge-detect"]
SIZES = [(640, 360), (1280, 720)]
TARGET = 0.90


def lean_engine_run(engine: Any, frames: list[Any], count: int) -> dict[str, Any]:
    """:func:`studio.bench.engine_run` keeping each result's timings, not its image.

    ``engine_run`` keeps every ProcessedFrame until the round ends, so every copy out of
    shared memory lands in fresh memory (page faults: ~2.5 ms a 1280x720 frame in the
    reader thread) while the direct loop's output is dropped and its memory reused. The app
    keeps only the latest frame, like this.
    """
    done = threading.Event()
    timings: list[tuple[float, float]] = []
    sent = 0
    lock = threading.Lock()

    def feed() -> None:
        nonlocal sent
        with lock:
            if sent < count:
                image = frames[sent % len(frames)]
                sent += 1
                engine.submit(image, pts=sent * 3000)

    def on_frame(out: Any) -> None:
        timings.append((out.latency_ms, out.pipeline_ms))
        if len(timings) >= count:
            done.set()
        else:
            feed()

    engine.on_frame = on_frame
    before = engine.snapshot()
    began = time.perf_counter()
    feed()
    feed()
    if not done.wait(600):
        raise RuntimeError("the engine stopped answering during the benchmark")
    elapsed = time.perf_counter() - began
    engine.on_frame = None
    while not engine.idle():
        time.sleep(0.01)
    after = engine.snapshot()
    return {
        "elapsed": elapsed,
        "frames": len(timings),
        "latency": [t[0] for t in timings],
        "pipeline": [t[1] for t in timings],
        "drops": after.drops - before.drops,
        "failed": after.failed - before.failed,
    }


def run(quick: bool, threads: int | None = None, lean: bool = False) -> Report:
    import studio.bench
    from studio.bench import HEADER, bench

    if lean:
        studio.bench.engine_run = lean_engine_run  # bench() looks it up at call time
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # inherited by both children
    # many short alternating rounds: a slow patch of a shared machine hits one round
    frames, rounds = (40, 3) if quick else (60, 7)
    found = infos(*PIPELINES)
    say(HEADER)
    results = bench(
        [found[name] for name in PIPELINES],
        SIZES,
        frames=frames,
        rounds=rounds,
        device="cpu",
        say=say,
    )
    report = Report("engine_overhead")
    report.details = {
        "frames_per_round": frames,
        "rounds": rounds,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "lean": lean,
        "results": [r.to_json() for r in results],
    }
    for r in results:
        # where an engine frame's time goes: the worker's own figure (tensor in, transform,
        # tensor out), and the gap between two frames in the worker (messages, wake-ups)
        frame_ms = 1000 / r.engine_fps if r.engine_fps else 0.0
        split = {
            "direct_ms_p50": r.direct_ms_p50,
            "engine_ms_per_frame": round(frame_ms, 2),
            "worker_pipeline_ms_p50": r.pipeline_ms_p50,
            "gap_ms": round(frame_ms - r.pipeline_ms_p50, 2),
        }
        report.details.setdefault("split", {})[f"{r.pipeline} {r.size}"] = split
        report.add(
            f"{r.pipeline} {r.size} engine/direct fps",
            r.ratio,
            at_least=TARGET,
            note=f"direct {r.direct_fps:.0f} fps ({r.direct_ms_p50:.1f} ms p50), engine "
            f"{r.engine_fps:.0f} fps = worker {r.pipeline_ms_p50:.1f} ms + gap "
            f"{split['gap_ms']:.1f} ms; rounds {r.rounds}",
        )
    return report


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=int, help="OMP_NUM_THREADS for the direct loop and the worker"
    )
    parser.add_argument(
        "--lean",
        action="store_true",
        help="what-if: the engine loop keeps timings, not frames (see lean_engine_run)",
    )


if __name__ == "__main__":
    raise SystemExit(module_main(run, options=_options))
