"""The worker process: the only place a pipeline's code runs while the studio previews it.

It loads the pipeline from its spec, then serves frames one at a time. Params updates that
arrive while a frame runs are coalesced and applied before the next frame, so the latest
value wins and no update overlaps a transform. Whatever the pipeline prints is forwarded to
the parent's log as well as the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
import traceback
from collections import deque
from fractions import Fraction
from typing import Any

from studio.engine import protocol as P
from studio.engine.shm import FrameReader, FrameSlot


class _Outbox:
    """Thread-safe sends: the main loop and the pipeline's prints share one pipe."""

    def __init__(self, conn: Any):
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, msg: tuple) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._conn.send(msg)


class _LogStream:
    """A stdout/stderr that also sends complete lines to the parent."""

    def __init__(self, outbox: _Outbox, stream: str, original: Any):
        self._outbox, self._stream, self._original = outbox, stream, original
        self._partial = ""

    def write(self, text: str) -> int:
        with contextlib.suppress(Exception):
            self._original.write(text)
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._outbox.send((P.LOG, self._stream, line))
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self._original.flush()

    def isatty(self) -> bool:
        return False


def main(argv: list[str] | None = None) -> None:
    """``python -m studio.engine.worker FD``: FD is this end of a socketpair.

    A plain subprocess rather than multiprocessing's spawn: spawn would re-run the caller's
    ``__main__`` (the app, a user's script) in the child before anything else.
    """
    from multiprocessing.connection import Connection

    fd = (argv or sys.argv[1:])[0]
    _untrack_shared_memory()
    worker_main(Connection(int(fd)))


def _untrack_shared_memory() -> None:
    """The engine cleans up after its worker; a resource tracker here would be one more
    process, and on Python < 3.13 it would also unlink the engine's segments at exit."""
    from multiprocessing import resource_tracker

    real_register, real_unregister = resource_tracker.register, resource_tracker.unregister

    def register(name: str, rtype: str) -> None:
        if rtype != "shared_memory":
            real_register(name, rtype)

    def unregister(name: str, rtype: str) -> None:
        if rtype != "shared_memory":
            real_unregister(name, rtype)

    resource_tracker.register, resource_tracker.unregister = register, unregister


def _yield_to_the_app() -> None:
    """Run a little behind the app in the scheduler's eyes.

    The pipeline may keep every core busy; the window (and the source feeding it) must still
    get the CPU the moment it needs it, or the preview stutters. ``STUDIO_WORKER_NICE`` sets
    the amount (default 5; 0 leaves the priority alone).
    """
    amount = int(os.environ.get("STUDIO_WORKER_NICE", "5") or 0)
    if amount > 0 and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(amount)


def worker_main(conn: Any) -> None:
    """Serve one pipeline over ``conn`` until told to stop or the pipe closes."""
    outbox = _Outbox(conn)
    sys.stdout = _LogStream(outbox, "stdout", sys.__stdout__)
    sys.stderr = _LogStream(outbox, "stderr", sys.__stderr__)
    _yield_to_the_app()
    import torch

    import studio.frames
    import studio.runtime  # noqa: F401 - pydantic and the runtime, paid before a pipeline is asked for

    torch.zeros(64).add_(1).sum()  # start torch's thread pool now, not on the first frame

    outbox.send((P.HELLO, os.getpid()))
    try:
        msg = conn.recv()
    except (EOFError, OSError):
        return
    if msg[0] != P.LOAD:
        return
    asyncio.run(_serve(conn, outbox, *msg[1:]))


async def _serve(
    conn: Any,
    outbox: _Outbox,
    spec_dict: dict,
    file: str | None,
    params: dict,
    device: str,
    lenient: bool,
    prefix: str,
) -> None:
    from studio.params import params_defaults, params_schema
    from studio.runtime import LoadError, ParamsError, PipelineRuntime, device_label
    from studio.spec import PipelineSpec

    spec = PipelineSpec.from_dict(spec_dict)
    try:
        runtime = PipelineRuntime(spec, file, device, inline=True)
    except Exception as exc:
        cause = exc.__cause__ or exc
        message = str(exc) if isinstance(exc, LoadError) else f"cannot load: {_one_line(exc)}"
        outbox.send((P.LOAD_ERROR, "load", message, _format(cause), []))
        return
    dropped: list[str] = []
    try:
        if lenient:
            dropped = runtime.adopt(params)
        elif params:
            runtime.params = runtime.validate(params)
    except ParamsError as exc:
        outbox.send((P.LOAD_ERROR, "params", f"invalid params: {exc}", None, exc.errors))
        return
    try:
        await runtime.start()
    except Exception as exc:
        outbox.send((P.LOAD_ERROR, "ready", f"on_ready failed: {_one_line(exc)}", _format(exc), []))
        await _quiet_stop(runtime)
        return
    outbox.send(
        (
            P.READY,
            {
                "name": spec.name,
                "params": runtime.params_dict,
                "schema": params_schema(runtime.model),
                "defaults": params_defaults(runtime.model, spec.initial_params),
                "device": str(runtime.device),
                "device_label": device_label(runtime.device),
                "dropped": dropped,
            },
        )
    )
    inbox = _Inbox(conn, asyncio.get_running_loop())
    inbox.start()
    await _frame_loop(runtime, inbox, outbox, prefix)


