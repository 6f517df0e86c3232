"""LiveRunner: the studio as a go-livepeer box's live runner for the pipeline being edited.

An orchestrator configured with an external runner calls ``POST /live-video-to-video`` with
four trickle channel URLs (see :mod:`studio.serve.server`); :meth:`LiveRunner.handle_request`
turns each call into a :class:`~studio.serve.job.StreamJob`. One pipeline, one engine, one
stream at a time: a new request replaces the running stream (its channels are closed) and
keeps the engine, with the new request's params.

The engine survives what the pipeline does. A frame whose transform raises comes out
unchanged and the stream reports ERROR; a worker that crashes or hangs is restarted with a
growing delay while input frames pass straight through. :meth:`reload` (the app's hot reload)
swaps the code under a running stream without dropping it.

Everything here runs on one asyncio loop (the app's qasync loop or a plain one); ``on_event``
is called on that loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from studio.discovery.info import PipelineInfo
from studio.engine import Engine, EngineEvent, EngineState, ProcessedFrame
from studio.params import deep_merge
from studio.serve.job import RequestError, StreamJob, StreamRequest
from studio.serve.status import RunnerStatus, State, StreamHealth

log = logging.getLogger("studio.serve")

#: First delay before restarting a crashed pipeline; it doubles up to MAX_RESTART_DELAY and
#: starts again from here once the pipeline has run for STABLE_AFTER seconds.
RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
STABLE_AFTER = 10.0

#: ``engine_factory(spec, file, *, params, device, on_frame, on_event) -> Engine`` (not started).
EngineFactory = Callable[..., Engine]

_RESPONSE = {"publish_url": "", "subscribe_url": "", "control_url": ""}  # ai-runner's answer
_FAILURES = ("load_error", "crashed", "hung")


class RunnerError(RuntimeError):
    """The runner's pipeline could not start."""


@dataclass(frozen=True, slots=True)
class RunnerEvent:
    """Something to show: ``kind`` is request, refused, state, params, error, engine or ended."""

    kind: str
    message: str
    status: RunnerStatus


