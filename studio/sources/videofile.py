"""A video file as a live source: decoded with PyAV in the reader's thread, paced like a camera.

Pacing follows the file's own timestamps (variable frame rate plays right), looping seeks
back to the start while the timestamps keep rising, so to the engine a looped clip looks
like one endless stream. All frames come out at one size (the first frame's, or ``size``).
The first frame is decoded when the source opens, so an unreadable file fails there and
not in the middle of a session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from studio.sources.base import TIME_BASE, FrameSource, Pacer, SourceError, SourceFrame

if TYPE_CHECKING:
    import av  # imported when a file is opened: the app's start-up does not pay for PyAV

_MAX_SIZE = 8192
_DEFAULT_FPS = 30.0


def _reason(exc: BaseException) -> str:
    """FFmpeg's short reason (``Invalid data found ...``) rather than errno noise."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class VideoFileSource(FrameSource):
    """Frames of the first video stream of ``path``, as RGB, optionally resized to ``size``."""

    def __init__(
        self,
        path: str | Path,
        realtime: bool = True,
        loop: bool = False,
        size: tuple[int, int] | None = None,
    ):
        self.path = Path(path).expanduser()
        self.realtime = realtime
        self.loop = loop
        if size is not None:
            size = (int(size[0]), int(size[1]))
            if not (0 < size[0] <= _MAX_SIZE and 0 < size[1] <= _MAX_SIZE):
                raise SourceError(
                    f"output size {size[0]}x{size[1]} for {self.path} is out of range"
                )
        if not self.path.exists():
            raise SourceError(f"video file not found: {self.path}; check the path")
        if not self.path.is_file():
            raise SourceError(f"not a video file: {self.path} is a directory or a device")

        self._lock = threading.Lock()  # decoding vs. close from another thread
        self._closed = threading.Event()
        self._released = False
        self._container = self._open()
        self._stream = self._container.streams.video[0]
        rate = self._stream.average_rate or self._stream.guessed_rate
        self._fps = float(rate) if rate and rate > 0 else _DEFAULT_FPS
        self._pacer = Pacer(interval=1.0 / self._fps, max_wait=max(1.0, 4.0 / self._fps))

        self._frames: Iterator[av.VideoFrame] = self._container.decode(self._stream)
        self._loop_offset = Fraction(0)  # media seconds before the current pass
        self._first_pts: int | None = None  # stream pts of the first frame of this pass
        self._pass_index = 0  # frames delivered in this pass
        self._last_time = Fraction(-1)
        self._last_duration = Fraction(1) / Fraction(self._fps)
        self._last_pts = -1
        self._index = 0

        try:
            first = self._decode_next()
        except SourceError:
            self._container.close()
            raise
        if first is None:
            self._container.close()
            raise SourceError(f"{self.path} contains no decodable video frames; pick another file")
        self._pending: av.VideoFrame | None = first
        self._width, self._height = size if size is not None else (first.width, first.height)
        size_text = f"{self._width}x{self._height}"
        looping = " (loop)" if loop else ""
        self.description = f"{self.path.name} {size_text} @ {self._fps:g} fps{looping}"

    def _open(self) -> av.container.InputContainer:
        import av

        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, OSError) as exc:
            raise SourceError(
                f"cannot read {self.path} as video ({_reason(exc)}); pick another file"
            ) from exc
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self.path} has no video stream; pick a file with video")
        container.streams.video[0].thread_type = "AUTO"
        return container

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def fps(self) -> float:
        return self._fps

    def _decode_next(self) -> av.VideoFrame | None:
        """The next decoded frame, rewinding once at the end when looping."""
        import av

        rewound = False
        while True:
            try:
                return next(self._frames)
            except StopIteration:
                if not self.loop or rewound or self._pass_index == 0:
                    return None
                self._rewind()
                rewound = True
            except (av.FFmpegError, OSError) as exc:
                raise SourceError(
                    f"decoding {self.path} failed ({_reason(exc)}); the file may be damaged"
                ) from exc

    def _rewind(self) -> None:
        """Start the next pass: timestamps continue one frame after the last one."""
        import av

        self._loop_offset = self._last_time + self._last_duration
        self._first_pts = None
        self._pass_index = 0
        try:
            self._container.seek(0)
        except (av.FFmpegError, OSError):
            # Some streams cannot seek; reopening the file is the reliable fallback.
            self._container.close()
            self._container = self._open()
            self._stream = self._container.streams.video[0]
        self._frames = self._container.decode(self._stream)

    def _media_time(self, frame: av.VideoFrame) -> Fraction:
        """Seconds since the start of the first pass, from the stream's timestamps."""
        tb = frame.time_base or self._stream.time_base
        if frame.pts is not None and tb:
            if self._first_pts is None:
                self._first_pts = frame.pts
            t = Fraction(frame.pts - self._first_pts) * tb
            if frame.duration and frame.duration > 0:
                self._last_duration = Fraction(frame.duration) * tb
        else:
            t = self._pass_index / Fraction(self._fps)
        return self._loop_offset + t

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.reformat(width=self._width, height=self._height, format="rgb24")
        image = rgb.to_ndarray()
        if rgb is frame or not image.flags.writeable:
            # Already RGB at size: the array would be the decoder's buffer; give out a copy.
            return np.array(image, order="C")
        return np.ascontiguousarray(image)

    def read(self) -> SourceFrame | None:
        if self._closed.is_set():
            return None
        with self._lock:
            if self._closed.is_set():
                return None
            frame = self._pending if self._pending is not None else self._decode_next()
            self._pending = None
            if frame is None:
                return None
            media_time = self._media_time(frame)
            image = self._to_rgb(frame)
        self._pass_index += 1
        self._last_time = max(self._last_time, media_time)
        if self.realtime and not self._pacer.wait(float(media_time), self._closed):
            return None
        pts = round(media_time / TIME_BASE)
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        index = self._index
        self._index += 1
        return SourceFrame(image, pts, TIME_BASE, time.monotonic(), index)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if not self._released:
                self._released = True
                self._container.close()
