"""Soak: resident memory of the app and of its worker over minutes of preview.

The real studio window (offscreen, or the X display when DISPLAY is set) previews the default
1280x720 test pattern through the default pipeline (green-shift) for 5 minutes (30 s with
``--quick``). Every few seconds VmRSS is read from ``/proc`` for the app process (this one)
and for the running worker. Growth is measured after a warm-up (the first frames, the first
paints and the pool's spare allocate once), as the median of the last quarter of the samples
minus that of the first quarter: RSS moves in ~10 MB steps as the allocator keeps or returns
a float frame, so two single samples would measure luck. A least squares slope says whether
it is still climbing. Target: each process grows <= 30 MB.

When the RTMP publisher (``studio/live/publisher.py``) exists, the soak also streams: a
publisher tapped on the session's input, as :class:`studio.live.session.LiveSession` does
with ``send="input"``, sends to a local nginx-rtmp (the streaming benchmark's server). The
player and the gateway need a box and are left out. Without the module it previews only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import statistics
import time
from typing import Any

from benchmarks.app_harness import make_app, open_window, prepare_env, wait_for, worker_pid
from benchmarks.common import Report, module_main, rss_mb, say

TARGET_MB = 30.0
WARMUP_S = 10.0


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mx = sum(t for t, _ in samples) / n
    my = sum(v for _, v in samples) / n
    var = sum((t - mx) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return 60 * sum((t - mx) * (v - my) for t, v in samples) / var


async def _soak(seconds: float, every: float, url: str | None) -> dict[str, Any]:
    window = open_window([], None, "testsrc:1280x720", None)
    publisher: Any = None
    try:
        ok = await wait_for(
            lambda: window.state == "running" and window.session.latest_output is not None, 180
        )
        if not ok:
            raise RuntimeError(f"the window never ran a pipeline (state {window.state})")
        if url is not None:
            from studio.live.publisher import RtmpPublisher

            publisher = RtmpPublisher(url)
            window.session.taps.append(lambda frame: publisher.submit(frame.image, frame.t_capture))
        await asyncio.sleep(WARMUP_S)
        pid = worker_pid(window)
        engine = window.session.engine
        first = engine.snapshot()
        samples: dict[str, list[tuple[float, float]]] = {"app": [], "worker": []}
        began = time.monotonic()
        next_report = began
        while True:
            now = time.monotonic() - began
            for name, p in (("app", "self"), ("worker", pid)):
                value = rss_mb(p) if p is not None else None
                if value is not None:
                    samples[name].append((round(now, 1), round(value, 1)))
            if time.monotonic() >= next_report:
                say(
                    f"  {now:5.0f} s: app {samples['app'][-1][1]} MB, worker "
                    f"{samples['worker'][-1][1] if samples['worker'] else '?'} MB"
                )
                next_report += 30
            if now >= seconds:
                break
            await asyncio.sleep(every)
        last = engine.snapshot()
        sent = publisher.stats() if publisher is not None else None
        if worker_pid(window) != pid:
            raise RuntimeError("the worker changed during the soak (it crashed or restarted)")
        return {
            "seconds": seconds,
            "pipeline": window.session.pipeline.name if window.session.pipeline else None,
            "frames_out": last.frames_out - first.frames_out,
            "drops": last.drops - first.drops,
            "samples": samples,
            "publisher": sent.to_dict() if sent is not None else None,
        }
    finally:
        if publisher is not None:
            publisher.stop()
        window.close()


def run(quick: bool) -> Report:
    prepare_env()
    seconds, every = (30.0, 2.0) if quick else (300.0, 5.0)
    streaming = importlib.util.find_spec("studio.live.publisher") is not None
    _app, loop = make_app()
    say(f"soak: {seconds:g} s of preview, RSS every {every:g} s (pid {os.getpid()}) ...")
    with contextlib.ExitStack() as stack:
        url = None
        if streaming:
            from benchmarks.streaming import RtmpServer

            url = stack.enter_context(RtmpServer()).url("soak")
            say(f"  streaming the input to {url}")
        with loop:
            result = loop.run_until_complete(_soak(seconds, every, url))
    report = Report("soak", details=result)
    if not streaming:
        report.notes.append("studio/live/publisher.py does not exist: preview only, no streaming")
    elif result["publisher"]:
        p = result["publisher"]
        report.notes.append(
            f"streamed during the soak: {p['frames']} frames sent, {p['drops']} dropped, "
            f"state {p['state']}, {p['reconnects']} reconnects"
        )
    report.add(
        "preview output rate during the soak",
        result["frames_out"] / seconds,
        "fps",
        note=f"{result['drops']} dropped by the engine; the source runs at 30 fps",
    )
    for name in ("app", "worker"):
        samples = result["samples"][name]
        if not samples:
            report.add(f"{name} RSS growth", None, "MB", note="no samples")
            continue
        # RSS moves in steps (an allocator keeps or returns a whole float frame, ~10 MB at
        # 1280x720): compare the medians of the first and the last quarter, not two samples
        quarter = max(1, len(samples) // 4)
        start = statistics.median(v for _, v in samples[:quarter])
        end = statistics.median(v for _, v in samples[-quarter:])
        growth = end - start
        peak = max(v for _, v in samples)
        low = min(v for _, v in samples)
        report.add(
            f"{name} RSS growth over {seconds / 60:g} min",
            growth,
            "MB",
            at_most=TARGET_MB,
            note=f"median {start:.1f} -> {end:.1f} MB (first/last quarter; range {low}-{peak}), "
            f"slope {slope_mb_per_min(samples):+.2f} MB/min",
        )
    return report


if __name__ == "__main__":
    raise SystemExit(module_main(run))
