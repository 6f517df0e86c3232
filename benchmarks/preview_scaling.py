"""Diagnostic (not part of the budget): the preview's frame scaling, before and now.

``FrameView._draw_frame`` used to shrink each 1280x720 frame to its pane with one
``cv2.resize(..., INTER_AREA)``, and OpenCV takes a fast path for integer factors only. This
times that against what it does now, :func:`studio.ui.preview.scale_frame` (exact halves with
INTER_AREA, then INTER_LINEAR) for a few pane sizes (374x210 is the default layout's),
alternating, and gives the mean absolute difference of the two pictures (0-255 scale).
``python -m benchmarks.preview_scaling``.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Report, module_main, percentile, say

PANES = [(374, 210), (560, 315), (640, 360), (900, 506)]


def run(quick: bool) -> Report:
    import cv2

    from studio.sources import TestPattern
    from studio.ui.preview import scale_frame as fast_resize

    frame = TestPattern(1280, 720, realtime=False).render(30)
    n, rounds = (20, 2) if quick else (50, 4)
    report = Report("preview_scaling")
    for width, height in PANES:
        size = (width, height)
        times: dict[str, list[float]] = {"area": [], "halves": []}
        for _ in range(rounds):
            for name in times:
                for _ in range(n):
                    t0 = time.perf_counter()
                    if name == "area":
                        cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                    else:
                        fast_resize(frame, width, height)
                    times[name].append((time.perf_counter() - t0) * 1000)
        one = cv2.resize(frame, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        diff = float(np.abs(one - fast_resize(frame, width, height).astype(np.float32)).mean())
        area, halves = percentile(times["area"], 50), percentile(times["halves"], 50)
        say(f"  {width}x{height}: INTER_AREA {area:.2f}, halves {halves:.2f} ms, diff {diff:.2f}")
        report.details[f"{width}x{height}"] = {
            "inter_area_ms_p50": round(area, 3),
            "halves_ms_p50": round(halves, 3),
            "mean_abs_diff": round(diff, 2),
        }
        report.add(f"1280x720 to {width}x{height}: INTER_AREA p50", area, "ms")
        report.add(
            f"1280x720 to {width}x{height}: halves + linear p50",
            halves,
            "ms",
            note=f"mean abs difference {diff:.2f} / 255",
        )
    return report


if __name__ == "__main__":
    raise SystemExit(module_main(run))
