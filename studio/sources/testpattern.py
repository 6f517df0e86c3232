"""A synthetic source that needs no hardware: the default input while writing a pipeline.

The picture is made to judge pipelines by eye: saturated colour bars (hue and colour
handling), a grey ramp (contrast, banding), a frequency sweep (sharpness, aliasing), a
bouncing ball (motion, temporal effects) and a frame counter, media clock and sweeping hand
(dropped or repeated frames). Everything static is drawn once; a frame costs one copy plus
a few small cv2 drawings. The content depends on the frame index only, so runs repeat.
"""

from __future__ import annotations

import math
import threading
import time

import cv2
import numpy as np

from studio.sources.base import TIME_BASE, FrameSource, Pacer, SourceError, SourceFrame

# 75% colour bars, left to right: white, yellow, cyan, green, magenta, red, blue.
_BARS = np.array(
    [
        (191, 191, 191),
        (191, 191, 0),
        (0, 191, 191),
        (0, 191, 0),
        (191, 0, 191),
        (191, 0, 0),
        (0, 0, 191),
    ],
    dtype=np.uint8,
)
_MIN_SIZE = 16
_MAX_SIZE = 8192


def _background(width: int, height: int) -> tuple[np.ndarray, dict[str, int]]:
    """The static picture and the rows where its bands start."""
    img = np.zeros((height, width, 3), np.uint8)
    bars_end = height * 55 // 100
    ramp_end = height * 67 // 100
    sweep_end = height * 82 // 100

    bar_of_column = np.minimum(np.arange(width) * len(_BARS) // width, len(_BARS) - 1)
    img[:bars_end] = _BARS[bar_of_column][None, :, :]

    ramp = np.linspace(0, 255, width).round().astype(np.uint8)
    img[bars_end:ramp_end] = ramp[None, :, None]

    # Left half: vertical stripes whose frequency rises to one pixel; right half: hues.
    half = width // 2
    x = np.linspace(0.0, 1.0, half)
    phase = np.pi * (0.02 * half * x + 0.49 * half * x**2)
    sweep = (127.5 + 127.5 * np.cos(phase)).round().astype(np.uint8)
    img[ramp_end:sweep_end, :half] = sweep[None, :, None]
    hue = np.linspace(0, 179, width - half).round().astype(np.uint8)
    hsv = np.stack([hue, np.full_like(hue, 255), np.full_like(hue, 255)], axis=-1)
    rainbow = cv2.cvtColor(hsv[None, :, :], cv2.COLOR_HSV2RGB)[0]
    img[ramp_end:sweep_end, half:] = rainbow[None, :, :]

    img[sweep_end:] = (16, 16, 24)
    return img, {"bars_end": bars_end, "sweep_end": sweep_end}


class TestPattern(FrameSource):
    """Animated test card, paced at ``fps`` in real time or generated as fast as asked."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self, width: int = 1280, height: int = 720, fps: float = 30.0, realtime: bool = True
    ):
        if not (_MIN_SIZE <= width <= _MAX_SIZE and _MIN_SIZE <= height <= _MAX_SIZE):
            raise SourceError(
                f"test pattern size {width}x{height} is out of range: "
                f"use {_MIN_SIZE}..{_MAX_SIZE} pixels a side"
            )
        if not 0 < fps <= 1000:  # also false for NaN
            raise SourceError(
                f"test pattern frame rate {fps} is out of range: above 0, at most 1000"
            )
        self._width = int(width)
        self._height = int(height)
        self._fps = float(fps)
        self.realtime = realtime
        self.description = f"Test pattern {self._width}x{self._height} @ {self._fps:g} fps"
        self._bg, rows = _background(self._width, self._height)
        self._bars_end = rows["bars_end"]
        self._sweep_end = rows["sweep_end"]
        self._radius = max(2, min(self._width, self._bars_end) // 8)
        self._font_scale = self._height / 720 * 1.1
        self._thickness = max(1, round(self._height / 360))
        self._index = 0
        self._closed = threading.Event()
        self._pacer = Pacer(interval=1.0 / self._fps)

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def fps(self) -> float:
        return self._fps

    def read(self) -> SourceFrame | None:
        if self._closed.is_set():
            return None
        index = self._index
        media_time = index / self._fps
        if self.realtime and not self._pacer.wait(media_time, self._closed):
            return None
        image = self.render(index)
        self._index = index + 1
        pts = round(index * TIME_BASE.denominator / (self._fps * TIME_BASE.numerator))
        return SourceFrame(image, pts, TIME_BASE, time.monotonic(), index)

    def render(self, index: int) -> np.ndarray:
        """Frame ``index`` as a fresh array (no pacing, no state change)."""
        img = self._bg.copy()
        t = index / self._fps
        w, h, r = self._width, self._height, self._radius

        # A ball bouncing inside the colour bars (triangle waves on both axes).
        span_x, span_y = max(1, w - 2 * r), max(1, self._bars_end - 2 * r)
        px = 0.23 * w * t % (2 * span_x)
        py = 0.31 * h * t % (2 * span_y)
        cx = r + int(px if px < span_x else 2 * span_x - px)
        cy = r + int(py if py < span_y else 2 * span_y - py)
        cv2.circle(img, (cx, cy), r, (255, 128, 0), -1, cv2.LINE_AA)
        cv2.circle(img, (cx, cy), r, (0, 0, 0), self._thickness, cv2.LINE_AA)
        cv2.circle(img, (cx - r // 3, cy - r // 3), max(1, r // 5), (255, 255, 255), -1)

        # A hand sweeping one turn a second: jumps show dropped or repeated frames.
        band = h - self._sweep_end
        dial_r = max(2, band * 2 // 5)
        dial = (w - dial_r - band // 4, self._sweep_end + band // 2)
        angle = 2 * math.pi * (t % 1.0)
        tip = (
            dial[0] + round(dial_r * math.sin(angle)),
            dial[1] - round(dial_r * math.cos(angle)),
        )
        cv2.circle(img, dial, dial_r, (96, 96, 96), self._thickness, cv2.LINE_AA)
        cv2.line(img, dial, tip, (255, 255, 0), self._thickness, cv2.LINE_AA)

        minutes, seconds = divmod(t, 60.0)
        text = f"#{index:06d}  {int(minutes):02d}:{seconds:06.3f}"
        cv2.putText(
            img,
            text,
            (max(2, band // 4), self._sweep_end + band * 2 // 3),
            cv2.FONT_HERSHEY_SIMPLEX,
            self._font_scale,
            (255, 255, 255),
            self._thickness,
            cv2.LINE_AA,
        )
        return img

    def close(self) -> None:
        self._closed.set()
