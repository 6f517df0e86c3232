"""A preview session: one source feeding one engine, as the desktop app runs them.

The session owns the moving parts (source pump, engine, recorder) and keeps the latest input
and output frame for whoever displays them: a view polls ``latest_input``/``latest_output``
at its own pace instead of being pushed every frame, so a slow view never backs up the
frame path. Everything here is plain Python; the Qt layer only displays and forwards.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.engine import Engine, EngineEvent, ProcessedFrame
from studio.sources import SourceError, SourceFrame, SourcePump, open_source

DEFAULT_SOURCE = "testsrc"


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """What the session reports besides engine events.

    ``kind``: source (a source opened), source_error (it failed; ``data["fallback"]`` says
    what replaced it), source_end, recording (started/stopped), snapshot.
    """

    kind: str
    message: str
    detail: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class PreviewSession:
    """Source -> engine -> latest frames, plus snapshot and recording of the output."""

    def __init__(
        self,
        *,
        on_event: Callable[[SessionEvent | EngineEvent], None] | None = None,
        pool: Any = None,
        device: str = "auto",
        hang_timeout: float = 10.0,
    ):
        self.on_event = on_event
        self.pool = pool
        self.device = device
        self.hang_timeout = hang_timeout
        self.source_spec: str | None = None
        self.source_description = ""
        self.pipeline: Any = None  # the PipelineInfo running, if any
        self.engine: Engine | None = None
        self.latest_input: SourceFrame | None = None
        self.taps: list[Callable[[SourceFrame], None]] = []
        self.output_taps: list[Callable[[ProcessedFrame], None]] = []
        self._pump: SourcePump | None = None
        self._recorder: Any = None
        self._lock = threading.Lock()
        self._closed = False

    # -- source -----------------------------------------------------------------------------

    def set_source(
        self,
        spec: str,
        *,
        size: tuple[int, int] | None = None,
        fps: float | None = None,
        loop: bool = True,
    ) -> str:
        """Switch to the source ``spec`` names; raises SourceError and keeps the old one."""
        source = open_source(spec, size=size, fps=fps, realtime=True, loop=loop)
        pump = SourcePump(
            source, self._sink, on_error=self._source_failed, on_end=self._source_ended
        )
        with self._lock:
            old, self._pump = self._pump, pump
            self.source_spec = spec
            self.source_description = source.description
        if old is not None:
            old.stop()
        pump.start()
        self._emit(
            SessionEvent(
                "source",
                f"source: {source.description}",
                data={"spec": spec, "description": source.description},
            )
        )
        return source.description

    def pause(self) -> None:
        """Stop reading the source (the engine stays): while the window shows other frames."""
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.stop()

    def resume(self) -> None:
        """Open the last source again after :meth:`pause`."""
        if self._pump is None and self.source_spec is not None and not self._closed:
            self.set_source(self.source_spec)

    @property
    def source_fps(self) -> float:
        pump = self._pump
        return pump.fps if pump is not None else 0.0

    def _sink(self, frame: SourceFrame) -> None:
        self.latest_input = frame
        engine = self.engine
        if engine is not None:
            engine.submit(
                frame.image, pts=frame.pts, time_base=frame.time_base, t_capture=frame.t_capture
            )
        for tap in self.taps:
            tap(frame)

    def _source_failed(self, exc: Exception) -> None:
        failed = self.source_spec
        fallback = None
        if failed != DEFAULT_SOURCE and not self._closed:
            with contextlib.suppress(SourceError):
                self.set_source(DEFAULT_SOURCE)
                fallback = DEFAULT_SOURCE
        note = "; showing the test pattern instead" if fallback else ""
        self._emit(
            SessionEvent(
                "source_error",
                f"source {failed!r} failed: {exc}{note}",
                data={"spec": failed, "fallback": fallback},
            )
        )

    def _source_ended(self) -> None:
        self._emit(SessionEvent("source_end", f"source {self.source_spec!r} reached its end"))

    # -- pipeline ---------------------------------------------------------------------------

    def set_pipeline(self, info: Any, params: dict[str, Any] | None = None) -> Engine:
        """Run ``info`` (a discovered PipelineInfo) instead of the current pipeline.

        Returns at once: the new engine starts in the background (watch its events) and the
        old one is stopped in another thread, so the caller never waits for either.
        """
        engine = Engine(
            info.spec,
            info.file,
            params=params,
            device=self.device,
            hang_timeout=self.hang_timeout,
            pool=self.pool,
            lenient=True,
        )
        # a replaced engine still talks while it stops: only the current one is heard
        engine.on_event = lambda event: self.engine is engine and self._emit(event)
        engine.on_frame = lambda frame: self.engine is engine and self._on_output(frame)
        with self._lock:
            old, self.engine, self.pipeline = self.engine, engine, info
        if old is not None:
            threading.Thread(target=old.stop, name="engine-stop", daemon=True).start()
        engine.start(wait=False)
        return engine

    @property
    def latest_output(self) -> ProcessedFrame | None:
        engine = self.engine
        return engine.latest if engine is not None else None

    def update_params(self, values: dict[str, Any]) -> int:
        engine = self.engine
        return engine.update_params(values) if engine is not None else 0

    def reload(self) -> None:
        if self.engine is not None:
            self.engine.reload()

    def restart(self) -> None:
        engine = self.engine
        if engine is not None:
            threading.Thread(
                target=engine.restart, kwargs={"wait": False}, name="engine-restart", daemon=True
            ).start()

    def _on_output(self, frame: ProcessedFrame) -> None:
        recorder = self._recorder
        if recorder is not None:
            recorder.add(frame.image, time.monotonic())
        for tap in self.output_taps:
            tap(frame)

    # -- output -----------------------------------------------------------------------------

    def snapshot(self, path: str | Path) -> Path:
        """Save the current output frame as PNG (lossless)."""
        import cv2

        frame = self.latest_output
        if frame is None:
            raise RuntimeError("no output frame yet: wait for the pipeline to run")
        path = Path(path).expanduser()
        if not cv2.imwrite(str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")
        self._emit(SessionEvent("snapshot", f"snapshot saved to {path}", data={"path": str(path)}))
        return path

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def start_recording(self, path: str | Path, fps: float | None = None) -> Path:
        """Record the output to MP4 until :meth:`stop_recording`."""
        from studio.media.recorder import Recorder

        if self._recorder is not None:
            raise RuntimeError("already recording")
        pump = self._pump
        rate = fps or (pump.source.fps if pump is not None else 30.0) or 30.0
        self._recorder = Recorder(path, rate)
        self._emit(
            SessionEvent(
                "recording",
                f"recording to {self._recorder.path}",
                data={"path": str(self._recorder.path), "active": True},
            )
        )
        return self._recorder.path

    def stop_recording(self) -> tuple[Path, int]:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            raise RuntimeError("not recording")
        frames = recorder.close()
        note = f" ({recorder.dropped} dropped: the encoder fell behind)" if recorder.dropped else ""
        self._emit(
            SessionEvent(
                "recording",
                f"saved {frames} frames to {recorder.path}{note}",
                data={
                    "path": str(recorder.path),
                    "active": False,
                    "frames": frames,
                    "error": str(recorder.error or ""),
                },
            )
        )
        return recorder.path, frames

    # -- lifetime ---------------------------------------------------------------------------

    def close(self, timeout: float = 3.0) -> None:
        """Stop everything; the pipeline's ``on_stop`` runs. Safe to call twice."""
        self._closed = True
        if self._recorder is not None:
            self.stop_recording()
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.stop()
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.stop(timeout)

    def _emit(self, event: SessionEvent | EngineEvent) -> None:
        if self.on_event is not None:
            with contextlib.suppress(Exception):
                self.on_event(event)
