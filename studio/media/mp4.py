"""Recording to MP4: H.264 (libx264, yuv420p, BT.709) through PyAV.

The studio records what a pipeline produced, and pipelines may change the output size on
the fly; an MP4 track has one size, so the first frame fixes it (rounded down to even, as
4:2:0 needs) and later frames are rescaled to it. Timestamps only move forward, so a
recording stays playable whatever the caller passes.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Self

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

TIME_BASE = Fraction(1, 90_000)
_BT709 = 1  # AVCOL_SPC/PRI/TRC_BT709: tagged so players use the matrix the pixels were made with


class MediaError(RuntimeError):
    """An MP4 file could not be written; the message names the file and the reason."""


class Mp4Writer:
    """Write RGB frames to ``path``; not thread-safe (one recorder thread owns it).

    The file is created (or truncated) at once, so a bad path fails here rather than at the
    first frame. Closing without any frame written removes it again: no frames, no file.
    """

    def __init__(
        self, path: str | Path, fps: float = 30.0, *, crf: int = 20, preset: str = "veryfast"
    ):
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, not {fps!r}")
        self.path = Path(path).expanduser()
        self.fps = float(fps)
        self.crf = int(crf)
        self.preset = preset
        try:
            with open(self.path, "wb"):
                pass
        except OSError as exc:
            raise MediaError(f"cannot write MP4 file {self.path}: {exc.strerror or exc}") from exc
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._size: tuple[int, int] | None = None
        self._first_shape: tuple[int, int] | None = None
        self._frames = 0
        self._last_pts = -1
        self._interval = max(1, round(TIME_BASE.denominator / (self.fps * TIME_BASE.numerator)))
        self._origin: tuple[int, float] | None = None  # (pts ticks, seconds) of first given pts
        self._closed = False

    @property
    def frames_written(self) -> int:
        return self._frames

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the video track, once the first frame fixed it."""
        return self._size

    def _start(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        width, height = w - w % 2, h - h % 2
        if width < 2 or height < 2:
            raise ValueError(f"a {w}x{h} frame is too small to encode as H.264")
        try:
            container = av.open(str(self.path), mode="w", format="mp4")
            stream = container.add_stream(
                "libx264", rate=Fraction(self.fps).limit_denominator(100_000)
            )
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot write MP4 file {self.path}: {exc}") from exc
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        ctx = stream.codec_context
        ctx.time_base = TIME_BASE
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
        ctx.color_range = int(ColorRange.MPEG)
        self._container, self._stream = container, stream
        self._size = (width, height)
        self._first_shape = (h, w)

    def _next_pts(self, pts_seconds: float | None) -> int:
        follow = 0 if self._frames == 0 else self._last_pts + self._interval
        if pts_seconds is None:
            pts = follow
        else:
            if not math.isfinite(pts_seconds):
                raise ValueError(f"pts_seconds must be finite, not {pts_seconds!r}")
            if self._origin is None:
                self._origin = (follow, pts_seconds)
            ticks, seconds = self._origin
            pts = ticks + round((pts_seconds - seconds) / TIME_BASE)
        return max(pts, self._last_pts + 1)

    def write(self, image: np.ndarray, pts_seconds: float | None = None) -> None:
        """Append one uint8 (H, W, 3) RGB frame.

        ``pts_seconds`` are taken relative to the first one given (a recording starts at 0);
        without them frames follow each other at ``fps``. A timestamp that would not move
        forward is nudged to one tick after the previous frame.
        """
        if self._closed:
            raise MediaError(f"MP4 writer for {self.path} is closed")
        if not (
            isinstance(image, np.ndarray)
            and image.dtype == np.uint8
            and image.ndim == 3
            and image.shape[2] == 3
        ):
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {dtype} {shape}")
        if self._stream is None:
            self._start(image)
        assert self._stream is not None and self._container is not None and self._size
        width, height = self._size
        if image.shape[:2] == self._first_shape:
            image = image[:height, :width]  # odd first size: crop the last row/column
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame = rgb.reformat(
            width=width,
            height=height,
            format="yuv420p",
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
        )
        pts = self._next_pts(pts_seconds)
        frame.pts = pts
        frame.time_base = TIME_BASE
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(f"writing MP4 file {self.path} failed: {exc}") from exc
        self._last_pts = pts
        self._frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._container is None or self._stream is None:
            self.path.unlink(missing_ok=True)
            return
        error: Exception | None = None
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            error = exc
        try:
            self._container.close()  # writes the index (moov); the file is unplayable without
        except (av.FFmpegError, OSError) as exc:
            error = error or exc
        if error is not None:
            raise MediaError(f"finishing MP4 file {self.path} failed: {error}") from error

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
