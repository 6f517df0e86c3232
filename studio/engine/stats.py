"""Rolling per-second figures of a stage on the frame path: fps, times, drops.

Every stage reports its own numbers; views only display them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

from studio.rolling import Recent


@dataclass(frozen=True, slots=True)
class EngineStats:
    """A snapshot: rates over the last ``window`` seconds, counters since start."""

    input_fps: float = 0.0
    output_fps: float = 0.0
    pipeline_ms: float = 0.0
    pipeline_p95_ms: float = 0.0
    latency_ms: float = 0.0
    latency_p95_ms: float = 0.0
    frames_in: int = 0
    frames_out: int = 0
    drops: int = 0
    failed: int = 0
    device: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"in {self.input_fps:.1f} fps  out {self.output_fps:.1f} fps  "
            f"pipeline {self.pipeline_ms:.1f} ms  latency {self.latency_ms:.1f} ms "
            f"(p95 {self.latency_p95_ms:.1f})  drops {self.drops}  failed {self.failed}"
            + (f"  [{self.device}]" if self.device else "")
        )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class StatsWindow:
    """Thread-safe accumulator for one engine's figures."""

    def __init__(self, window: float = 1.0):
        self.window = window
        self._lock = threading.Lock()
        self._inputs: Recent[None] = Recent(window)
        self._outputs: Recent[tuple[float, float]] = Recent(window)  # (pipeline_ms, latency)
        self.frames_in = self.frames_out = self.drops = self.failed = 0
        self.device = ""

    def input(self, now: float | None = None) -> None:
        with self._lock:
            self.frames_in += 1
            self._inputs.add(time.monotonic() if now is None else now, None)

    def drop(self) -> None:
        with self._lock:
            self.drops += 1

    def output(self, pipeline_ms: float, latency_ms: float, failed: bool = False) -> None:
        with self._lock:
            self.frames_out += 1
            self.failed += failed
            self._outputs.add(time.monotonic(), (pipeline_ms, latency_ms))

    def snapshot(self) -> EngineStats:
        now = time.monotonic()
        with self._lock:
            input_fps, output_fps = self._inputs.rate(now), self._outputs.rate(now)
            outputs = self._outputs.values(now)
            counters = (self.frames_in, self.frames_out, self.drops, self.failed)
        pipeline = [o[0] for o in outputs]
        latency = [o[1] for o in outputs]
        return EngineStats(
            input_fps=input_fps,
            output_fps=output_fps,
            pipeline_ms=sum(pipeline) / len(pipeline) if pipeline else 0.0,
            pipeline_p95_ms=percentile(pipeline, 95),
            latency_ms=sum(latency) / len(latency) if latency else 0.0,
            latency_p95_ms=percentile(latency, 95),
            frames_in=counters[0],
            frames_out=counters[1],
            drops=counters[2],
            failed=counters[3],
            device=self.device,
        )
