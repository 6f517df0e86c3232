"""Diagnostic (not part of the budget): page faults and CPU time of the worker per frame.

Why the worker takes longer than ``studio bench``'s direct loop for the same transform: every
frame allocates float tensors of several MB (the input, the pipeline's temporaries, the
output before it becomes uint8). glibc serves blocks that large with ``mmap`` and may give
them back on free, so a frame can touch fresh pages: hundreds of minor page faults, each a
zero-filled 4 KB page. The worker's own counters (``/proc/PID/stat``: minflt, utime, stime)
show it.

Three workers run side by side, fed in alternating rounds (a shared machine drifts; this
way each variant sees the same drift): ``default``; ``malloc``, with glibc told to keep such
blocks in its heap (``MALLOC_MMAP_THRESHOLD_`` 32 MiB, ``MALLOC_TRIM_THRESHOLD_`` 256 MiB);
and ``malloc+passive``, which also sets ``OMP_WAIT_POLICY=PASSIVE`` (torch's threads sleep
between ops instead of spinning, leaving the second core to the app).
``python -m benchmarks.worker_faults``.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from benchmarks.common import Report, cpu_seconds, infos, module_main, say

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "268435456"}
VARIANTS = {
    "default": {},
    "malloc": MALLOC_ENV,
    "malloc+passive": {**MALLOC_ENV, "OMP_WAIT_POLICY": "PASSIVE"},
}
SIZES = [(640, 360), (1280, 720)]


def minor_faults(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rindex(")") + 2 :].split()[7])


def _start(info: Any, env: dict[str, str]) -> Any:
    """An engine whose worker was spawned with ``env`` added (the worker copies os.environ)."""
    from studio.engine import Engine

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        engine = Engine(info.spec, info.file, device="cpu", hang_timeout=60)
        engine.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return engine


def run(quick: bool) -> Report:
    from studio.bench import engine_run, make_frames

    count, rounds = (60, 2) if quick else (100, 4)
    found = infos("identity", "edge-detect")
    report = Report("worker_faults", details={"frames_per_round": count, "rounds": rounds})
    for name in ("identity", "edge-detect"):
        engines = {v: _start(found[name], env) for v, env in VARIANTS.items()}
        try:
            for width, height in SIZES:
                frames = make_frames(width, height)
                rows: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
                for engine in engines.values():
                    engine_run(engine, frames, 20)
                for _ in range(rounds):
                    for variant, engine in engines.items():
                        pid = engine._active.process.pid  # private: a diagnostic looks inside
                        faults0, cpu0 = minor_faults(pid), cpu_seconds(pid) or 0.0
                        result = engine_run(engine, frames, count)
                        rows[variant].append(
                            {
                                "fps": result["frames"] / result["elapsed"],
                                "p50": statistics.median(result["pipeline"]),
                                "faults": (minor_faults(pid) - faults0) / count,
                                "cpu": ((cpu_seconds(pid) or 0.0) - cpu0) * 1000 / count,
                            }
                        )
                label = f"{name} {width}x{height}"
                summary = {
                    v: {k: round(statistics.median(r[k] for r in rs), 2) for k in rs[0]}
                    for v, rs in rows.items()
                }
                report.details[label] = summary
                say(f"  {label}: {summary}")
                base = summary["default"]
                for variant, s in summary.items():
                    report.add(
                        f"{label} {variant}: engine fps",
                        s["fps"],
                        note=f"{s['fps'] / base['fps']:.2f}x default; worker p50 {s['p50']} ms, "
                        f"{s['faults']:.0f} faults and {s['cpu']} ms CPU per frame",
                    )
        finally:
            for engine in engines.values():
                engine.stop()
    return report


if __name__ == "__main__":
    raise SystemExit(module_main(run))
