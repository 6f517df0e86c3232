"""One stream the orchestrator handed us: its four trickle channels and the tasks between them.

Input frames are decoded by the SDK, converted off the event loop and offered to the engine,
which keeps only the newest (a slow pipeline drops, it never queues). Processed frames come
back on the engine's reader thread, become ``av.VideoFrame`` objects with the input's
timestamps, and go to the SDK's encoder. When the pipeline is not running (loading, crashed,
restarting) input frames go straight to the output, so the viewer never loses the picture.
Control messages become param updates; a status task publishes events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import av
import numpy as np
from livepeer_gateway.errors import LivepeerGatewayError
from livepeer_gateway.media_output import MediaOutput
from livepeer_gateway.trickle_publisher import (
    TricklePublisherTerminalError,
    TrickleSegmentWriteError,
)

from studio.serve import trickle
from studio.serve.status import STATUS_INTERVAL, RunnerStatus, State, StreamHealth
from studio.serve.status import status_event as build_status_event

log = logging.getLogger("studio.serve")

#: Consecutive input failures (decode errors) before the stream is given up.
MAX_INPUT_FAILURES = 3
#: Seconds each closing step may take before it is abandoned.
CLOSE_TIMEOUT = 8.0


class RequestError(ValueError):
    """A request the runner refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """The body of ``POST /live-video-to-video``, checked."""

    subscribe_url: str
    publish_url: str
    control_url: str = ""
    events_url: str = ""
    model_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    gateway_request_id: str = ""
    manifest_id: str = ""
    stream_id: str = ""

    @classmethod
    def parse(cls, body: Any, model: str) -> StreamRequest:
        """Check ``body``; an empty ``model_id`` is accepted, as ai-runner does."""
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        values: dict[str, Any] = {}
        for name in ("subscribe_url", "publish_url"):
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                raise RequestError(f"{name} is required (a trickle channel URL)")
            values[name] = value.strip()
        for name in (
            "control_url",
            "events_url",
            "model_id",
            "gateway_request_id",
            "manifest_id",
            "stream_id",
        ):
            value = body.get(name) or ""
            if not isinstance(value, str):
                raise RequestError(f"{name} must be a string")
            values[name] = value.strip()
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise RequestError("params must be a JSON object")
        if values["model_id"] and values["model_id"] != model:
            raise RequestError(
                f"pipeline configured with {model} but called with {values['model_id']}."
            )
        return cls(params=params, **values)


class JobHost(Protocol):
    """What a job needs from the runner that owns it."""

    health: StreamHealth
    last_seq: int

    def pipeline_ready(self) -> bool: ...

    def submit(self, image: np.ndarray, pts: int | None, time_base: Fraction | None) -> int: ...

    def status(self) -> RunnerStatus: ...

    def current_params(self) -> dict[str, Any]: ...

    def apply_control(self, message: dict[str, Any]) -> None: ...

    def job_finished(self, job: StreamJob, reason: str, error: str | None) -> None: ...

    def state_changed(self, status: RunnerStatus) -> None: ...


