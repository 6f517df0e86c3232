"""Where frames come from: test pattern, webcam or video file, all behind FrameSource.

``open_source`` turns the one-line spec used by the CLI and the app's source picker into
a source::

    testsrc            animated test pattern, 1280x720 (or ``size``)
    testsrc:640x360    ... at that size
    webcam, webcam:N   camera N (0 by default)
    path/to/clip.mp4   a video file (``loop`` to repeat it)
"""

from __future__ import annotations

import re
from pathlib import Path

from studio.sources.base import TIME_BASE, FrameSource, Pacer, SourceError, SourceFrame
from studio.sources.pump import SourcePump
from studio.sources.testpattern import TestPattern
from studio.sources.videofile import VideoFileSource
from studio.sources.webcam import CameraInfo, WebcamSource, list_cameras

__all__ = [
    "TIME_BASE",
    "CameraInfo",
    "FrameSource",
    "Pacer",
    "SourceError",
    "SourceFrame",
    "SourcePump",
    "TestPattern",
    "VideoFileSource",
    "WebcamSource",
    "list_cameras",
    "open_source",
]

_SPEC_HELP = "use 'testsrc', 'testsrc:WxH', 'webcam', 'webcam:N' or a video file path"
_DEFAULT_SIZE = (1280, 720)
_DEFAULT_FPS = 30.0


def _parse_size(text: str, spec: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if match is None:
        raise SourceError(f"bad size {text!r} in source {spec!r}: write it as WxH, e.g. 640x360")
    return int(match[1]), int(match[2])


def open_source(
    spec: str,
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    realtime: bool = True,
    loop: bool = False,
) -> FrameSource:
    """Open the source ``spec`` names; :class:`SourceError` with a one-line reason if not.

    ``size`` is the test pattern's size (a size in the spec wins), the size asked of a
    webcam, or the size a video file is scaled to. ``fps`` sets the test pattern's rate and
    is asked of a webcam; a file keeps its own. ``realtime`` and ``loop`` apply to files
    (``realtime`` also to the test pattern); a camera is always live.
    """
    text = spec.strip() if isinstance(spec, str) else ""
    if not text:
        raise SourceError(f"empty source: {_SPEC_HELP}")
    kind, sep, arg = text.partition(":")
    kind_lower = kind.lower()

    if kind_lower == "testsrc":
        width, height = _parse_size(arg, spec) if sep else (size or _DEFAULT_SIZE)
        return TestPattern(width, height, fps or _DEFAULT_FPS, realtime=realtime)

    if kind_lower == "webcam":
        arg = arg.strip()
        if sep and not arg.isdigit():
            raise SourceError(f"bad camera index {arg!r} in source {spec!r}: {_SPEC_HELP}")
        width, height = size if size is not None else (None, None)
        return WebcamSource(int(arg) if sep else 0, width, height, fps)

    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(f"unknown source {spec!r}: no such file; {_SPEC_HELP}")
    return VideoFileSource(path, realtime=realtime, loop=loop, size=size)
