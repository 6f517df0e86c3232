"""Playing back what the box sends (``KEY-out`` over RTMP) and measuring the round trip.

A thread opens the URL with PyAV and decodes video to RGB; only the newest frame is kept
(:attr:`RtmpPlayer.latest`), so a slow viewer never builds latency. The box's output appears
some time after the stream went live, and disappears when the box restarts a pipeline, so
the player keeps retrying on its own (about once a second) until stopped; when nothing has
come for ``give_up_after`` seconds it reports that once ("gave_up") and goes on trying.

Round-trip delay. The publisher remembers the pts (ms) and send time of every frame it sent
(``marks``). When a played frame carries a pts that the publisher sent, the delay is exact:
the time it was decoded here minus the time it left. This holds when the media server and
the pipeline keep the input timestamps, as nginx-rtmp with an ffmpeg relay using
``-copyts`` does (the tests check it). A server that re-bases timestamps (starts its output
at 0, or shifts it by a muxer offset) makes pts match nothing; then ``delay_ms`` stays None
rather than guessing, and ``drift_ms`` reports what can still be known without a common
clock: how much ``t_received - pts`` has grown since the first frame of the connection,
i.e. whether latency builds up, not its absolute value.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import av
import numpy as np

from studio.media.mp4 import MediaError, Mp4Writer
from studio.rolling import Recent

log = logging.getLogger(__name__)

WAITING = "waiting"
PLAYING = "playing"
GAVE_UP = "gave_up"
STOPPED = "stopped"
FAILED = "failed"

_RETRY_EVERY = 1.0
_READ_TIMEOUT = 2.0  # a stream silent this long is treated as gone and reopened
_STOP_WAIT = 2.0
_DELAY_WINDOW = 2.0
_DEFAULT_PORTS = {"rtmp": 1935, "rtmps": 443}


@dataclass(frozen=True, slots=True)
class PlayedFrame:
    """The newest frame from the box: uint8 (H, W, 3) RGB, owned by the receiver.

    ``delay_ms`` is the exact round trip when its pts matched a sent frame, else None.
    """

    image: np.ndarray
    pts_ms: int | None
    t_received: float
    delay_ms: float | None
    index: int


@dataclass(frozen=True, slots=True)
class PlayerStats:
    """A snapshot: ``fps`` over the last second; ``delay_ms`` the median matched round trip
    over the last 2 s (None when no pts matched); ``drift_ms`` see the module docstring."""

    state: str = STOPPED
    frames: int = 0
    fps: float = 0.0
    delay_ms: float | None = None
    drift_ms: float | None = None
    matched: int = 0
    reconnects: int = 0
    width: int = 0
    height: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        delay = "n/a" if self.delay_ms is None else f"{self.delay_ms:.0f} ms"
        return (
            f"{self.state}: received {self.frames} ({self.fps:.1f} fps) {self.width}x"
            f"{self.height}, round trip {delay}, reconnects {self.reconnects}"
        )


def _reason(exc: BaseException) -> str:
    """An error's text without the file name PyAV appends (the URL, with the key in it)."""
    if isinstance(exc, av.FFmpegError | OSError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__


class RtmpPlayer:
    """Play ``url`` (``rtmp://``) on its own thread, from construction until :meth:`stop`.

    ``on_state(state, message)`` comes from the player's threads with ``waiting`` (not
    there yet, or gone: retrying), ``playing``, ``gave_up`` (nothing for ``give_up_after``
    seconds; still retrying), and a final ``stopped`` (or ``failed`` on an internal error).
    ``marks(pts_ms)`` returns the publisher's send time of that pts (see the module
    docstring); ``open_timeout`` bounds each attempt to open the stream.
    """

    def __init__(
        self,
        url: str,
        *,
        on_state: Callable[[str, str], None] | None = None,
        redact: Callable[[str], str] | None = None,
        open_timeout: float = 5.0,
        give_up_after: float | None = None,
        marks: Callable[[int], float | None] | None = None,
    ):
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("the playback URL must look like rtmp://HOST[:PORT]/PATH")
        self.url = url
        self.target = f"{parts.hostname}:{parts.port or _DEFAULT_PORTS[parts.scheme]}"
        self.open_timeout = float(open_timeout)
        self.give_up_after = give_up_after
        self.marks = marks
        self.on_state = on_state
        self.redact = redact or (lambda text: text)

        self._stop = threading.Event()
        self._state_lock = threading.Lock()
        self._state, self._message = WAITING, ""
        self._final = False
        self._latest: PlayedFrame | None = None
        self._stats_lock = threading.Lock()
        self._received: Recent[None] = Recent(1.0)
        self._delays: Recent[float] = Recent(_DELAY_WINDOW)  # delay_ms by t_received
        self._frames = self._matched = self._reconnects = 0
        self._drift: float | None = None
        self._size = (0, 0)
        self._t_last = time.monotonic()  # last frame, or the start: the give-up clock
        self._gave_up = False
        self._writer: Mp4Writer | None = None
        self._writer_lock = threading.Lock()
        self.record_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="rtmp-player", daemon=True)
        self._watch = threading.Thread(target=self._watchdog, name="rtmp-player-watch", daemon=True)
        self._thread.start()
        self._watch.start()

    # -- caller side --------------------------------------------------------------------------

    @property
    def latest(self) -> PlayedFrame | None:
        return self._latest

    @property
    def state(self) -> str:
        return self._state

    @property
    def message(self) -> str:
        return self._message

    def stats(self) -> PlayerStats:
        now = time.monotonic()
        with self._stats_lock:
            fps = float(self._received.count(now))
            delays = self._delays.values(now)
            return PlayerStats(
                state=self._state,
                frames=self._frames,
                fps=fps,
                delay_ms=statistics.median(delays) if delays else None,
                drift_ms=self._drift,
                matched=self._matched,
                reconnects=self._reconnects,
                width=self._size[0],
                height=self._size[1],
            )

    def record_to(self, path: str | Path, fps: float = 30.0) -> None:
        """Also write every received frame to an MP4 at ``path`` (timed as received).

        The file is created now, so a bad path raises :class:`MediaError` here; it is
        finished by :meth:`stop`. A write error later stops the recording and is kept in
        :attr:`record_error`.
        """
        writer = Mp4Writer(path, fps)
        with self._writer_lock:
            previous, self._writer = self._writer, writer
        if previous is not None:
            previous.close()

    def stop(self, timeout: float = _STOP_WAIT) -> None:
        """Stop playing and finish any recording; returns within about ``timeout`` s.

        A read blocked in the network cannot be interrupted: the thread then ends by itself
        when PyAV's timeout fires (at most ``open_timeout`` later), silently.
        """
        self._stop.set()
        if threading.current_thread() not in (self._thread, self._watch):
            self._thread.join(timeout)
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            except MediaError as exc:
                self.record_error = self.redact(str(exc))
        self._set_state(STOPPED, "stopped", final=True)

    # -- threads ------------------------------------------------------------------------------

    def _set_state(self, state: str, message: str, *, final: bool = False) -> None:
        message = self.redact(message)
        with self._state_lock:
            if self._final or (state, message) == (self._state, self._message):
                return
            self._final = final
            self._state, self._message = state, message
        log.info("rtmp player %s: %s", state, message)
        if self.on_state is not None:
            try:
                self.on_state(state, message)
            except Exception:
                log.exception("on_state callback failed")

    def _watchdog(self) -> None:
        """Reports "nothing coming back" on time even while an open or a read is blocked."""
        while not self._stop.wait(0.25):
            limit = self.give_up_after
            if limit is None or self._gave_up or self._state == PLAYING:
                continue
            if time.monotonic() - self._t_last >= limit:
                self._gave_up = True
                self._set_state(
                    GAVE_UP,
                    f"nothing coming back after {limit:g} s from {self.target}: is the "
                    "pipeline running on the box? (check the box's logs); still trying",
                )

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug, not the network: say so rather than die silently
            log.error("rtmp player crashed:\n%s", self.redact(traceback.format_exc()))
            self._set_state(FAILED, f"player error: {type(exc).__name__}: {exc}", final=True)

    def _loop(self) -> None:
        waiting = f"waiting for the box's output from {self.target}"
        self._set_state(WAITING, waiting)
        played_before = False
        while not self._stop.is_set():
            try:
                container = av.open(
                    self.url,
                    container_options={
                        "rw_timeout": str(int(self.open_timeout * 1_000_000)),
                        "analyzeduration": "1000000",
                        "probesize": "1000000",
                        "rtmp_live": "live",
                    },
                    timeout=(self.open_timeout, _READ_TIMEOUT),
                )
            except (av.FFmpegError, OSError) as exc:
                if self._stop.is_set():
                    return
                why = (
                    "nothing listens there yet"
                    if isinstance(exc, ConnectionRefusedError)
                    else f"not there yet: {_reason(exc)}"
                )
                if not self._gave_up:
                    self._set_state(WAITING, f"{waiting} ({why})")
                self._stop.wait(_RETRY_EVERY)
                continue
            if played_before:
                with self._stats_lock:
                    self._reconnects += 1
            try:
                got_any = self._play(container)
            finally:
                with contextlib.suppress(Exception):
                    container.close()
            played_before = played_before or got_any
            if self._stop.is_set():
                return
            if self._state == PLAYING:
                self._set_state(WAITING, f"the box's output stopped; {waiting}")
            self._stop.wait(0.2)

    def _play(self, container: av.container.InputContainer) -> bool:
        """Decode until the stream ends, fails or the player stops; True if a frame came."""
        if not container.streams.video:
            if not self._gave_up:
                self._set_state(WAITING, f"the stream from {self.target} has no video yet")
            return False
        stream = container.streams.video[0]
        first_offset: float | None = None
        got_any = False
        try:
            for frame in container.decode(stream):
                if self._stop.is_set():
                    break
                image = frame.to_ndarray(format="rgb24")
                t_received = time.monotonic()
                pts_ms = _pts_ms(frame)
                delay = self._delay(pts_ms, t_received)
                if pts_ms is not None:
                    offset = t_received - pts_ms / 1000
                    if first_offset is None:
                        first_offset = offset
                    drift = (offset - first_offset) * 1000
                else:
                    drift = None
                with self._stats_lock:
                    self._frames += 1
                    index = self._frames
                    self._received.add(t_received, None)
                    self._drift = drift
                    self._size = (image.shape[1], image.shape[0])
                    if delay is not None:
                        self._matched += 1
                        self._delays.add(t_received, delay)
                self._latest = PlayedFrame(image, pts_ms, t_received, delay, index)
                self._t_last = t_received
                self._gave_up = False
                self._record(image, t_received)
                if not got_any:
                    got_any = True
                    self._set_state(
                        PLAYING,
                        f"playing the box's output from {self.target} "
                        f"({image.shape[1]}x{image.shape[0]})",
                    )
        except (av.FFmpegError, OSError) as exc:
            log.info("rtmp player: stream ended: %s", self.redact(_reason(exc)))
        return got_any

    def _delay(self, pts_ms: int | None, t_received: float) -> float | None:
        if pts_ms is None or self.marks is None:
            return None
        t_sent = self.marks(pts_ms)
        if t_sent is None:
            return None
        return (t_received - t_sent) * 1000

    def _record(self, image: np.ndarray, t_received: float) -> None:
        with self._writer_lock:
            if self._writer is None:
                return
            try:
                self._writer.write(image, t_received)
            except (MediaError, ValueError) as exc:
                self.record_error = self.redact(str(exc))
                log.warning("recording the box's output stopped: %s", self.record_error)
                with contextlib.suppress(MediaError):
                    self._writer.close()
                self._writer = None


def _pts_ms(frame: av.VideoFrame) -> int | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return round(frame.pts * frame.time_base * 1000)
