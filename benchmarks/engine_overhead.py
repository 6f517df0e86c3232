"""Engine overhead: frames/s through the Engine divided by frames/s of a direct loop.

This is ``studio bench`` (:func:`studio.bench.bench`) over three pipelines of rising cost:
identity (only the host's work), green-shift (one in-place op) and edge-detect (a Sobel
filter), at 640x360 and 1280x720. Both loops run side by side in alternating rounds, so
the ratio survives a noisy machine; the target is engine/direct >= 0.90. The engine runs
with lookahead (the next frame waits in the worker, as in ``studio run``); ``--latest-wins``
measures the live preview's mode instead. Each figure's note gives the CPU per frame of the
direct loop and of the engine's two processes: on a machine whose cores the direct loop
already fills, engine/direct cannot exceed direct CPU / (worker + parent CPU).

``--threads N`` sets OMP_NUM_THREADS for both child processes (the direct loop and the
worker): on a 2-core machine it shows how much of the gap is torch's threads competing with
the parent process for the same cores.
"""

from __future__ import annotations

import argparse
import os

from benchmarks.common import Report, infos, module_main, say

PIPELINES = ["identity", "green-shift", "edge-detect"]
SIZES = [(640, 360), (1280, 720)]
TARGET = 0.90


def run(quick: bool, threads: int | None = None, latest_wins: bool = False) -> Report:
    from studio.bench import HEADER, bench

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
        lookahead=not latest_wins,
    )
    report = Report("engine_overhead")
    report.details = {
        "frames_per_round": frames,
        "rounds": rounds,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "mode": "latest-wins" if latest_wins else "lookahead",
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
            "direct_cpu_ms": r.direct_cpu_ms,
            "worker_cpu_ms": r.worker_cpu_ms,
            "parent_cpu_ms": r.parent_cpu_ms,
        }
        cpu = ""
        if r.direct_cpu_ms and r.worker_cpu_ms and r.parent_cpu_ms:
            cpu = (
                f"; CPU per frame: direct {r.direct_cpu_ms:.1f} ms, engine {r.worker_cpu_ms:.1f} "
                f"(worker) + {r.parent_cpu_ms:.1f} (parent) ms"
            )
        report.details.setdefault("split", {})[f"{r.pipeline} {r.size}"] = split
        report.add(
            f"{r.pipeline} {r.size} engine/direct fps",
            r.ratio,
            at_least=TARGET,
            note=f"direct {r.direct_fps:.0f} fps ({r.direct_ms_p50:.1f} ms p50), engine "
            f"{r.engine_fps:.0f} fps = worker {r.pipeline_ms_p50:.1f} ms + gap "
            f"{split['gap_ms']:.1f} ms{cpu}; rounds {r.rounds}",
        )
    return report


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=int, help="OMP_NUM_THREADS for the direct loop and the worker"
    )
    parser.add_argument(
        "--latest-wins",
        action="store_true",
        help="the live preview's mode: a frame goes to the worker only when it is free",
    )


if __name__ == "__main__":
    raise SystemExit(module_main(run, options=_options))
