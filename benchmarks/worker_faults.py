"""Diagnostic (not part of the budget): page faults and CPU time of the worker per frame.

Why the worker takes longer than ``studio bench``'s direct loop for the same transform: every
frame allocates float tensors of several MB (the input, the pipeline's temporaries, the
output before it becomes uint8). glibc serves blocks that large with ``mmap`` and gives them
back on free, so each frame touches fresh pages: hundreds of minor page faults, each a
zero-filled 4 KB page. The worker's own counters (``/proc/PID/stat``: minflt, utime, stime)
show it. ``--malloc`` runs the same with glibc told to keep such blocks in its heap
(``MALLOC_MMAP_THRESHOLD_`` 32 MiB, ``MALLOC_TRIM_THRESHOLD_`` 256 MiB, inherited by the
worker); ``--passive`` sets ``OMP_WAIT_POLICY=PASSIVE`` (torch's threads sleep between ops
instead of spinning). ``python -m benchmarks.worker_faults [--malloc] [--passive]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from benchmarks.common import Report, cpu_seconds, infos, module_main, say

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "268435456"}


def minor_faults(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rindex(")") + 2 :].split()[7])


def run(quick: bool, malloc: bool = False, passive: bool = False) -> Report:
    from studio.bench import engine_run, make_frames
    from studio.engine import Engine

    if malloc:
        os.environ.update(MALLOC_ENV)
    if passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    count = 100 if quick else 300
    found = infos("identity", "edge-detect")
    report = Report("worker_faults", details={"malloc": malloc, "passive": passive})
    for name in ("identity", "edge-detect"):
        engine = Engine(found[name].spec, found[name].file, device="cpu", hang_timeout=60)
        engine.start()
        pid = engine._active.process.pid  # private: a diagnostic may look inside
        try:
            for width, height in ((640, 360), (1280, 720)):
                frames = make_frames(width, height)
                engine_run(engine, frames, 30)
                faults0, cpu0 = minor_faults(pid), cpu_seconds(pid) or 0.0
                result = engine_run(engine, frames, count)
                faults = (minor_faults(pid) - faults0) / count
                cpu_ms = ((cpu_seconds(pid) or 0.0) - cpu0) * 1000 / count
                fps = result["frames"] / result["elapsed"]
                p50 = statistics.median(result["pipeline"])
                label = f"{name} {width}x{height}"
                report.details[label] = {
                    "fps": round(fps, 1),
                    "worker_ms_p50": round(p50, 2),
                    "faults_per_frame": round(faults, 1),
                    "worker_cpu_ms_per_frame": round(cpu_ms, 2),
                }
                say(f"  {label}: {report.details[label]}")
                report.add(f"{label} minor page faults per frame", faults)
                report.add(f"{label} worker time p50", p50, "ms", note=f"engine {fps:.0f} fps")
                report.add(f"{label} worker CPU per frame", cpu_ms, "ms")
        finally:
            engine.stop()
    return report


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--malloc", action="store_true", help="keep big blocks in the heap")
    parser.add_argument("--passive", action="store_true", help="OMP_WAIT_POLICY=PASSIVE")


if __name__ == "__main__":
    raise SystemExit(module_main(run, options=_options))