class _Inbox:
    """Reads the pipe on the event loop itself (no extra thread, one wake-up a message).

    Params updates and frames are kept in order. The engine decides how many frames wait
    here (none, or one with lookahead), so this never becomes a queue that grows.
    """

    def __init__(self, conn: Any, loop: asyncio.AbstractEventLoop):
        self._conn, self._loop = conn, loop
        self.frames: deque[tuple] = deque()
        self.params: list[tuple[int, dict]] = []
        self.stop = False
        self.wake = asyncio.Event()

    def start(self) -> None:
        self._loop.add_reader(self._conn.fileno(), self._read)

    def _read(self) -> None:
        try:
            while True:
                self._put(self._conn.recv())
                if self.stop or not self._conn.poll(0):
                    break
        except (EOFError, OSError):
            self._put((P.STOP,))
        if self.stop:
            self._loop.remove_reader(self._conn.fileno())

    def _put(self, msg: tuple) -> None:
        tag = msg[0]
        if tag == P.FRAME:
            self.frames.append(msg)
        elif tag == P.PARAMS:
            self.params.append((msg[1], msg[2]))
        elif tag == P.STOP:
            self.stop = True
        self.wake.set()


async def _frame_loop(runtime: Any, inbox: _Inbox, outbox: _Outbox, prefix: str) -> None:
    import torch

    from studio.frames import VideoFrame, to_input_tensor, to_uint8_image
    from studio.runtime import ParamsError

    reader = FrameReader()
    slots = [FrameSlot(f"{prefix}o0", track=False), FrameSlot(f"{prefix}o1", track=False)]
    cuda = runtime.device.type == "cuda"
    stop_error = None
    produced = 0  # alternate output slots so the parent can read one while we fill the other
    try:
        while True:
            await inbox.wake.wait()
            inbox.wake.clear()
            if inbox.params:
                await _apply_params(runtime, inbox, outbox, ParamsError)
            if inbox.stop:
                break
            if not inbox.frames:
                continue
            msg = inbox.frames.popleft()
            if inbox.frames:
                inbox.wake.set()  # lookahead: the next frame is already here
            _, seq, name, height, width, pts, tb_num, tb_den = msg
            t0 = time.perf_counter()
            try:
                tensor = to_input_tensor(reader.view(name, height, width), runtime.device)
                frame = VideoFrame(tensor, pts, Fraction(tb_num, tb_den))
                out = await runtime.transform(frame)
                image = out.tensor
                oh, ow = int(image.shape[0]), int(image.shape[1])
                slot = slots[produced % 2]
                to_uint8_image(image, slot.view(oh, ow))
                produced += 1
                if cuda:
                    torch.cuda.synchronize(runtime.device)
            except Exception as exc:
                ms = (time.perf_counter() - t0) * 1000
                outbox.send((P.FAILED, seq, _one_line(exc), _format(exc), ms))
                continue
            ms = (time.perf_counter() - t0) * 1000
            out_pts = out.timestamp if out.timestamp is not None else pts
            tb = Fraction(out.time_base) if out.time_base is not None else Fraction(tb_num, tb_den)
            outbox.send(
                (
                    P.OUT,
                    seq,
                    slot.name,
                    oh,
                    ow,
                    ms,
                    out_pts,
                    tb.numerator,
                    tb.denominator,
                    out.metadata or None,
                )
            )
            if inbox.params:
                inbox.wake.set()
    finally:
        try:
            await runtime.stop()
        except Exception as exc:
            stop_error = f"on_stop failed: {_one_line(exc)}\n{_format(exc)}"
        reader.close()
        for slot in slots:
            slot.close()
        outbox.send((P.STOPPED, stop_error))


async def _apply_params(runtime: Any, inbox: _Inbox, outbox: _Outbox, params_error: type) -> None:
    """Validate each pending update in order; apply the last good result once."""
    pending, inbox.params = inbox.params, []
    candidate = runtime.params_dict
    accepted: list[int] = []
    for request_id, values in pending:
        try:
            candidate = runtime.validate(values, base=candidate).model_dump(mode="json")
            accepted.append(request_id)
        except params_error as exc:
            outbox.send((P.PARAMS_ERROR, request_id, exc.errors))
    if not accepted:
        return
    try:
        applied = await runtime.update(candidate)
    except params_error as exc:
        outbox.send((P.PARAMS_ERROR, accepted[-1], exc.errors))
        return
    except Exception as exc:
        errors = [{"field": "(on_update)", "message": f"{_one_line(exc)}\n{_format(exc)}"}]
        outbox.send((P.PARAMS_ERROR, accepted[-1], errors))
        return
    for request_id in accepted:
        outbox.send((P.PARAMS_OK, request_id, applied))


async def _quiet_stop(runtime: Any) -> None:
    with contextlib.suppress(Exception):
        await runtime.stop()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()


if __name__ == "__main__":
    main()
