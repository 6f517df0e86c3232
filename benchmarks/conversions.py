"""Diagnostic (not part of the budget): the host's frame conversions at 1 vs N torch threads.

Every frame in the worker pays ``to_input_tensor`` (uint8 to float) and ``to_uint8_image``
(float to uint8, into shared memory). On a small machine that also runs the app, torch's
OpenMP threads can cost more than they give: a parallel region waits for its slowest thread,
and a thread that has lost its core to another process holds the whole op up. This runs
both conversions at 1280x720 with 1 thread and with torch's default, alternating rounds in
one process so both see the same machine. ``python -m benchmarks.conversions``.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Report, module_main, percentile, say


def _time(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run(quick: bool) -> Report:
    import torch

    from studio.bench import make_frames
    from studio.frames import to_input_tensor, to_uint8_image

    default = torch.get_num_threads()
    frame = make_frames(1280, 720, 1)[0]
    out = np.empty_like(frame)
    tensor = to_input_tensor(frame)[0]
    n, rounds = (20, 3) if quick else (40, 6)
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for threads in (1, default):
            torch.set_num_threads(threads)
            to_input_tensor(frame)  # warm this thread count's pool
            times.setdefault(f"to_input_tensor {threads}t", []).extend(
                _time(lambda: to_input_tensor(frame), n)
            )
            times.setdefault(f"to_uint8_image {threads}t", []).extend(
                _time(lambda: to_uint8_image(tensor, out), n)
            )
    torch.set_num_threads(default)
    report = Report("conversions", details={"default_threads": default})
    for name, values in times.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        report.details[name] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
        report.add(f"{name} 1280x720 p50", p50, "ms", note=f"p95 {p95:.2f} ms")
        say(f"  {name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    return report


if __name__ == "__main__":
    raise SystemExit(module_main(run))
