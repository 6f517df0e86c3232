"""The engine: one pipeline running in its own process, fed live frames.

The caller (the app, the CLI, the streamer) hands frames to :meth:`Engine.submit` and gets
:class:`ProcessedFrame` objects back through ``on_frame`` (or :attr:`Engine.latest`). Only one
frame is ever in the worker; while it runs, the newest submitted frame waits in the spare
shared-memory slot and older ones are dropped and counted, so latency cannot grow with a
queue (offline callers may ask for one frame of lookahead instead: see :class:`Engine`).
Nothing the pipeline does (raise, hang, crash) blocks or kills the caller: faults come back
as :class:`EngineEvent` objects and the engine can be restarted.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any

import numpy as np

from studio.engine import protocol as P
from studio.engine.pool import WorkerPool, WorkerProcess
from studio.engine.shm import FrameReader, FrameSlot, unlink_leftovers
from studio.engine.stats import EngineStats, StatsWindow
from studio.spec import PipelineSpec

DEFAULT_TIME_BASE = Fraction(1, 90_000)
_ids = itertools.count(1)


class EngineState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    RELOADING = "reloading"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """Something the caller should know or show.

    ``kind`` is one of: state, ready, reloaded, load_error, transform_error, params_applied,
    params_rejected, crashed, hung, log, stop_error. ``detail`` holds a traceback when there
    is one; ``data`` the structured part (field errors, params, state...).
    """

    kind: str
    message: str
    detail: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ProcessedFrame:
    """One frame out of the engine, with the timings that travelled with it.

    ``image`` is owned by the receiver (copied once out of shared memory). A frame whose
    transform raised has ``failed`` set and carries the input unchanged.
    """

    image: np.ndarray
    input: np.ndarray
    seq: int
    pts: int
    time_base: Fraction
    t_capture: float
    t_output: float
    pipeline_ms: float
    failed: bool = False
    error: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def latency_ms(self) -> float:
        return (self.t_output - self.t_capture) * 1000.0


class EngineError(RuntimeError):
    """The pipeline could not start (``kind``: load, params, ready, crashed, hung, timeout)."""

    def __init__(self, message: str, kind: str, errors: list[dict] | None = None, detail=None):
        super().__init__(message)
        self.kind = kind
        self.errors = errors or []
        self.detail = detail


@dataclass(slots=True)
class _Frame:
    seq: int
    slot: int
    image: np.ndarray
    height: int
    width: int
    pts: int
    time_base: Fraction
    t_capture: float
    ready: bool = False
    t_sent: float = 0.0


class _Worker:
    """One worker process with its pipe, shared memory and reader thread."""

    def __init__(
        self, engine: Engine, spec: PipelineSpec, file: str | None, params: dict, lenient: bool
    ):
        self.engine = engine
        self.spec, self.file = spec, file
        self.prefix = f"lps{os.getpid()}_{engine.id}_{next(_ids)}"
        self.process: WorkerProcess | None = None
        self.load = (
            P.LOAD,
            spec.to_dict(),
            file,
            params,
            engine.device,
            lenient,
            self.prefix + "w",
        )
        # in flight, queued (lookahead only) and being written: each needs its own slot
        self.lookahead = engine.lookahead
        count = 3 if self.lookahead else 2
        self.slots = [FrameSlot(f"{self.prefix}i{i}") for i in range(count)]
        self.reader = FrameReader()
        self.out_names: deque[str] = deque(maxlen=2)
        self.seen_out: set[str] = set()
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.inflight: _Frame | None = None
        self.queued: _Frame | None = None
        self.pending: _Frame | None = None
        self.info: dict[str, Any] | None = None
        self.error: EngineError | None = None
        self.ready = threading.Event()
        self.done = threading.Event()
        self.stopping = False
        self.started_at = 0.0
        self.thread = threading.Thread(
            target=self._read_loop, daemon=True, name=f"engine-reader-{spec.name}"
        )

    def start(self) -> None:
        self.started_at = time.monotonic()
        pool = self.engine.pool
        self.process = pool.take() if pool is not None else WorkerProcess()
        self.conn = self.process.conn
        self.send(self.load)
        self.thread.start()

    def send(self, msg: tuple) -> bool:
        with self.send_lock:
            try:
                self.conn.send(msg)
                return True
            except (OSError, ValueError):
                return False

    # -- frames ---------------------------------------------------------------------------

    def submit(self, frame: _Frame) -> None:
        with self.lock:
            if self.pending is not None:
                if not self.pending.ready:
                    self.engine.stats.drop()  # another producer is writing: newest loses
                    return
                self.engine.stats.drop()
                frame.slot = self.pending.slot
            else:
                busy = {f.slot for f in (self.inflight, self.queued) if f is not None}
                frame.slot = next(i for i in range(len(self.slots)) if i not in busy)
            self.pending = frame
        np.copyto(self.slots[frame.slot].view(frame.height, frame.width), frame.image)
        with self.lock:
            if self.pending is not frame:
                return
            frame.ready = True
            self._dispatch_locked()

    def _dispatch_locked(self) -> None:
        """Send the pending frame if the worker is free, or, with lookahead, if nothing is
        queued behind the frame it runs."""
        frame = self.pending
        if frame is None or not frame.ready or self.stopping:
            return
        if self.inflight is None:
            self.inflight = frame
        elif self.lookahead and self.queued is None:
            self.queued = frame
        else:
            return
        self.pending = None
        frame.t_sent = time.monotonic()
        tb = frame.time_base
        self.send(
            (
                P.FRAME,
                frame.seq,
                self.slots[frame.slot].name,
                frame.height,
                frame.width,
                frame.pts,
                tb.numerator,
                tb.denominator,
            )
        )

    def idle(self) -> bool:
        with self.lock:
            return self.inflight is None and self.queued is None and self.pending is None

    # -- reading ----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        engine = self.engine
        while True:
            try:
                has = self.conn.poll(0.1)
            except (OSError, ValueError):
                has = False
                self._finish("died")
                return
            if not has:
                if self._watchdog():
                    return
                continue
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                self._finish("died")
                return
            try:
                self._handle(msg)
            except Exception as exc:  # a bug here must not leave the caller hanging
                engine._emit("log", f"engine: failed to handle {msg[0]!r}: {exc!r}")
            if msg[0] == P.STOPPED:
                self._finish("stopped")
                return
            if msg[0] == P.LOAD_ERROR:
                self._finish("load_error")
                return

    def _watchdog(self) -> bool:
        now = time.monotonic()
        engine = self.engine
        if not self.ready.is_set():
            if now - self.started_at > engine.ready_timeout:
                self._fault(
                    "hung",
                    f"pipeline {self.spec.name!r} did not get ready within "
                    f"{engine.ready_timeout:.0f} s (on_ready or import is stuck)",
                )
                return True
            return False
        with self.lock:
            inflight = self.inflight
        if (
            inflight is not None
            and not self.stopping
            and now - inflight.t_sent > engine.hang_timeout
        ):
            self._fault(
                "hung",
                f"pipeline {self.spec.name!r} has not returned a frame for "
                f"{engine.hang_timeout:.0f} s; the worker was stopped. Restart it when "
                "the pipeline is fixed.",
            )
            return True
        return False

    def _handle(self, msg: tuple) -> None:
        tag = msg[0]
        engine = self.engine
        if tag == P.OUT:
            _, seq, name, height, width, ms, pts, tb_num, tb_den, metadata = msg
            frame = self._complete()
            if name not in self.out_names:
                self.out_names.append(name)
                self.seen_out.add(name)
                self.reader.forget_others(set(self.out_names))
            image = np.array(self.reader.view(name, height, width))
            if frame is not None:
                engine._deliver(
                    ProcessedFrame(
                        image,
                        frame.image,
                        seq,
                        pts,
                        Fraction(tb_num, tb_den),
                        frame.t_capture,
                        time.monotonic(),
                        ms,
                        metadata=metadata,
                    )
                )
        elif tag == P.FAILED:
            _, seq, message, tb, ms = msg
            frame = self._complete()
            if frame is not None:
                engine._deliver(
                    ProcessedFrame(
                        frame.image,
                        frame.image,
                        seq,
                        frame.pts,
                        frame.time_base,
                        frame.t_capture,
                        time.monotonic(),
                        ms,
                        failed=True,
                        error=message,
                    )
                )
            engine._transform_error(message, tb)
        elif tag == P.READY:
            self.info = msg[1]
            engine._worker_ready(self)  # first: whoever waits on ``ready`` sees the swap done
            self.ready.set()
        elif tag == P.LOAD_ERROR:
            _, kind, message, tb, errors = msg
            self.error = EngineError(message, kind, errors, tb)
            engine._worker_failed(self, self.error)
            self.ready.set()
        elif tag == P.PARAMS_OK:
            engine._params_result(self, msg[1], msg[2], None)
        elif tag == P.PARAMS_ERROR:
            engine._params_result(self, msg[1], None, msg[2])
        elif tag == P.LOG:
            engine._emit("log", msg[2], data={"stream": msg[1], "pipeline": self.spec.name})
        elif tag == P.STOPPED and msg[1]:
            engine._emit("stop_error", msg[1].splitlines()[0], detail=msg[1])

    def _complete(self) -> _Frame | None:
        with self.lock:
            frame, self.inflight, self.queued = self.inflight, self.queued, None
            if self.inflight is not None:
                self.inflight.t_sent = time.monotonic()  # the worker starts it now
            self._dispatch_locked()
        return frame

    def _fault(self, kind: str, message: str) -> None:
        self.kill()
        error = EngineError(message, kind)
        if not self.ready.is_set():
            self.error = error
            self.engine._worker_failed(self, error)
            self.ready.set()
        else:
            self.engine._worker_fault(self, kind, message)
        self._cleanup()

    def _finish(self, why: str) -> None:
        if why == "died" and not self.stopping:
            self.process.join(1.0)
            code = self.process.exitcode
            self._fault("crashed", f"pipeline {self.spec.name!r} worker {_describe_exit(code)}")
            return
        self.process.join(2.0)
        if self.process.is_alive():
            self.kill()
        self._cleanup()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def _cleanup(self) -> None:
        self.reader.close()
        for slot in self.slots:
            slot.close()
        leftovers = set(self.seen_out)
        leftovers.update(os.path.basename(p) for p in glob.glob(f"/dev/shm/{self.prefix}w*"))
        unlink_leftovers(sorted(leftovers))
        with contextlib.suppress(OSError):
            self.conn.close()
        self.done.set()

    def stop(self, timeout: float) -> None:
        """Ask politely (on_stop runs), then kill after ``timeout``."""
        self.stopping = True
        if self.thread.is_alive() and self.process is not None and self.process.is_alive():
            self.send((P.STOP,))
            self.done.wait(timeout)
        if not self.done.is_set():
            self.kill()
            self.done.wait(2.0)
            if not self.done.is_set() and not self.thread.is_alive():
                self._cleanup()


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"crashed ({name})"
    return f"exited with code {code}"


class Engine:
    """Run one pipeline in a worker process; see the module docstring.

    ``on_frame`` and ``on_event`` are called from the engine's reader thread: keep them
    short, and hop to your own thread (a Qt signal, a queue) for real work. With
    ``lenient``, starting params the model refuses are dropped (and reported in the
    ``ready`` event's ``dropped``) instead of failing the start: for remembered params.

    By default a frame goes to the worker only when it is free, so the newest frame wins
    and latency stays one pipeline time (live sources). With ``lookahead``, one more frame
    waits in the worker behind the one it runs, so it never idles between frames for the
    round trip: for offline work (files, benchmarks) where every frame is fed and
    throughput counts, at the cost of up to one frame more latency.
    """

    def __init__(
        self,
        spec: PipelineSpec,
        file: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        device: str = "auto",
        hang_timeout: float = 10.0,
        ready_timeout: float = 300.0,
        pool: WorkerPool | None = None,
        lenient: bool = False,
        lookahead: bool = False,
        on_frame: Callable[[ProcessedFrame], None] | None = None,
        on_event: Callable[[EngineEvent], None] | None = None,
    ):
        self.id = next(_ids)
        self.lookahead = lookahead
        self.spec, self.file = spec, file
        self.device = device
        self.hang_timeout, self.ready_timeout = hang_timeout, ready_timeout
        self.pool = pool
        self.lenient = lenient
        self.on_frame, self.on_event = on_frame, on_event
        self.stats = StatsWindow()
        self.events: deque[EngineEvent] = deque(maxlen=1000)
        self.latest: ProcessedFrame | None = None
        self.info: dict[str, Any] = {}
        self._state = EngineState.STOPPED
        self._lock = threading.RLock()
        self._done = threading.Condition()
        self._seq = itertools.count(1)
        self._last_done = 0
        self._wanted: dict[str, Any] = dict(params or {})
        self._params: dict[str, Any] = {}
        self._requests = itertools.count(1)
        self._active: _Worker | None = None
        self._next: _Worker | None = None
        self._retiring: list[threading.Thread] = []
        self._last_error: tuple[str, float, int] = ("", 0.0, 0)
        self._collect: deque[ProcessedFrame] | None = None

    # -- public -----------------------------------------------------------------------------

    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def params(self) -> dict[str, Any]:
        """The last params the pipeline accepted."""
        return dict(self._params)

    @property
    def name(self) -> str:
        return self.spec.name

    def start(self, wait: bool = True, timeout: float | None = None) -> None:
        """Spawn the worker and load the pipeline; with ``wait``, raise EngineError on failure."""
        with self._lock:
            if self._active is not None and self._state in (
                EngineState.RUNNING,
                EngineState.STARTING,
            ):
                return
            self._set_state(EngineState.STARTING)
            worker = _Worker(self, self.spec, self.file, dict(self._wanted), lenient=self.lenient)
            self._next = worker
            worker.start()
        if wait:
            self._wait_worker(worker, timeout)

    def restart(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop whatever runs and start afresh with the last good params."""
        self.stop()
        self.start(wait=wait, timeout=timeout)

    def reload(
        self,
        spec: PipelineSpec | None = None,
        file: str | None = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Load the pipeline's current code in a fresh worker, then swap it in.

        The old worker keeps serving frames until the new one is ready; if the new one
        fails, the old one stays and a ``load_error`` event says why. Params carry over
        where the new model accepts them.
        """
        with self._lock:
            if spec is not None:
                self.spec = spec
            if file is not None:
                self.file = file
            if self._active is None:
                self._set_state(EngineState.STARTING)
                lenient = True
            else:
                self._set_state(EngineState.RELOADING)
                lenient = True
            if self._next is not None:
                self._next.stopping = True
                self._next.kill()
            wanted = {**self._params, **self._wanted} if self._params else dict(self._wanted)
            worker = _Worker(self, self.spec, self.file, wanted, lenient=lenient)
            self._next = worker
            worker.start()
        if wait:
            self._wait_worker(worker, timeout)

    def submit(
        self,
        image: np.ndarray,
        *,
        pts: int | None = None,
        time_base: Fraction | None = None,
        t_capture: float | None = None,
    ) -> int:
        """Offer a uint8 (H, W, 3) RGB frame; never blocks on the pipeline.

        Returns the frame's sequence number, or 0 when no pipeline is running (the frame is
        ignored). The array is read, not kept beyond its processing; don't modify it after.
        """
        worker = self._active
        if worker is None or self._state not in (EngineState.RUNNING, EngineState.RELOADING):
            return 0
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"frames must be uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}")
        seq = next(self._seq)
        now = time.monotonic()
        self.stats.input(now)
        frame = _Frame(
            seq,
            0,
            image,
            image.shape[0],
            image.shape[1],
            seq * 3000 if pts is None else pts,
            time_base or DEFAULT_TIME_BASE,
            now if t_capture is None else t_capture,
        )
        worker.submit(frame)
        return seq

    def process(self, image: np.ndarray, timeout: float | None = None, **kw: Any) -> ProcessedFrame:
        """Submit one frame and wait for its result: for offline runs where nothing drops."""
        seq = self.submit(image, **kw)
        if not seq:
            raise EngineError(f"pipeline {self.name!r} is not running ({self._state})", "stopped")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._last_done < seq:
                if self._state in (EngineState.FAILED, EngineState.STOPPED):
                    raise EngineError(f"pipeline {self.name!r} {self._state}", str(self._state))
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise EngineError(f"no result for frame {seq} in {timeout} s", "timeout")
                self._done.wait(0.1 if left is None else min(left, 0.1))
        latest = self.latest
        assert latest is not None
        return latest

    def process_all(
        self, items: Iterable[tuple[np.ndarray, dict[str, Any]]], timeout: float | None = None
    ) -> Iterator[ProcessedFrame]:
        """Every frame of ``items`` (an image and :meth:`submit`'s keywords each) through the
        pipeline, results yielded in order, none dropped: for offline work.

        Never more frames are out than the engine can hold without replacing one (two; three
        with ``lookahead``), so the next one is always ready while the consumer handles a
        result. ``timeout`` bounds the wait for each result.
        """
        depth = 3 if self.lookahead else 2
        source = iter(items)
        collected: deque[ProcessedFrame] = deque()
        outstanding, exhausted = 0, False
        with self._done:
            if self._collect is not None:
                raise RuntimeError("process_all is already running on this engine")
            self._collect = collected
        try:
            while True:
                while not exhausted and outstanding < depth:
                    try:
                        image, keywords = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    if not self.submit(image, **keywords):
                        raise EngineError(
                            f"pipeline {self.name!r} is not running ({self._state})", "stopped"
                        )
                    outstanding += 1
                if not outstanding:
                    return
                deadline = None if timeout is None else time.monotonic() + timeout
                with self._done:
                    while not collected:
                        if self._state in (EngineState.FAILED, EngineState.STOPPED):
                            raise EngineError(
                                f"pipeline {self.name!r} {self._state}", str(self._state)
                            )
                        left = None if deadline is None else deadline - time.monotonic()
                        if left is not None and left <= 0:
                            raise EngineError(f"no result in {timeout} s", "timeout")
                        self._done.wait(0.1 if left is None else min(left, 0.1))
                    result = collected.popleft()
                outstanding -= 1
                yield result
        finally:
            with self._done:
                self._collect = None

    def update_params(self, values: dict[str, Any]) -> int:
        """Ask for new params (merged over the current ones); returns a request id.

        The worker validates; ``params_applied`` or ``params_rejected`` (with field errors)
        follows. Updates sent while a frame runs are coalesced: the latest wins.
        """
        request = next(self._requests)
        with self._lock:
            self._wanted = _merge(self._wanted, values)
            worker = self._active
        if worker is not None:
            worker.send((P.PARAMS, request, values))
        return request

    @property
    def worker_pid(self) -> int | None:
        """The running worker's process id (for system monitors and CPU accounting)."""
        worker = self._active
        return worker.process.pid if worker is not None and worker.process is not None else None

    def snapshot(self) -> EngineStats:
        return self.stats.snapshot()

    def idle(self) -> bool:
        worker = self._active
        return worker is None or worker.idle()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the worker (``on_stop`` runs), join it, release shared memory."""
        with self._lock:
            workers = [w for w in (self._next, self._active) if w is not None]
            self._next = self._active = None
        for worker in workers:
            worker.stop(timeout)
        for retire in self._retiring:
            retire.join(timeout + 2.0)
        self._set_state(EngineState.STOPPED)
        with self._done:
            self._done.notify_all()

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- called from reader threads -----------------------------------------------------------

    def _wait_worker(self, worker: _Worker, timeout: float | None) -> None:
        if not worker.ready.wait(timeout if timeout is not None else self.ready_timeout + 5):
            raise EngineError(f"pipeline {self.name!r} did not start in time", "timeout")
        if worker.error is not None:
            raise worker.error

    def _worker_ready(self, worker: _Worker) -> None:
        with self._lock:
            if worker is not self._next:
                return
            old, self._active, self._next = self._active, worker, None
            info = worker.info or {}
            self.info = info
            self._params = dict(info.get("params", {}))
            self.stats.device = info.get("device_label", "")
            reloaded = old is not None
            self._set_state(EngineState.RUNNING)
            if self._wanted and _merge(self._params, self._wanted) != self._params:
                worker.send((P.PARAMS, next(self._requests), dict(self._wanted)))
        dropped = info.get("dropped") or []
        note = f"; dropped params the model refuses: {', '.join(dropped)}" if dropped else ""
        if reloaded:
            self._emit("reloaded", f"pipeline {self.name!r} reloaded{note}", data=info)
            retire = threading.Thread(target=old.stop, args=(3.0,), daemon=True)
            retire.start()
            self._retiring = [t for t in self._retiring if t.is_alive()] + [retire]
        else:
            self._emit(
                "ready",
                f"pipeline {self.name!r} running on {info.get('device_label')}{note}",
                data=info,
            )

    def _worker_failed(self, worker: _Worker, error: EngineError) -> None:
        with self._lock:
            if worker is not self._next:
                return
            self._next = None
            if self._active is not None:
                self._set_state(EngineState.RUNNING)
                prefix = "reload failed, the previous code keeps running: "
            else:
                self._set_state(EngineState.FAILED)
                prefix = ""
        if error.errors:
            self._wanted = dict(self._params)
        self._emit(
            "load_error",
            prefix + str(error),
            detail=error.detail,
            data={"kind": error.kind, "errors": error.errors},
        )

    def _worker_fault(self, worker: _Worker, kind: str, message: str) -> None:
        with self._lock:
            if worker is not self._active:
                return
            self._active = None
            self._set_state(EngineState.FAILED)
        self._emit(kind, message)
        with self._done:
            self._done.notify_all()

    def _deliver(self, frame: ProcessedFrame) -> None:
        self.stats.output(frame.pipeline_ms, frame.latency_ms, frame.failed)
        self.latest = frame
        with self._done:
            self._last_done = max(self._last_done, frame.seq)
            if self._collect is not None:
                self._collect.append(frame)
            self._done.notify_all()
        if self.on_frame is not None:
            self.on_frame(frame)

    def _transform_error(self, message: str, detail: str) -> None:
        last, when, repeats = self._last_error
        now = time.monotonic()
        if message == last and now - when < 2.0:
            self._last_error = (last, when, repeats + 1)
            return
        data = {"repeats": repeats} if message == last and repeats else {}
        self._last_error = (message, now, 0)
        self._emit(
            "transform_error",
            f"transform failed (frame passed through): {message}",
            detail=detail,
            data=data,
        )

    def _params_result(
        self, worker: _Worker, request: int, params: dict | None, errors: list | None
    ) -> None:
        if worker is not self._active:
            return
        if params is not None:
            self._params = dict(params)
            self._emit(
                "params_applied", "params applied", data={"request": request, "params": params}
            )
        else:
            self._wanted = dict(self._params)
            text = "; ".join(f"{e['field']}: {e['message'].splitlines()[0]}" for e in errors or [])
            self._emit(
                "params_rejected",
                f"params rejected, keeping the last good ones: {text}",
                data={"request": request, "errors": errors},
            )

    def _set_state(self, state: EngineState) -> None:
        if state != self._state:
            self._state = state
            self._emit("state", str(state), data={"state": str(state)})

    def _emit(
        self, kind: str, message: str, detail: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        event = EngineEvent(kind, message, detail, data or {})
        self.events.append(event)
        if self.on_event is not None:
            with contextlib.suppress(Exception):
                self.on_event(event)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    from studio.params import deep_merge

    return deep_merge(dict(base), over)