class LiveRunner:
    """Serve one discovered pipeline to an orchestrator; see the module docstring."""

    def __init__(
        self,
        info: PipelineInfo,
        *,
        params: dict[str, Any] | None = None,
        device: str = "auto",
        on_event: Callable[[RunnerEvent], None] | None = None,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        if not info.ok or info.spec is None:
            raise ValueError(f"pipeline {info.name!r} cannot be served: {info.error}")
        self.info = info
        self.device = device
        self.on_event = on_event
        self.health = StreamHealth()
        #: Highest engine sequence number submitted (read by a new job as its floor).
        self.last_seq = 0
        self._factory: EngineFactory = engine_factory or Engine
        self._base: dict[str, Any] = dict(params or {})
        self._engine: Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._job: StreamJob | None = None
        self._starting: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._restarts = 0
        self._restart_delay = RESTART_DELAY
        self._ready_at = 0.0
        self._fail_noted = 0.0

    @property
    def name(self) -> str:
        """The model id the orchestrator must ask for: the pipeline's name."""
        return self.info.name or ""

    @property
    def engine(self) -> Engine | None:
        return self._engine

    # -- public -----------------------------------------------------------------------------

    async def start(self, wait: bool = True) -> None:
        """Start the pipeline; with ``wait``, until it is ready (RunnerError if it fails)."""
        self._bind()
        self._stopping = False
        task = self._launch()
        if wait:
            await asyncio.shield(task)

    async def handle_request(self, body: Any) -> dict[str, Any]:
        """Start a stream for ``POST /live-video-to-video``; raises RequestError to refuse.

        A running stream is stopped first (its channels closed); the engine stays, and the
        stream starts from the pipeline's defaults, the runner's params, then ``params``.
        """
        self._bind()
        assert self._lock is not None
        try:
            request = StreamRequest.parse(body, self.name)
        except RequestError as exc:
            self._emit("refused", f"refused a request: {exc}")
            raise
        async with self._lock:
            self._launch()
            old = self._job
            if old is not None:
                await old.stop()
                self._job = None
                self._emit("ended", f"stream {old.label} replaced by a new request")
            self.health.new_stream()
            job = StreamJob(request, self)
            self._job = job
            engine = self._ensure_engine()
            engine.update_params(self._stream_params(request.params))
            job.start()
        self._emit(
            "request",
            f"stream {job.label} started (request {request.gateway_request_id or '?'}, "
            f"params {json.dumps(request.params)})",
        )
        return dict(_RESPONSE)

    def update_params(self, values: dict[str, Any]) -> None:
        """New params from the app's form: for the running stream and the ones to come."""
        self._base = deep_merge(dict(self._base), values)
        if self._engine is not None:
            self._engine.update_params(values)

    def reload(self, info: PipelineInfo | None = None) -> None:
        """Load the pipeline's current code in a fresh worker and swap it in; the stream
        goes on with the old code until the new one is ready (or keeps it if that fails)."""
        if info is not None:
            if not info.ok or info.spec is None:
                raise ValueError(f"pipeline {info.name!r} cannot be served: {info.error}")
            self.info = info
        if self._engine is not None:
            self._engine.reload(spec=self.info.spec, file=self.info.file)

    def status(self) -> RunnerStatus:
        """A snapshot for the app's status bar (and the events channel)."""
        job = self._job
        engine_state = self._engine.state if self._engine is not None else EngineState.STOPPED
        health = self.health
        common = {
            "pipeline": self.name,
            "engine": str(engine_state),
            "restarts": self._restarts,
            "last_error": health.last_error,
            "last_error_time": health.last_error_time,
            "frames_in": health.inputs.count,
            "frames_out": health.outputs.count,
        }
        if job is None or job.closed:
            if engine_state is EngineState.STARTING:
                state = State.LOADING
            elif engine_state is EngineState.FAILED:
                state = State.ERROR
            else:
                state = State.OFFLINE
            return RunnerStatus(state=state, **common)
        loading = engine_state in (EngineState.STARTING, EngineState.STOPPED)
        fps_in, fps_out = health.rates()
        request = job.request
        return RunnerStatus(
            state=health.state(loading, engine_state is EngineState.FAILED),
            stream_id=request.stream_id,
            request_id=request.gateway_request_id,
            manifest_id=request.manifest_id,
            since=job.started_at,
            fps_in=fps_in,
            fps_out=fps_out,
            input_skips=job.input_skips,
            **common,
        )

    async def stop_stream(self) -> None:
        """End the current stream (OFFLINE event, channels closed); the engine stays."""
        if self._lock is None:
            return
        async with self._lock:
            job, self._job = self._job, None
            if job is not None:
                await job.stop()
        if job is not None:
            self._emit("ended", f"stream {job.label} stopped")

    async def stop(self) -> None:
        """End the stream and stop the pipeline."""
        self._stopping = True
        for task in (self._recovery, self._starting):
            if task is not None and not task.done():
                task.cancel()
        await self.stop_stream()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._engine is not None:
            await asyncio.to_thread(self._engine.stop)

    # -- JobHost (called by the job) ----------------------------------------------------------

    def pipeline_ready(self) -> bool:
        engine = self._engine
        return engine is not None and engine.state in (EngineState.RUNNING, EngineState.RELOADING)

    def submit(self, image: np.ndarray, pts: int | None, time_base: Fraction | None) -> int:
        """Worker thread: offer a frame to the engine; 0 when no pipeline takes it."""
        engine = self._engine
        if engine is None:
            return 0
        seq = engine.submit(image, pts=pts, time_base=time_base, t_capture=time.monotonic())
        if seq:
            self.last_seq = seq
        return seq

    def current_params(self) -> dict[str, Any]:
        return self._engine.params if self._engine is not None else {}

    def apply_control(self, message: dict[str, Any]) -> None:
        if self._engine is not None:
            self._engine.update_params(message)

    def job_finished(self, job: StreamJob, reason: str, error: str | None) -> None:
        if error:
            self.health.error(error)
        self._spawn(self._end(job, reason, error))

    def state_changed(self, status: RunnerStatus) -> None:
        self._emit(
            "state", f"{status.state} (in {status.fps_in:.1f} fps, out {status.fps_out:.1f} fps)"
        )

    # -- internals --------------------------------------------------------------------------

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._lock = asyncio.Lock()

    def _ensure_engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._factory(
                self.info.spec,
                self.info.file,
                params=dict(self._base),
                device=self.device,
                on_frame=self._on_frame,
                on_event=self._on_engine_event,
            )
        return self._engine

    def _launch(self) -> asyncio.Task[None]:
        """Start the engine unless it runs or is starting; the task fails with RunnerError."""
        if self._starting is None or self._starting.done():
            self._starting = self._spawn(self._start_engine())
        return self._starting

    async def _start_engine(self) -> None:
        """The one path that starts the engine (two starts at once would orphan a worker)."""
        engine = self._ensure_engine()
        if engine.state in (EngineState.STOPPED, EngineState.FAILED):
            await asyncio.to_thread(engine.start, False)
        await self._until_started(engine)

    async def _until_started(self, engine: Engine) -> None:
        while engine.state is EngineState.STARTING and not self._stopping:
            await asyncio.sleep(0.05)
        if engine.state is EngineState.FAILED:
            await asyncio.sleep(0.05)  # the event that says why follows the state change
            why = next(
                (e.message for e in reversed(engine.events) if e.kind in _FAILURES),
                str(engine.state),
            )
            raise RunnerError(f"pipeline {self.name!r} failed to start: {why}")

    def _stream_params(self, request_params: dict[str, Any]) -> dict[str, Any]:
        merged = deep_merge(dict(self.info.defaults), self._base)
        return deep_merge(merged, request_params)

    async def _end(self, job: StreamJob, reason: str, error: str | None) -> None:
        assert self._lock is not None
        async with self._lock:
            if self._job is not job:
                return
            await job.stop()
            self._job = None
        detail = f" ({error})" if error else ""
        self._emit("ended", f"stream {job.label} ended: {reason}{detail}")

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, RunnerError):
            self.health.error(str(exc), degrade=False)
            self._emit("error", str(exc))
        elif exc is not None:
            log.error("serve: background task failed", exc_info=exc)

    # -- engine callbacks (reader threads) ------------------------------------------------------

    def _on_frame(self, frame: ProcessedFrame) -> None:
        job = self._job
        if job is None or job.closed or frame.seq <= job.floor:
            return
        if frame.failed:
            now = time.monotonic()
            if now - self._fail_noted > 0.2:
                self._fail_noted = now
                note = f"transform failed (frame passed through): {frame.error}"
                self._call_soon(self.health.error, note)
        job.deliver(frame.image, frame.pts, frame.time_base)

    def _on_engine_event(self, event: EngineEvent) -> None:
        self._call_soon(self._engine_event, event)

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed between the check and the call
            loop.call_soon_threadsafe(fn, *args)

    def _engine_event(self, event: EngineEvent) -> None:
        kind = event.kind
        if kind in ("crashed", "hung"):
            self.health.error(event.message)
            self._emit("error", event.message)
            self._schedule_recovery()
        elif kind == "transform_error":
            self.health.error(event.message)
            self._emit("error", event.message)
        elif kind in ("load_error", "params_rejected"):
            self.health.error(event.message, degrade=False)
            self._emit("error" if kind == "load_error" else "params", event.message)
        elif kind == "params_applied":
            self._emit("params", f"params applied: {json.dumps(event.data.get('params'))}")
        elif kind in ("ready", "reloaded"):
            self._ready_at = time.monotonic()
            self._emit("engine", event.message)

    def _schedule_recovery(self) -> None:
        if self._stopping or (self._recovery is not None and not self._recovery.done()):
            return
        if time.monotonic() - self._ready_at > STABLE_AFTER:
            self._restart_delay = RESTART_DELAY
        self._recovery = self._spawn(self._recover())

    async def _recover(self) -> None:
        """Restart a crashed or hung pipeline; frames pass through meanwhile."""
        while not self._stopping:
            await asyncio.sleep(self._restart_delay)
            self._restart_delay = min(self._restart_delay * 2, MAX_RESTART_DELAY)
            engine = self._engine
            if engine is None or engine.state is not EngineState.FAILED:
                return
            self._restarts += 1
            self._emit("engine", f"restarting pipeline {self.name!r} (restart {self._restarts})")
            try:
                await asyncio.shield(self._launch())
                return
            except RunnerError:
                continue  # reported by _reap; try again, later

    def _emit(self, kind: str, message: str) -> None:
        log.info("serve: %s", message)
        if self.on_event is None:
            return
        try:
            self.on_event(RunnerEvent(kind, message, self.status()))
        except Exception:
            log.exception("serve: on_event failed")
