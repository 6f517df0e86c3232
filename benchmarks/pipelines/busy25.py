"""busy25: a pipeline of known cost, about 25 ms of CPU work (or sleep) per frame.

The UI-stall benchmark needs a pipeline slow enough to matter (25 ms of a 33 ms frame
interval) yet predictable. ``compute`` mode does real torch work on the frame, one band of
rows at a time (under a millisecond each), until ``ms`` of wall time have passed since the
frame arrived: it loads the CPU the way a model would, and its duration holds on a noisy
machine because it is bounded by the clock rather than by a calibrated count. ``sleep`` mode
only sleeps, to tell CPU contention apart from the event loop's own behaviour.
"""

from __future__ import annotations

import time
from typing import Literal

import torch
from pydantic import Field

from studio import BaseParams, VideoFrame, pipeline


class BusyParams(BaseParams):
    """How long each frame takes, and whether it burns CPU or sleeps."""

    ms: float = Field(25.0, ge=0, le=1000, description="Milliseconds per frame")
    mode: Literal["compute", "sleep"] = Field("compute", description="CPU work or a sleep")


@pipeline(name="busy25", params=BusyParams)
def busy25(frame: VideoFrame, params: BusyParams) -> torch.Tensor:
    """Spend ``params.ms`` on the frame, then return it slightly darkened (so it changed)."""
    began = time.perf_counter()
    deadline = began + params.ms / 1000.0
    x = frame.tensor
    if params.mode == "sleep":
        time.sleep(max(0.0, deadline - time.perf_counter()))
        return x.mul_(0.98)
    scratch = torch.empty_like(x)
    height = x.shape[1]
    band = max(1, height // 8)  # ~0.6 ms of sin at 1280x720: the overshoot stays small
    row = 0
    while time.perf_counter() < deadline:
        rows = slice(row, min(height, row + band))
        torch.sin(x[:, rows], out=scratch[:, rows])
        row = 0 if row + band >= height else row + band
    return x.mul_(0.98)
