"""What the runner tells the orchestrator and the app about a stream: states, rates, errors.

The states and the event's shape are ai-runner's (``streamer/status.py``), so a go-livepeer
gateway stores our events as the stream's status (``GET /live/video-to-video/ID/status``) and
reads them as the heartbeat it needs at least every 30 s.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from studio.rolling import Recent

#: Seconds between periodic status events (the gateway gives up after 30 s without one).
STATUS_INTERVAL = 3.0
#: A stream stays in ERROR this long after its last failure (failed frame, crash, output loss).
ERROR_HOLD = 3.0
#: No input frame for this long: DEGRADED_INPUT.
INPUT_GAP = 2.0
#: Input flowing but no output for this long, or output under this share of the input rate:
#: DEGRADED_INFERENCE.
OUTPUT_GAP = 2.0
OUTPUT_SHARE = 0.8


class State(StrEnum):
    LOADING = "LOADING"
    ONLINE = "ONLINE"
    DEGRADED_INPUT = "DEGRADED_INPUT"
    DEGRADED_INFERENCE = "DEGRADED_INFERENCE"
    ERROR = "ERROR"
    OFFLINE = "OFFLINE"


@dataclass(frozen=True, slots=True)
class RunnerStatus:
    """A snapshot for a status bar; times are wall-clock seconds (``time.time()``)."""

    state: State
    pipeline: str
    engine: str = "stopped"
    stream_id: str = ""
    request_id: str = ""
    manifest_id: str = ""
    since: float | None = None
    fps_in: float = 0.0
    fps_out: float = 0.0
    frames_in: int = 0
    frames_out: int = 0
    input_skips: int = 0
    restarts: int = 0
    last_error: str | None = None
    last_error_time: float | None = None

    @property
    def health(self) -> str:
        """ai-runner's ``GET /health`` word: LOADING, IDLE (no stream), ERROR or OK.

        ERROR only while the pipeline itself is down (to ai-runner it means "restart me"); a
        stream whose frames fail is still served (passed through), so it stays OK.
        """
        if self.engine == "failed":
            return "ERROR"
        if self.state is State.LOADING:
            return "LOADING"
        return "IDLE" if self.state is State.OFFLINE else "OK"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = str(self.state)
        data["health"] = self.health
        return data


class RateMeter:
    """Events per second over the last ``window`` seconds."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self.count = 0
        self.last: float | None = None
        self._times: Recent[None] = Recent(window)

    def tick(self, now: float) -> None:
        self.count += 1
        self.last = now
        self._times.add(now, None)

    def rate(self, now: float) -> float:
        return self._times.count(now) / self.window


class StreamHealth:
    """Rates and the last error of the current stream; decides its state.

    Called from the event loop's thread only. Errors outlive a stream (the status bar keeps
    showing the last one); rates restart with each stream.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.inputs = RateMeter()
        self.outputs = RateMeter()
        self.last_error: str | None = None
        self.last_error_time: float | None = None
        self._error_at = float("-inf")

    def new_stream(self) -> None:
        self.started = time.monotonic()
        self.inputs = RateMeter()
        self.outputs = RateMeter()
        self._error_at = float("-inf")

    def error(self, message: str, *, degrade: bool = True) -> None:
        """Remember ``message``; with ``degrade`` the stream shows ERROR for a while."""
        self.last_error = message
        self.last_error_time = time.time()
        if degrade:
            self._error_at = time.monotonic()

    def state(self, loading: bool, failed: bool) -> State:
        """The state of a running stream, given the pipeline's (loading, failed)."""
        now = time.monotonic()
        if loading:
            return State.LOADING
        if failed or now - self._error_at < ERROR_HOLD:
            return State.ERROR
        if now - (self.inputs.last or self.started) > INPUT_GAP:
            return State.DEGRADED_INPUT
        fps_in, fps_out = self.inputs.rate(now), self.outputs.rate(now)
        stalled = now - (self.outputs.last or self.started) > OUTPUT_GAP
        if stalled or fps_out < OUTPUT_SHARE * fps_in:
            return State.DEGRADED_INFERENCE
        return State.ONLINE

    def rates(self) -> tuple[float, float]:
        now = time.monotonic()
        return self.inputs.rate(now), self.outputs.rate(now)


def status_event(status: RunnerStatus, params: dict[str, Any]) -> dict[str, Any]:
    """An events-channel message in ai-runner's shape: ``{"event": {...}, "queue_event_type"}``.

    go-livepeer keys on ``event.type == "status"``; the rest is ai-runner's PipelineStatus
    (times in ms) plus our ``timestamp`` and stream identifiers.
    """
    now = time.time()
    return {
        "event": {
            "type": "status",
            "pipeline": status.pipeline,
            "state": str(status.state),
            "timestamp": _ms(now),
            "start_time": _ms(status.since),
            "stream_id": status.stream_id,
            "request_id": status.request_id,
            "manifest_id": status.manifest_id,
            "input_status": {"fps": round(status.fps_in, 2), "frames": status.frames_in},
            "inference_status": {
                "fps": round(status.fps_out, 2),
                "frames": status.frames_out,
                "last_error": status.last_error,
                "last_error_time": _ms(status.last_error_time),
                "last_params": params,
                "last_params_hash": hashlib.md5(
                    json.dumps(params, sort_keys=True, default=str).encode()
                ).hexdigest(),
                "restart_count": status.restarts,
                "input_skips": status.input_skips,
            },
        },
        "queue_event_type": "ai_stream_events",
    }


def _ms(value: float | None) -> int | None:
    return int(value * 1000) if value is not None else None
