"""Rolling per-second figures of a stage on the frame path: fps, times, drops.

Every stage reports its own numbers; views only display them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass


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
        self._inputs: deque[float] = deque()
        self._outputs: deque[tuple[float, float, float]] = deque()  # (t, pipeline_ms, latency)
        self.frames_in = self.frames_out = self.drops = self.failed = 0
        self.device = ""

    def input(self, now: float | None = None) -> None:
        with self._lock:
            self.frames_in += 1
            self._inputs.append(time.monotonic() if now is None else now)

    def drop(self) -> None:
        with self._lock:
            self.drops += 1

    def output(self, pipeline_ms: float, latency_ms: float, failed: bool = False) -> None:
        with self._lock:
            self.frames_out += 1
            self.failed += failed
            self._outputs.append((time.monotonic(), pipeline_ms, latency_ms))

    def snapshot(self) -> EngineStats:
        now = time.monotonic()
        with self._lock:
            horizon = now - self.window
            while self._inputs and self._inputs[0] < horizon:
                self._inputs.popleft()
            while self._outputs and self._outputs[0][0] < horizon:
                self._outputs.popleft()
            inputs, outputs = list(self._inputs), list(self._outputs)
            counters = (self.frames_in, self.frames_out, self.drops, self.failed)
        pipeline = [o[1] for o in outputs]
        latency = [o[2] for o in outputs]
        return EngineStats(
            input_fps=_rate(inputs, now, self.window),
            output_fps=_rate([o[0] for o in outputs], now, self.window),
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


def _rate(times: list[float], now: float, window: float) -> float:
    """Events per second over the window (span-based once there are enough events)."""
    if len(times) < 2:
        return float(len(times)) / window if times else 0.0
    span = max(now - times[0], times[-1] - times[0])
    return (len(times) - 1) / span if span > 0 else 0.0
