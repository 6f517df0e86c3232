"""Publishing frames to an RTMP ingest (the box's MediaMTX): H.264 in FLV, paced, self-healing.

The caller hands over frames from any thread with :meth:`RtmpPublisher.submit`; one slot
holds the newest frame and an older unsent one is dropped and counted, so a slow network or
encoder never queues latency and never blocks the preview. An encoder thread takes the slot
at most ``fps`` times a second, encodes it the way the box expects (libx264, zerolatency, no
B-frames, a keyframe every ``keyframe_seconds`` of wall time, yuv420p tagged BT.601, the
bitrate capped by a one-second VBV buffer) and muxes it to the URL as FLV.

Timestamps are the wall time since the connection started (in ms, FLV's time base), so the
box sees real time whatever the source's clock does, and each sent frame's pts is remembered
with its send time (:meth:`RtmpPublisher.mark`) for the player to measure the round trip.

A connection lost mid-stream is retried with exponential backoff; a first connection that
cannot be made is a failure with a reason the user can act on. No message ever carries the
URL's path or query (where the stream key lives), and every message also goes through the
caller's ``redact``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import av
import cv2
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import ColorRange

from studio.rolling import Recent

log = logging.getLogger(__name__)

FLV_TIME_BASE = Fraction(1, 1000)
"""RTMP/FLV timestamps are milliseconds; pts and marks use the same unit."""

CONNECTING = "connecting"
LIVE = "live"
RECONNECTING = "reconnecting"
STOPPED = "stopped"
FAILED = "failed"

_BT709 = 1
_BT601 = 6  # AVCOL_SPC_SMPTE170M: the matrix cv2's RGB->I420 uses
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 5.0
_MARKS_KEPT = 900  # 30 s at 30 fps: longer than any round trip worth measuring
_STOP_WAIT = 2.0
_DEFAULT_PORTS = {"rtmp": 1935, "rtmps": 443}


@dataclass(frozen=True, slots=True)
class PublisherStats:
    """A snapshot: ``fps`` and the per-frame times over the last second, counters since start.

    ``cpu_ms_per_frame`` is the CPU time spent on one frame (resize, colour conversion,
    encode, mux) by the encoder thread (``time.thread_time``) and, on Linux, by the slice
    threads libx264 started while the codec opened. Threads it starts later are not seen, so
    this reads low: ~11 ms where the whole process spends ~13 ms a 1280x720 frame in the
    streaming benchmark (docs/performance.md). ``wall_ms_per_frame`` is the wall time of
    the same work, which also includes waiting on the network. ``reconnects`` counts
    connections re-established after a loss.
    """

    state: str = STOPPED
    frames: int = 0
    fps: float = 0.0
    drops: int = 0
    bytes: int = 0
    reconnects: int = 0
    cpu_ms_per_frame: float = 0.0
    wall_ms_per_frame: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.state}: sent {self.frames} ({self.fps:.1f} fps), {self.bytes / 1e6:.2f} MB, "
            f"encode {self.cpu_ms_per_frame:.1f} ms cpu / {self.wall_ms_per_frame:.1f} ms wall, "
            f"drops {self.drops}, reconnects {self.reconnects}"
        )


@dataclass(frozen=True, slots=True)
class SentMark:
    """When the frame with a given pts left (``t_sent``) and when it was captured."""

    t_sent: float
    t_capture: float


class _Failure(Exception):
    """A connection attempt or a connection failed; the message is ready for the user."""


def _reason(exc: BaseException) -> str:
    """An error's text without the file name PyAV appends (the URL, with the key in it)."""
    if isinstance(exc, av.FFmpegError | OSError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__


class RtmpPublisher:
    """Encode and publish frames to ``url`` (``rtmp://`` or ``rtmps://``) on its own thread.

    The thread starts at once. ``on_state(state, message)`` is called from that thread (and
    from :meth:`stop`) with: ``connecting``, ``live``, ``reconnecting`` (a message per retry),
    then one final ``stopped`` or ``failed``; nothing follows a final state. ``failed`` comes
    only when the first connection cannot be made; after a connection went live, losses are
    retried until :meth:`stop`.
    """

    def __init__(
        self,
        url: str,
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        bitrate: int = 1_000_000,
        keyframe_seconds: float = 2.0,
        preset: str = "veryfast",
        redact: Callable[[str], str] | None = None,
        on_state: Callable[[str, str], None] | None = None,
        connect_timeout: float = 5.0,
    ):
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("the ingest URL must look like rtmp://HOST[:PORT]/PATH")
        for name, value in (("fps", fps), ("keyframe_seconds", keyframe_seconds)):
            if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number, not {value!r}")
        if width < 2 or height < 2:
            raise ValueError(f"a {width}x{height} stream is too small to encode as H.264")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self.target = f"{self.host}:{self.port}"
        self.width, self.height = int(width) - int(width) % 2, int(height) - int(height) % 2
        self.fps = float(fps)
        self.bitrate = int(bitrate)
        self.keyframe_seconds = float(keyframe_seconds)
        self.preset = preset
        self.connect_timeout = float(connect_timeout)
        self.redact = redact or (lambda text: text)
        self.on_state = on_state

        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray, float] | None = None
        self._stop = threading.Event()
        self._state_lock = threading.Lock()
        self._state, self._message = CONNECTING, ""
        self._final = False
        self._marks: OrderedDict[int, SentMark] = OrderedDict()
        self._marks_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._recent: Recent[tuple[float, float]] = Recent(1.0)  # (cpu_ms, wall_ms) by t_sent
        self._frames = self._drops = self._bytes = self._reconnects = 0
        self._cpu = _EncoderCpu(set())
        self._live_once = False  # some connection went live: losses are retried from now on
        self._session_live = False  # the current connection went live
        self._thread = threading.Thread(target=self._run, name="rtmp-publisher", daemon=True)
        self._thread.start()

    # -- caller side --------------------------------------------------------------------------

    def submit(self, image: np.ndarray, t_capture: float | None = None) -> None:
        """Offer a uint8 (H, W, 3) RGB frame; never blocks, never queues.

        The array is read later on the encoder thread, so the caller must not modify it in
        place afterwards (the studio's frames are owned by their receiver, so this holds).
        An unsent previous frame is dropped and counted.
        """
        if not (
            isinstance(image, np.ndarray)
            and image.dtype == np.uint8
            and image.ndim == 3
            and image.shape[2] == 3
        ):
            shape = getattr(image, "shape", None)
            raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {shape}")
        t = time.monotonic() if t_capture is None else float(t_capture)
        with self._cond:
            if self._pending is not None:
                with self._stats_lock:
                    self._drops += 1
            self._pending = (image, t)
            self._cond.notify()

    def mark(self, pts_ms: int) -> float | None:
        """The send time (``time.monotonic()``) of the frame sent with ``pts_ms``, if known.

        A pts one millisecond off also matches, for servers that round timestamps.
        """
        with self._marks_lock:
            for key in (pts_ms, pts_ms - 1, pts_ms + 1):
                found = self._marks.get(key)
                if found is not None:
                    return found.t_sent
        return None

    @property
    def sent_marks(self) -> dict[int, SentMark]:
        """A copy of the recent pts (ms) -> :class:`SentMark` map (the current connection's)."""
        with self._marks_lock:
            return dict(self._marks)

    @property
    def state(self) -> str:
        return self._state

    @property
    def message(self) -> str:
        return self._message

    def stats(self) -> PublisherStats:
        now = time.monotonic()
        with self._stats_lock:
            recent = self._recent.values(now)
            frames, drops, sent, reconnects = (
                self._frames,
                self._drops,
                self._bytes,
                self._reconnects,
            )
        n = len(recent)
        return PublisherStats(
            state=self._state,
            frames=frames,
            fps=float(n),
            drops=drops,
            bytes=sent,
            reconnects=reconnects,
            cpu_ms_per_frame=sum(r[0] for r in recent) / n if n else 0.0,
            wall_ms_per_frame=sum(r[1] for r in recent) / n if n else 0.0,
        )

    def stop(self, timeout: float = _STOP_WAIT) -> None:
        """Stop streaming; returns within ``timeout`` s whatever the network does.

        The thread closes the connection cleanly when it can; if a write is stuck it ends by
        itself once the network timeout fires, silently.
        """
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._set_state(STOPPED, "stopped", final=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- encoder thread -----------------------------------------------------------------------

    def _set_state(self, state: str, message: str, *, final: bool = False) -> None:
        message = self.redact(message)
        with self._state_lock:
            if self._final:
                return
            self._final = final
            self._state, self._message = state, message
        log.info("rtmp publisher %s: %s", state, message)
        if self.on_state is not None:
            try:
                self.on_state(state, message)
            except Exception:
                log.exception("on_state callback failed")

    def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        self._set_state(CONNECTING, f"connecting to {self.target}")
        try:
            while not self._stop.is_set():
                try:
                    self._session()
                    break  # returns only when stopping
                except _Failure as failure:
                    if self._stop.is_set():
                        break
                    if not self._live_once:
                        self._set_state(FAILED, str(failure), final=True)
                        return
                    if self._session_live:
                        backoff = _BACKOFF_FIRST
                    self._set_state(RECONNECTING, f"{failure}; retrying in {backoff:.1f} s")
                    if self._stop.wait(backoff):
                        break
                    backoff = min(backoff * 2, _BACKOFF_MAX)
        except Exception as exc:  # a bug, not the network: say so rather than die silently
            log.error("rtmp publisher crashed:\n%s", self.redact(traceback.format_exc()))
            self._set_state(FAILED, f"publisher error: {type(exc).__name__}: {exc}", final=True)
            return
        self._set_state(STOPPED, "stopped", final=True)

    def _precheck(self) -> None:
        """A plain TCP connect first: it tells "nothing there" apart from "RTMP refused"."""
        try:
            with socket.create_connection((self.host, self.port), timeout=self.connect_timeout):
                pass
        except ConnectionRefusedError:
            raise _Failure(
                f"host unreachable: nothing listens on {self.target} "
                "(is the box running? `make box`)"
            ) from None
        except TimeoutError:
            raise _Failure(
                f"host unreachable: no answer from {self.target} within "
                f"{self.connect_timeout:g} s (check the address, the port and any firewall)"
            ) from None
        except socket.gaierror:
            raise _Failure(
                f"host unreachable: cannot resolve {self.host!r} (check the box address)"
            ) from None
        except OSError as exc:
            raise _Failure(f"host unreachable: {self.target}: {_reason(exc)}") from None

    def _open(self) -> tuple[av.container.OutputContainer, av.VideoStream]:
        """Connect and publish: the RTMP handshake runs here, not at the first frame."""
        microseconds = str(int(self.connect_timeout * 1_000_000))
        try:
            container = av.open(
                self.url,
                mode="w",
                format="flv",
                container_options={"rw_timeout": microseconds, "flvflags": "no_duration_filesize"},
                timeout=(self.connect_timeout, self.connect_timeout),
            )
        except (av.FFmpegError, OSError) as exc:
            raise _Failure(f"cannot open the ingest at {self.target}: {_reason(exc)}") from None
        keyint = max(1, round(self.keyframe_seconds * self.fps))
        stream = container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1000))
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = self.bitrate
        stream.options = {
            "preset": self.preset,
            "tune": "zerolatency",
            "bf": "0",
            "g": str(keyint),
            "keyint_min": str(keyint),
            "sc_threshold": "0",
            "maxrate": str(self.bitrate),
            "bufsize": str(self.bitrate),
        }
        ctx = stream.codec_context
        ctx.time_base = FLV_TIME_BASE
        ctx.colorspace = _BT601  # the matrix; the content's primaries and transfer are sRGB's
        ctx.color_primaries = ctx.color_trc = _BT709
        ctx.color_range = int(ColorRange.MPEG)
        before = _EncoderCpu.tasks()
        try:
            ctx.open()  # before connecting, so only x264's threads appear meanwhile
        except (av.FFmpegError, OSError, ValueError) as exc:
            _close_quietly(container)
            raise _Failure(f"cannot start the H.264 encoder: {_reason(exc)}") from None
        self._cpu = _EncoderCpu(_EncoderCpu.tasks() - before - {threading.get_native_id()})
        try:
            container.start_encoding()
        except av.ExitError:
            _close_quietly(container)
            raise _Failure(
                f"ingest timed out: {self.target} accepted the connection but did not complete "
                f"the RTMP handshake within {self.connect_timeout:g} s (is it an RTMP server?)"
            ) from None
        except ConnectionRefusedError:
            _close_quietly(container)
            raise _Failure(
                f"host unreachable: nothing listens on {self.target} "
                "(is the box running? `make box`)"
            ) from None
        except (av.FFmpegError, OSError) as exc:
            _close_quietly(container)
            raise _Failure(
                f"ingest refused: {self.target} did not accept the stream ({_reason(exc)}); "
                "check the ingest URL (app and key) and that no other client publishes this key"
            ) from None
        return container, stream

    def _take(self, due: float) -> tuple[np.ndarray, float] | None:
        """The newest frame once one is waiting and ``due`` has come; None when stopping.

        A quarter of a frame early is on time: sources that tick at exactly ``fps`` jitter
        around the schedule, and waiting for them would turn jitter into drops.
        """
        early = 0.25 / self.fps
        with self._cond:
            while not self._stop.is_set():
                now = time.monotonic()
                if self._pending is not None and now >= due - early:
                    item, self._pending = self._pending, None
                    return item
                wait = 0.25 if self._pending is None else due - now
                self._cond.wait(min(wait, 0.25))
        return None

    def _session(self) -> None:
        """One connection: connect, then send until stopped; raises :class:`_Failure`."""
        self._session_live = False
        reconnect = self._live_once
        self._precheck()
        if self._stop.is_set():
            return
        container, stream = self._open()
        if reconnect:
            self._set_state(RECONNECTING, f"reconnected to {self.target}; waiting for frames")
        else:
            self._set_state(CONNECTING, f"connected to {self.target}; waiting for frames")
        with self._marks_lock:
            self._marks.clear()  # pts restart with the connection
        interval = 1.0 / self.fps
        key_every_ms = self.keyframe_seconds * 1000
        t0 = time.monotonic()
        due = t0
        last_pts = -1
        last_key = -math.inf
        try:
            while True:
                item = self._take(due)
                if item is None:
                    break
                image, t_capture = item
                now = time.monotonic()
                due = max(due, now - interval) + interval
                pts = max(last_pts + 1, round((now - t0) * 1000))
                cpu0 = self._cpu.seconds()
                frame = self._to_frame(image)
                frame.pts, frame.time_base = pts, FLV_TIME_BASE
                if pts - last_key >= key_every_ms:
                    frame.pict_type = PictureType.I  # keyframes by time, whatever the rate
                    last_key = pts
                size = 0
                try:
                    for packet in stream.encode(frame):
                        size += packet.size
                        container.mux(packet)
                except (av.FFmpegError, OSError) as exc:
                    raise _Failure(f"connection to {self.target} lost: {_reason(exc)}") from None
                cpu_ms = max(0.0, self._cpu.seconds() - cpu0) * 1000
                t_sent = time.monotonic()
                last_pts = pts
                with self._marks_lock:
                    self._marks[pts] = SentMark(t_sent, t_capture)
                    while len(self._marks) > _MARKS_KEPT:
                        self._marks.popitem(last=False)
                with self._stats_lock:
                    self._frames += 1
                    self._bytes += size
                    self._recent.add(t_sent, (cpu_ms, (t_sent - now) * 1000))
                    if not self._session_live and reconnect:
                        self._reconnects += 1
                if not self._session_live:
                    self._session_live = self._live_once = True
                    self._set_state(
                        LIVE,
                        f"sending {self.width}x{self.height} at up to {self.fps:g} fps "
                        f"to {self.target}",
                    )
        finally:
            _close_quietly(container)

    def _to_frame(self, image: np.ndarray) -> av.VideoFrame:
        """RGB to a yuv420p frame: cv2 does BT.601 limited range (what the stream is tagged
        with, and what untagged-aware decoders assume) in well under a tenth of swscale's
        time at 720p."""
        h, w = image.shape[:2]
        if (w, h) != (self.width, self.height):
            shrink = w * h > self.width * self.height
            image = cv2.resize(
                image,
                (self.width, self.height),
                interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
            )
        i420 = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        frame.colorspace = _BT601
        frame.color_range = int(ColorRange.MPEG)
        return frame


class _EncoderCpu:
    """CPU seconds of the encoder thread plus the threads libx264 started for it.

    With zerolatency, x264 encodes slices on its own threads while ``encode`` waits, so
    ``time.thread_time()`` alone would miss most of the work. Those threads are the ones
    that appeared while the codec opened; their run time comes from Linux's
    ``/proc/self/task/TID/schedstat`` (ns). Elsewhere only the encoder thread is counted.
    """

    def __init__(self, workers: set[int]):
        self.paths = [f"/proc/self/task/{tid}/schedstat" for tid in sorted(workers)]

    @staticmethod
    def tasks() -> set[int]:
        try:
            return {int(name) for name in os.listdir("/proc/self/task")}
        except OSError:
            return set()

    def seconds(self) -> float:
        total = time.thread_time()
        for path in self.paths:
            try:
                with open(path, "rb") as f:
                    total += int(f.read().split(maxsplit=1)[0]) / 1e9
            except (OSError, ValueError, IndexError):
                continue
        return total


def _close_quietly(container: av.container.OutputContainer) -> None:
    """Close after a failure or at the end; the network may already be gone."""
    with contextlib.suppress(Exception):
        container.close()
