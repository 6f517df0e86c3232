"""A webcam through OpenCV, newest frame only.

A camera delivers at its own pace whether or not anyone keeps up. A grab thread reads
continuously and keeps only the latest frame, so a slow pipeline sees the freshest picture
(no growing queue, no stale latency); ``read()`` waits for a frame newer than the one it
returned last. The capture object comes from a factory, so the thread logic can be tested
without a camera.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from studio.sources.base import TIME_BASE, FrameSource, SourceError, SourceFrame

SYSFS_VIDEO = Path("/sys/class/video4linux")
_DEV = Path("/dev")
_DEFAULT_FPS = 30.0
_RETRY_DELAY = 0.02  # between failed reads: a failing device returns at once


@dataclass(frozen=True, slots=True)
class CameraInfo:
    index: int
    name: str

    @property
    def spec(self) -> str:
        """The :func:`studio.sources.open_source` spec that opens this camera."""
        return f"webcam:{self.index}"


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` the source uses (fakes implement just this)."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def set(self, prop_id: int, value: float) -> bool: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...


CaptureFactory = Callable[[int], Capture]


def _is_linux() -> bool:
    return sys.platform.startswith("linux")


def open_capture(index: int) -> Capture:
    """OpenCV's capture for camera ``index``; V4L2 directly on Linux (no GStreamer probing).

    On Linux a missing ``/dev/videoN`` is reported without asking OpenCV, which would only
    log warnings and hand back a closed capture.
    """
    if _is_linux() and hasattr(cv2, "CAP_V4L2"):
        node = _DEV / f"video{index}"
        if not node.exists():
            raise SourceError(
                f"no camera at index {index}: {node} does not exist; pick another source"
            )
        return cv2.VideoCapture(index, cv2.CAP_V4L2)
    return cv2.VideoCapture(index)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def list_cameras(*, sysfs: Path = SYSFS_VIDEO, dev: Path = _DEV) -> list[CameraInfo]:
    """Cameras to offer, cheaply: no device is opened.

    Linux: names from sysfs, skipping the metadata nodes UVC cameras add (their sysfs
    ``index`` is not 0); without sysfs, the ``/dev/video*`` nodes by number. Elsewhere
    there is no cheap way to enumerate, so the default camera is offered by index.
    """
    if not _is_linux():
        return [CameraInfo(0, "camera 0")]
    cameras: list[CameraInfo] = []
    if sysfs.is_dir():
        for entry in sysfs.glob("video*"):
            match = re.fullmatch(r"video(\d+)", entry.name)
            if match is None or _read_text(entry / "index") not in (None, "0"):
                continue
            index = int(match[1])
            cameras.append(CameraInfo(index, _read_text(entry / "name") or f"camera {index}"))
    else:
        for node in dev.glob("video*"):
            match = re.fullmatch(r"video(\d+)", node.name)
            if match is not None:
                cameras.append(CameraInfo(int(match[1]), f"camera {match[1]}"))
    return sorted(cameras, key=lambda c: c.index)


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    """OpenCV's BGR (or grey, or BGRA) as a fresh RGB array."""
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class WebcamSource(FrameSource):
    """Camera ``index`` at the requested size/rate (a request: the camera decides).

    Opening waits for the first frame (up to ``first_frame_timeout``), so width and height
    are what the camera really sends and a camera that is present but unusable fails here.
    A camera that sends nothing for ``stall_timeout`` seconds is reported as gone.
    """

    def __init__(
        self,
        index: int = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        *,
        capture_factory: CaptureFactory | None = None,
        first_frame_timeout: float = 5.0,
        stall_timeout: float = 2.0,
    ):
        if index < 0:
            raise SourceError(f"no camera at index {index}: indices start at 0")
        self.index = index
        self.first_frame_timeout = first_frame_timeout
        self.stall_timeout = stall_timeout
        cap = self._open(capture_factory or open_capture, width, height, fps)
        reported = _safe_get(cap, cv2.CAP_PROP_FPS)
        self._fps = float(fps or (reported if 0 < reported <= 1000 else _DEFAULT_FPS))

        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._latest: np.ndarray | None = None
        self._latest_t = 0.0
        self._seq = 0  # frames grabbed
        self._error: SourceError | None = None
        self._delivered_seq = 0
        self._dropped = 0
        self._index = 0
        self._t0: float | None = None
        self._last_pts = -1
        self._thread = threading.Thread(
            target=self._grab_loop, args=(cap,), name=f"webcam-{index}-grab", daemon=True
        )
        self._thread.start()

        with self._cond:
            self._cond.wait_for(
                lambda: self._seq > 0 or self._error is not None, first_frame_timeout
            )
            first, error = self._latest, self._error
        if first is None:
            self.close()
            raise error or SourceError(
                f"camera {index} opened but sent no frame within {first_frame_timeout:g} s "
                "(busy in another app?); pick another source"
            )
        self._height, self._width = first.shape[:2]
        names = {camera.index: camera.name for camera in list_cameras()}
        self.description = f"webcam {index}" + (f" ({names[index]})" if index in names else "")

    def _open(
        self,
        factory: CaptureFactory,
        width: int | None,
        height: int | None,
        fps: float | None,
    ) -> Capture:
        try:
            cap = factory(self.index)
        except SourceError:
            raise
        except Exception as exc:  # cv2.error and whatever a backend throws
            raise SourceError(
                f"no camera at index {self.index}: {exc}; pick another source"
            ) from exc
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise SourceError(
                f"no camera at index {self.index}: it could not be opened "
                "(absent, or in use by another app); pick another source"
            )
        if width or height:
            # Most USB cameras only reach HD at 30 fps with MJPEG; raw YUYV drops to ~10.
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        return cap

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def dropped(self) -> int:
        """Frames the camera sent that were replaced before anyone read them."""
        return self._dropped

    def _grab_loop(self, cap: Capture) -> None:
        """Owns ``cap``: reads until stopped or the device fails, then releases it."""
        last_ok = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    ok, frame = cap.read()
                except Exception:  # a backend error is one more failed read
                    ok, frame = False, None
                now = time.monotonic()
                if ok and frame is not None and frame.size:
                    last_ok = now
                    with self._cond:
                        self._latest, self._latest_t = frame, now
                        self._seq += 1
                        self._cond.notify_all()
                    continue
                limit = self.stall_timeout if self._seq else self.first_frame_timeout
                if now - last_ok >= limit:
                    with self._cond:
                        self._error = SourceError(
                            f"camera {self.index} stopped sending frames (none for "
                            f"{now - last_ok:.1f} s): unplugged or taken by another app? "
                            "Pick another source"
                        )
                        self._cond.notify_all()
                    return
                self._stop.wait(_RETRY_DELAY)
        finally:
            cap.release()

    def read(self) -> SourceFrame | None:
        with self._cond:
            # Longer than the grab thread's limit: failing reads are its to report, with
            # the better message; this catches a device stuck inside a read.
            limit = 1.5 * self.stall_timeout
            deadline = time.monotonic() + limit
            while True:
                if self._stop.is_set():
                    return None
                if self._seq != self._delivered_seq:
                    break
                if self._error is not None:
                    raise self._error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SourceError(
                        f"camera {self.index} sent no new frame for {limit:g} s: "
                        "unplugged or taken by another app? Pick another source"
                    )
                self._cond.wait(remaining)
            frame, t_capture, seq = self._latest, self._latest_t, self._seq
            self._dropped += max(0, seq - self._delivered_seq - 1)
            self._delivered_seq = seq
        assert frame is not None
        image = _to_rgb(frame)  # a new array: the grab thread's frame is never handed out
        if self._t0 is None:
            self._t0 = t_capture
        pts = max(round((t_capture - self._t0) / TIME_BASE), self._last_pts + 1)
        self._last_pts = pts
        index = self._index
        self._index += 1
        return SourceFrame(image, pts, TIME_BASE, t_capture, index)

    def close(self) -> None:
        """Stop the grab thread; it releases the device once its current read returns."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


def _safe_get(cap: Capture, prop: int) -> float:
    try:
        value = float(cap.get(prop))
    except Exception:
        return 0.0
    return value if value == value else 0.0  # NaN from some backends