class StreamJob:
    """One accepted request, from :meth:`start` until :meth:`stop` (or the input's end)."""

    def __init__(self, request: StreamRequest, host: JobHost) -> None:
        self.request = request
        self.host = host
        self.started_at = time.time()
        self.closed = False
        #: Engine sequence numbers up to this belong to earlier streams: never output here.
        self.floor = host.last_seq
        self._lock = threading.Lock()  # closing vs. a submit in flight on a worker thread
        self._size_lock = threading.Lock()
        self._size: tuple[int, int] | None = None
        self._loop = asyncio.get_running_loop()
        self._out_queue: asyncio.Queue[av.VideoFrame | None] = asyncio.Queue()
        self._event_queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._output = trickle.OutputPublisher(request.publish_url)
        self._events = trickle.JsonWriter(request.events_url) if request.events_url else None
        self._input: MediaOutput | None = None
        self._skips_before = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._writers: list[asyncio.Task[Any]] = []
        self._stopping: asyncio.Future[None] | None = None
        self._end_reported = False
        self._output_dead = False

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the tasks; returns at once (nothing here waits on the network)."""
        name = self.request.stream_id or self.request.gateway_request_id or "stream"
        spawn = self._loop.create_task
        self._writers.append(spawn(self._write_output(), name=f"{name}: output"))
        if self._events is not None:
            self._writers.append(spawn(self._write_events(), name=f"{name}: events"))
        self._tasks.append(spawn(self._read_input(), name=f"{name}: input"))
        if self.request.control_url:
            self._tasks.append(spawn(self._read_control(), name=f"{name}: control"))
        self._tasks.append(spawn(self._report_status(), name=f"{name}: status"))

    async def stop(self) -> None:
        """End the stream: a last OFFLINE event, then every channel closed. Idempotent."""
        if self._stopping is None:
            self._stopping = self._loop.create_task(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        with self._lock:
            self.closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._events is not None:
            self._event_queue.put_nowait(self.status_event())
        self._out_queue.put_nowait(None)
        self._event_queue.put_nowait(None)
        await self._bounded(asyncio.gather(*self._writers, return_exceptions=True), "writers")
        await self._bounded(self._output.close(), "output close")
        if self._events is not None:
            await self._bounded(self._events.close(), "events close")

    async def _bounded(self, awaitable: Any, what: str) -> None:
        try:
            await asyncio.wait_for(awaitable, CLOSE_TIMEOUT)
        except Exception as exc:
            log.warning("stream %s: %s did not finish cleanly: %r", self.label, what, exc)

    @property
    def label(self) -> str:
        return self.request.stream_id or self.request.gateway_request_id or "?"

    @property
    def input_skips(self) -> int:
        """How many 470s the input got: fell behind the server's window and jumped ahead."""
        media = self._input
        stats = media.get_stats().subscriber if media is not None else None
        return self._skips_before + (stats.get_470_reset if stats is not None else 0)

    def status_event(self) -> dict[str, Any]:
        return build_status_event(self.host.status(), self.host.current_params())

    def _finish(self, reason: str, error: str | None = None) -> None:
        if not self._end_reported and not self.closed:
            self._end_reported = True
            self.host.job_finished(self, reason, error)

    # -- input ------------------------------------------------------------------------------

    async def _read_input(self) -> None:
        failures = 0
        start_seq = -2
        while True:
            media = trickle.open_input(self.request.subscribe_url, start_seq=start_seq)
            self._input = media
            error: Exception | None = None
            try:
                async for item in media.frames():
                    if item.kind != "video":
                        continue
                    failures = 0
                    await self._take(item.frame)
            except LivepeerGatewayError as exc:
                error = exc
            finally:
                stats = media.get_stats().subscriber
                with contextlib.suppress(Exception):
                    await media.close()
            self._skips_before += stats.get_470_reset if stats is not None else 0
            self._input = None
            if error is None:
                if stats is not None and stats.get_failures and not stats.get_404_eos:
                    message = f"input channel unreachable ({stats.get_failures} failed reads)"
                    self._finish("input lost", message)
                else:
                    self._finish("input stream ended")
                return
            failures += 1
            self.host.health.error(f"input: {error}")
            if failures >= MAX_INPUT_FAILURES:
                self._finish("input unreadable", str(error))
                return
            log.warning("stream %s: %s; resuming at the next segment", self.label, error)
            start_seq = -1

    async def _take(self, frame: av.VideoFrame) -> None:
        self.host.health.inputs.tick(time.monotonic())
        passthrough = await asyncio.to_thread(self._submit, frame)
        if passthrough is not None:
            self._out_queue.put_nowait(passthrough)

    def _submit(self, frame: av.VideoFrame) -> av.VideoFrame | None:
        """Worker thread: offer ``frame`` to the pipeline; return it when it must pass through."""
        if self.host.pipeline_ready():
            image = frame.to_ndarray(format="rgb24")
            with self._lock:
                if self.closed:
                    return None
                if self.host.submit(image, frame.pts, frame.time_base):
                    return None
        return None if self.closed else self._fit(frame)

    # -- output -----------------------------------------------------------------------------

    def deliver(self, image: np.ndarray, pts: int, time_base: Fraction) -> None:
        """Engine reader thread: one processed (or failed, passed-through) frame."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        frame = self._fit(frame)
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._out_queue.put_nowait, frame)

    def _fit(self, frame: av.VideoFrame) -> av.VideoFrame:
        """Keep the output at its first size (even, for yuv420p): the encoder cannot change."""
        with self._size_lock:
            if self._size is None:
                self._size = (frame.width - frame.width % 2, frame.height - frame.height % 2)
            width, height = self._size
        if (frame.width, frame.height) == (width, height):
            return frame
        fitted = frame.reformat(width=width, height=height)
        fitted.pts, fitted.time_base = frame.pts, frame.time_base
        return fitted

    async def _write_output(self) -> None:
        while (frame := await self._out_queue.get()) is not None:
            if self._output_dead:
                continue
            try:
                await self._output.write_frame(frame)
            except LivepeerGatewayError as exc:
                self._output_failed(exc)
                continue
            self.host.health.outputs.tick(time.monotonic())

    def _output_failed(self, exc: Exception) -> None:
        """The SDK has retried each segment and given up after three: the stream ends."""
        self._output_dead = True
        if self._output.channel_gone:
            self._finish("output channel closed")
        else:
            message = f"output publish failed after retries: {exc}"
            self.host.health.error(message)
            self._finish("output lost", message)

    # -- control ----------------------------------------------------------------------------

    async def _read_control(self) -> None:
        ended = await trickle.read_json_channel(self.request.control_url, self._control)
        log.info("stream %s: control channel %s", self.label, ended)

    def _control(self, message: dict[str, Any]) -> None:
        if message == {"keep": "alive"}:
            return
        log.info("stream %s: control params %s", self.label, message)
        self.host.apply_control(message)

    # -- events -----------------------------------------------------------------------------

    async def _report_status(self) -> None:
        """Publish a status event on every state change and every few seconds."""
        last_state: State | None = None
        last_sent = 0.0
        while True:
            status = self.host.status()
            now = time.monotonic()
            changed = status.state != last_state
            if changed or now - last_sent >= STATUS_INTERVAL:
                last_state, last_sent = status.state, now
                if self._events is not None:
                    self._event_queue.put_nowait(self.status_event())
                if changed:
                    self.host.state_changed(status)
            await asyncio.sleep(0.25)

    async def _write_events(self) -> None:
        assert self._events is not None
        lost = False
        while (message := await self._event_queue.get()) is not None:
            if lost:
                continue
            try:
                await self._events.write(message)
            except TricklePublisherTerminalError as exc:
                lost = True
                log.warning("stream %s: events channel lost: %s", self.label, exc)
            except TrickleSegmentWriteError as exc:
                log.warning("stream %s: an event was not delivered: %s", self.label, exc)
