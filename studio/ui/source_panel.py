"""Where frames come from: test pattern, a video file or a camera, at a chosen size and rate."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QSpinBox,
    QToolButton,
    QWidget,
)

from studio.sources import list_cameras

SIZES = [(640, 360), (960, 540), (1280, 720), (1920, 1080)]
VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.webm *.avi *.ts *.flv);;All files (*)"
_FILE = "__file__"


class SourcePanel(QWidget):
    """Picks the source; emits ``source_requested(spec, (w, h), fps, loop)``."""

    source_requested = Signal(str, object, float, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = QComboBox()
        self.kind.setToolTip("What feeds the pipeline")
        self.refresh = QToolButton(text="⟳", toolTip="Look for cameras again")
        self.refresh.clicked.connect(self.refresh_cameras)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.kind, 1)
        row.addWidget(self.refresh)
        self.size = QComboBox()
        for w, h in SIZES:
            self.size.addItem(f"{w} × {h}", (w, h))
        self.size.setCurrentIndex(2)
        self.fps = QSpinBox(minimum=1, maximum=120, value=30, suffix=" fps")
        self.loop = QCheckBox("Loop video files", checked=True)
        form = QFormLayout(self)
        form.setContentsMargins(6, 6, 6, 6)
        form.addRow("Source", row)
        form.addRow("Size", self.size)
        form.addRow("Rate", self.fps)
        form.addRow("", self.loop)
        self._file: str | None = None
        self._spec = "testsrc"
        self.refresh_cameras()
        self.kind.activated.connect(self._on_kind)
        self.size.activated.connect(lambda _i: self._emit(self._spec))
        self.fps.editingFinished.connect(lambda: self._emit(self._spec))

    @property
    def spec(self) -> str:
        return self._spec

    def refresh_cameras(self) -> None:
        current = self._spec
        self.kind.blockSignals(True)
        self.kind.clear()
        self.kind.addItem("Test pattern", "testsrc")
        for camera in list_cameras():
            self.kind.addItem(f"Camera {camera.index}: {camera.name}", camera.spec)
        if self._file:
            self.kind.addItem(Path(self._file).name, self._file)
        self.kind.addItem("Video file…", _FILE)
        self.kind.blockSignals(False)
        self.show_spec(current)

    def show_spec(self, spec: str) -> None:
        """Reflect ``spec`` in the controls without emitting (the app already uses it)."""
        self._spec = spec
        if not (spec.startswith("testsrc") or spec.startswith("webcam")) and spec != self._file:
            self._file = spec
            self.refresh_cameras()
            return
        index = self.kind.findData(spec)
        self.kind.blockSignals(True)
        if index < 0 and spec.startswith("webcam"):
            self.kind.insertItem(
                self.kind.count() - 1, f"Camera {spec.partition(':')[2] or 0}", spec
            )
            index = self.kind.findData(spec)
        self.kind.setCurrentIndex(max(0, index))
        self.kind.blockSignals(False)

    def set_size(self, size: tuple[int, int] | None, fps: float | None) -> None:
        if size is not None:
            index = self.size.findData(tuple(size))
            if index < 0:
                self.size.addItem(f"{size[0]} × {size[1]}", tuple(size))
                index = self.size.count() - 1
            self.size.setCurrentIndex(index)
        if fps:
            self.fps.setValue(round(fps))

    def _on_kind(self, _index: int) -> None:
        data = self.kind.currentData()
        if data == _FILE:
            path, _ = QFileDialog.getOpenFileName(self, "Open a video", "", VIDEO_FILTER)
            if not path:
                self.show_spec(self._spec)
                return
            self._file = path
            self.refresh_cameras()
            data = path
        self._emit(data)

    def _emit(self, spec: str) -> None:
        self._spec = spec
        self.source_requested.emit(
            spec, self.size.currentData(), float(self.fps.value()), self.loop.isChecked()
        )
