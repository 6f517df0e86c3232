"""The studio window: pipelines, source, side-by-side preview, params, log.

The window owns a :class:`~studio.session.PreviewSession` and only displays and forwards:
frames are polled from the session on a timer (latest wins, nothing queues on the Qt
thread), events arrive through a :class:`Bridge` signal, and everything slow (discovery,
engine start and stop) runs off the Qt thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QGroupBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from studio.discovery.info import PipelineInfo
from studio.engine import EngineEvent
from studio.live.config import LiveConfig
from studio.presets import PresetStore
from studio.session import DEFAULT_SOURCE, PreviewSession, SessionEvent
from studio.settings import Settings
from studio.sources import SourceError
from studio.ui.bridge import Bridge
from studio.ui.form import ParamsForm
from studio.ui.live_panel import LivePanel
from studio.ui.log_panel import LogPanel
from studio.ui.pipelines_panel import PipelinesPanel
from studio.ui.presets_bar import PresetsBar
from studio.ui.preview import FrameView
from studio.ui.source_panel import SourcePanel
from studio.watch import FileWatcher

DEFAULT_PIPELINE = "green-shift"
FRAME_INTERVAL_MS = 15
STATS_INTERVAL_MS = 500
STATE_COLORS = {
    "starting": "#d9a400",
    "running": "#2e9d4f",
    "reloading": "#2f7fd0",
    "failed": "#d04a3f",
    "stopped": "#777777",
}


@dataclass
class StartOptions:
    """What the command line asked for; it wins over the remembered settings."""

    folders: list[str] = field(default_factory=list)
    pipeline: str | None = None
    source: str | None = None
    params: dict[str, Any] | None = None


class StudioWindow(QMainWindow):
    """The main window; see the module docstring."""

    def __init__(
        self,
        options: StartOptions,
        settings: Settings,
        *,
        pool: Any = None,
        presets: PresetStore | None = None,
        discover: Any = None,
    ):
        super().__init__()
        from studio.discovery import discover as default_discover
        from studio.engine.pool import default_pool

        self.setWindowTitle("Livepeer Pipeline Studio")
        self.options = options
        self.settings = settings
        self.bridge = Bridge()
        self.bridge.event.connect(self._on_event)
        self.bridge.discovered.connect(self._on_discovered)
        self.bridge.files_changed.connect(self._on_files_changed)
        self.bridge.live_event.connect(self._on_live_event)
        self.bridge.serve_event.connect(self._on_serve_event)
        self.live: Any = None
        self.serving: Any = None
        self._served_params: dict[str, Any] | None = None
        self._discover = discover or default_discover
        self._pool = pool if pool is not None else default_pool()
        self._pool.fill()  # a worker starts warming up while the window opens
        self.session = PreviewSession(
            on_event=self.bridge.event.emit, pool=self._pool, device=settings.device
        )
        self.presets_store = presets or PresetStore()
        self.state = "stopped"
        self._pending_params: dict[str, Any] | None = options.params
        self._discovering = False
        self._rediscover = False
        self._last_input_key: object = None
        self._last_output_key: object = None
        self._closing = False
        for folder in options.folders:
            settings.add_folder(folder)

        self._build_views()
        self._build_docks()
        self._build_toolbar()
        self._build_status()
        self._restore_layout()

        # a save should reach the pipeline fast: poll often (stat only) and debounce briefly
        self.watcher = FileWatcher([], self.bridge.files_changed.emit, interval=0.1, debounce=0.15)
        self.watcher.start()
        self.frame_timer = QTimer(self, interval=FRAME_INTERVAL_MS)
        self.frame_timer.timeout.connect(self._refresh_frames)
        self.frame_timer.start()
        self.stats_timer = QTimer(self, interval=STATS_INTERVAL_MS)
        self.stats_timer.timeout.connect(self._refresh_stats)
        self.stats_timer.start()

        if settings.problem:
            self.log.add("warning", f"settings: {settings.problem}")
        self._open_source(options.source or settings.last_source or DEFAULT_SOURCE)
        self.rescan()

    # -- building -----------------------------------------------------------------------

    def _build_views(self) -> None:
        self.input_view = FrameView("Input")
        self.output_view = FrameView("Output")
        self.output_view.set_overlay(message="Scanning pipelines…")
        self.input_view.double_clicked.connect(lambda: self._toggle_fullscreen(self.input_view))
        self.output_view.double_clicked.connect(lambda: self._toggle_fullscreen(self.output_view))
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.box_view = FrameView("Box")
        self.box_view.double_clicked.connect(lambda: self._toggle_fullscreen(self.box_view))
        self.box_view.hide()
        self.splitter.addWidget(self.input_view)
        self.splitter.addWidget(self.output_view)
        self.splitter.addWidget(self.box_view)
        self.setCentralWidget(self.splitter)
        self._fullscreen_view: FrameView | None = None

    def _build_docks(self) -> None:
        self.pipelines = PipelinesPanel()
        self.pipelines.set_folders(self.settings.pipeline_folders)
        self.pipelines.pipeline_selected.connect(self.select_pipeline)
        self.pipelines.folders_changed.connect(self._on_folders_changed)
        self.pipelines.rescan_requested.connect(self.rescan)
        self._dock("Pipelines", self.pipelines, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.source_panel = SourcePanel()
        self.source_panel.source_requested.connect(self._on_source_requested)
        self.form = ParamsForm()
        self.form.params_changed.connect(self._on_params_edited)
        self.presets = PresetsBar(self.presets_store, self.form.values)
        self.presets.preset_loaded.connect(self._on_preset)
        self.presets.problem.connect(lambda text: self._warn(f"presets: {text}"))
        controls = QWidget()
        layout = QVBoxLayout(controls)
        layout.setContentsMargins(4, 4, 4, 4)
        source_box = QGroupBox("Source")
        QVBoxLayout(source_box).addWidget(self.source_panel)
        params_box = QGroupBox("Parameters")
        params_layout = QVBoxLayout(params_box)
        params_layout.addWidget(self.presets)
        params_layout.addWidget(self.form, 1)
        layout.addWidget(source_box)
        layout.addWidget(params_box, 1)
        controls_dock = self._dock("Controls", controls, Qt.DockWidgetArea.RightDockWidgetArea)

        self.live_panel = LivePanel(LiveConfig.from_settings(self.settings.live))
        self.live_panel.go_live.connect(self.go_live)
        self.live_panel.stop_live.connect(self.stop_live)
        self.live_panel.serve_toggled.connect(self._on_serve_toggled)
        live_dock = self._dock("Go live", self.live_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(controls_dock, live_dock)
        controls_dock.raise_()
        self.live_dock = live_dock

        self.log = LogPanel()
        self._dock("Log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_toolbar(self) -> None:
        bar = QToolBar("Studio")
        bar.setObjectName("toolbar-main")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.restart_action = QAction(
            "⟲ Restart",
            self,
            shortcut=QKeySequence("Ctrl+R"),
            toolTip="Restart the pipeline (Ctrl+R)",
        )
        self.restart_action.triggered.connect(self.restart)
        self.hot_reload_action = QAction(
            "Hot reload",
            self,
            checkable=True,
            checked=self.settings.hot_reload,
            toolTip="Reload the pipeline when its file is saved",
        )
        self.hot_reload_action.toggled.connect(self._on_hot_reload)
        self.layout_action = QAction(
            "Side by side",
            self,
            checkable=True,
            checked=self.settings.preview_layout == "side-by-side",
            toolTip="Show the input beside the output",
        )
        self.layout_action.toggled.connect(self._on_layout)
        self.snapshot_action = QAction(
            "Snapshot",
            self,
            shortcut=QKeySequence("Ctrl+S"),
            toolTip="Save the output frame as PNG (Ctrl+S)",
        )
        self.snapshot_action.triggered.connect(self.snapshot)
        self.record_action = QAction(
            "● Record", self, checkable=True, toolTip="Record the output to MP4 until pressed again"
        )
        self.record_action.toggled.connect(self._on_record)
        for action in (self.restart_action, self.hot_reload_action, self.layout_action):
            bar.addAction(action)
        bar.addSeparator()
        bar.addAction(self.snapshot_action)
        bar.addAction(self.record_action)
        bar.addSeparator()
        self.live_action = QAction(
            "Go live",
            self,
            checkable=True,
            toolTip="Stream to a Livepeer box and show what comes back",
        )
        self.live_action.toggled.connect(self._on_live_action)
        bar.addAction(self.live_action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Device "))
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setCurrentText(self.settings.device)
        self.device.setToolTip("auto: CUDA when available, else CPU")
        self.device.activated.connect(self._on_device)
        bar.addWidget(self.device)
        self._on_layout(self.layout_action.isChecked())

    def _build_status(self) -> None:
        self.state_label = QLabel()
        self.state_label.setMinimumWidth(90)
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stats_label = QLabel()
        self.statusBar().addPermanentWidget(self.stats_label)
        self.statusBar().addPermanentWidget(self.state_label)
        self._show_state("stopped")

    def _restore_layout(self) -> None:
        s = self.settings
        if s.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(s.window_geometry.encode()))
        else:
            self.resize(1400, 820)
        if s.window_state:
            self.restoreState(QByteArray.fromBase64(s.window_state.encode()))
        else:
            self.resizeDocks(
                [self.findChild(QDockWidget, "dock-log")], [160], Qt.Orientation.Vertical
            )
        sizes = s.splitter_sizes.get("preview")
        if sizes and len(sizes) == 2:
            self.splitter.setSizes(sizes)

    # -- pipelines ----------------------------------------------------------------------

    def rescan(self) -> None:
        """Discover pipelines in the background (cached: only changed files are imported)."""
        if self._discovering:
            self._rediscover = True
            return
        self._discovering = True
        folders = list(self.settings.pipeline_folders)

        def work() -> None:
            try:
                result: Any = self._discover(folders, cache=True)
            except Exception as exc:  # discovery must never take the window down
                result = exc
            self.bridge.discovered.emit(result)

        threading.Thread(target=work, name="discovery", daemon=True).start()

    def _on_discovered(self, result: Any) -> None:
        self._discovering = False
        if isinstance(result, Exception):
            self._error(f"pipeline discovery failed: {result}")
            return
        infos: list[PipelineInfo] = result
        self.pipelines.set_infos(infos)
        for info in infos:
            if not info.ok:
                self.log.add("error", f"pipeline file: {info.error}", info.traceback)
        self._watch()
        if self._rediscover:
            self._rediscover = False
            self.rescan()
            return
        current = self.session.pipeline
        if current is None:
            wanted = self.options.pipeline or self.settings.last_pipeline or DEFAULT_PIPELINE
            info = self.pipelines.find(wanted) or self.pipelines.find(DEFAULT_PIPELINE)
            if info is None:
                info = next((i for i in infos if i.ok), None)
            if self.options.pipeline and (info is None or info.name != self.options.pipeline):
                self._warn(f"no pipeline named {self.options.pipeline!r}; see the list")
            if info is not None:
                self.select_pipeline(info)
            else:
                self.output_view.set_overlay(message="No pipelines found. Add a folder.")
        else:
            updated = self.pipelines.find(current.name)
            if updated is not None:
                self.session.pipeline = updated
            self.pipelines.select(current.name)

    def select_pipeline(self, info: PipelineInfo) -> None:
        """Run ``info``; its remembered (or command-line) params come along."""
        if not info.ok:
            return
        params = self._pending_params
        self._pending_params = None
        if params is None:
            params = self.settings.params_for(info.name) or None
        self.settings.last_pipeline = info.name
        self.pipelines.select(info.name)
        self.presets.set_pipeline(info.name)
        self.form.set_schema(info.params_schema, info.defaults, params)
        self.form.clear_errors()
        self._last_output_key = None
        self.output_view.set_frame(None)
        self.output_view.set_overlay(stats="", message=f"Starting {info.name}…")
        self.session.set_pipeline(info, params)
        self.live_panel.set_pipeline(info.name)
        self.log.add("info", f"starting {info.name} ({info.file})")
        self._watch()

    def restart(self) -> None:
        if self.session.engine is None:
            return
        self.log.add("info", "restarting the pipeline")
        self.output_view.set_overlay(message="Restarting…")
        self.session.restart()

    def _watch(self) -> None:
        """Watch the running pipeline's file (reload) and the folders' files (list)."""
        files: set[Path] = set()
        for info in self.pipelines.infos():
            if info.file:
                files.update(Path(info.file).parent.glob("*.py"))
        current = self.session.pipeline
        if current is not None and current.file:
            files.add(Path(current.file))
        self.watcher.set_paths(sorted(files))

    def _on_files_changed(self, paths: list[Path]) -> None:
        current = self.session.pipeline
        running = (
            current is not None
            and current.file
            and any(Path(p).resolve() == Path(current.file).resolve() for p in paths)
        )
        if running and self.hot_reload_action.isChecked() and self.session.engine is not None:
            self.log.add("info", f"{Path(current.file).name} saved: reloading {current.name}")
            self.session.reload()
            if self.serving is not None:
                self.serving.reload()
            # the list can wait: a rescan imports the folder in a child, which would compete
            # with the reloading worker for the CPU
            QTimer.singleShot(4000, self.rescan)
            return
        self.rescan()

    def _on_folders_changed(self, folders: list[str]) -> None:
        self.settings.pipeline_folders = list(folders)
        self._save_settings()
        self.rescan()

    # -- source -------------------------------------------------------------------------

    def _open_source(
        self,
        spec: str,
        size: tuple[int, int] | None = None,
        fps: float | None = None,
        loop: bool = True,
    ) -> bool:
        try:
            description = self.session.set_source(spec, size=size, fps=fps, loop=loop)
        except SourceError as exc:
            self._warn(f"cannot open source {spec!r}: {exc}")
            QMessageBox.warning(
                self, "Source unavailable", f"{exc}\n\nThe preview keeps its current source."
            )
            if self.session.source_spec is None:
                self.session.set_source(DEFAULT_SOURCE)
            self.source_panel.show_spec(self.session.source_spec or DEFAULT_SOURCE)
            return False
        self.settings.last_source = spec
        self.source_panel.show_spec(spec)
        self.log.add("info", f"source: {description}")
        return True

    def _on_source_requested(self, spec: str, size: Any, fps: float, loop: bool) -> None:
        self._open_source(spec, tuple(size) if size else None, fps, loop)

    # -- params -------------------------------------------------------------------------

    def _on_params_edited(self, values: dict[str, Any]) -> None:
        self.session.update_params(values)
        if self.live is not None and self.live.config.send == "input":
            self.live.update_params(values)
        if self.serving is not None:
            self._served_params = dict(values)
            self.serving.update_params(values)

    def _on_preset(self, values: dict[str, Any]) -> None:
        self.form.set_values(values)
        self._on_params_edited(self.form.values())

    # -- events -------------------------------------------------------------------------

    def _on_event(self, event: SessionEvent | EngineEvent) -> None:
        kind = event.kind
        if isinstance(event, SessionEvent):
            self._on_session_event(event)
            return
        if kind == "state":
            self._show_state(event.data.get("state", event.message))
        elif kind in ("ready", "reloaded"):
            info = event.data
            dropped = self.form.set_schema(
                info.get("schema"), info.get("defaults"), info.get("params")
            )
            self.form.clear_errors()
            self.output_view.set_overlay(message="")
            self.log.add("info", event.message)
            if dropped:
                self.log.add("warning", f"form values the new model refuses: {', '.join(dropped)}")
        elif kind == "load_error":
            self._error(event.message, event.detail)
            if self.state == "failed":
                self.output_view.set_overlay(
                    message=f"{event.message}\n\nFix the pipeline and save (hot reload), or "
                    "press Restart.",
                    error=True,
                )
        elif kind == "transform_error":
            repeats = event.data.get("repeats")
            more = f" (and {repeats} more)" if repeats else ""
            self._error(event.message + more, event.detail)
        elif kind in ("crashed", "hung"):
            self._error(event.message)
            self.output_view.set_overlay(
                message=f"{event.message}\n\nPress Restart (Ctrl+R).", error=True
            )
        elif kind == "params_applied":
            self.form.clear_errors()
            current = self.session.pipeline
            if current is not None:
                self.settings.remember_params(current.name, event.data.get("params", {}))
        elif kind == "params_rejected":
            self.form.set_errors(event.data.get("errors") or [])
            self.statusBar().showMessage(event.message, 6000)
        elif kind == "log":
            self.log.add("pipeline", f"[{event.data.get('pipeline', '')}] {event.message}")
        elif kind == "stop_error":
            self._error(event.message, event.detail)

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.kind == "source_error":
            self._warn(event.message)
            self.source_panel.show_spec(self.session.source_spec or DEFAULT_SOURCE)
            self.statusBar().showMessage(event.message, 10000)
        elif event.kind in ("recording", "snapshot", "source_end"):
            self.log.add("info", event.message)
            self.statusBar().showMessage(event.message, 6000)

    def _show_state(self, state: str) -> None:
        self.state = state
        color = STATE_COLORS.get(state, "#777777")
        self.state_label.setText(state.upper())
        self.state_label.setStyleSheet(
            f"QLabel {{ background: {color}; color: white; border-radius: 3px; "
            "padding: 1px 8px; font-weight: bold; }"
        )

    def _warn(self, text: str) -> None:
        self.log.add("warning", text)

    def _error(self, text: str, detail: str | None = None) -> None:
        self.log.add("error", text, detail)
        self.statusBar().showMessage(text.splitlines()[0], 8000)

    # -- frames and figures ---------------------------------------------------------------

    def _refresh_frames(self) -> None:
        if self.serving is not None:
            engine = self.serving.runner.engine
            served = engine.latest if engine is not None else None
            if served is not None and served.seq != self._last_output_key:
                self._last_output_key = served.seq
                self.input_view.set_frame(served.input, ("served-in", served.seq))
                self.output_view.set_frame(served.image, ("served-out", served.seq))
            return
        frame = self.session.latest_input
        if frame is not None and frame.index != self._last_input_key:
            self._last_input_key = frame.index
            self.input_view.set_frame(frame.image, frame.index)
        out = self.session.latest_output
        if out is not None and out.seq != self._last_output_key:
            self._last_output_key = out.seq
            self.output_view.set_frame(out.image, (self.session.engine, out.seq))
        box = self.live.latest_box if self.live is not None else None
        if box is not None:
            self.box_view.set_frame(box.image, (id(self.live), box.t_received))

    def _refresh_stats(self) -> None:
        if self.serving is not None:
            self._refresh_serving()
            return
        if self.live is not None:
            f = self.live.figures()
            delay = f.get("delay_ms")
            self.box_view.set_overlay(
                stats=f"{f.get('box_fps', 0):.1f} fps"
                + (f"  round trip {delay:.0f} ms" if delay else "")
            )
            self.live_panel.show_figures(
                f"sent {f.get('sent_fps', 0):.1f} fps · encoder {f.get('encode_cpu_ms', 0):.1f} "
                f"ms/frame cpu · drops {f.get('drops', 0)} · reconnects {f.get('reconnects', 0)}"
                f"\nbox {f.get('box_fps', 0):.1f} fps"
                + (f" · round trip {delay:.0f} ms" if delay else "")
                + self._box_status_text()
            )
        frame = self.session.latest_input
        size = f"{frame.width}×{frame.height}  " if frame is not None else ""
        self.input_view.set_overlay(
            stats=f"{size}{self.session.source_fps:.1f} fps  {self.session.source_description}"
        )
        engine = self.session.engine
        if engine is None:
            return
        s = engine.snapshot()
        out = self.session.latest_output
        out_size = f"{out.image.shape[1]}×{out.image.shape[0]}  " if out is not None else ""
        text = (
            f"{out_size}{s.output_fps:.1f} fps  pipeline {s.pipeline_ms:.1f} ms  "
            f"latency {s.latency_ms:.0f} ms  drops {s.drops}"
        )
        if s.failed:
            text += f"  failed {s.failed}"
        self.output_view.set_overlay(stats=text)
        name = self.session.pipeline.name if self.session.pipeline else ""
        self.stats_label.setText(
            f"{name}  ·  in {s.input_fps:.1f} fps  ·  out {s.output_fps:.1f} "
            f"fps  ·  {s.pipeline_ms:.1f} ms  ·  {s.device or '—'}"
        )

    # -- toolbar actions ------------------------------------------------------------------

    def snapshot(self) -> None:
        if self.session.latest_output is None:
            self._warn("no output frame yet to save")
            return
        name = self.session.pipeline.name if self.session.pipeline else "output"
        default = Path.home() / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", str(default), "PNG (*.png)")
        if path:
            self.save_snapshot(path)

    def save_snapshot(self, path: str | Path) -> Path | None:
        try:
            return self.session.snapshot(path)
        except (OSError, RuntimeError) as exc:
            self._error(f"snapshot failed: {exc}")
            return None

    def _on_record(self, on: bool) -> None:
        if on and not self.session.recording:
            name = self.session.pipeline.name if self.session.pipeline else "output"
            default = Path.home() / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.mp4"
            path, _ = QFileDialog.getSaveFileName(self, "Record to", str(default), "MP4 (*.mp4)")
            if not path or not self.start_recording(path):
                self.record_action.blockSignals(True)
                self.record_action.setChecked(False)
                self.record_action.blockSignals(False)
        elif not on and self.session.recording:
            self.session.stop_recording()

    def start_recording(self, path: str | Path) -> bool:
        try:
            self.session.start_recording(path)
        except Exception as exc:
            self._error(f"cannot record: {exc}")
            return False
        self.record_action.blockSignals(True)
        self.record_action.setChecked(True)
        self.record_action.blockSignals(False)
        return True

    def _on_hot_reload(self, on: bool) -> None:
        self.settings.hot_reload = on
        self.log.add("info", f"hot reload {'on' if on else 'off'}")

    def _on_layout(self, side_by_side: bool) -> None:
        self.settings.preview_layout = "side-by-side" if side_by_side else "single"
        self.input_view.setVisible(side_by_side)

    def _on_device(self, _index: int) -> None:
        device = self.device.currentText()
        self.settings.device = device
        self.session.device = device
        current = self.session.pipeline
        if current is not None:
            self.log.add("info", f"device {device}: restarting {current.name}")
            self.session.set_pipeline(current, self.form.values())

    def _toggle_fullscreen(self, view: FrameView) -> None:
        if self._fullscreen_view is None:
            self._fullscreen_view = view
            self._saved_state = self.saveState()
            for dock in self.findChildren(QDockWidget):
                dock.hide()
            for toolbar in self.findChildren(QToolBar):
                toolbar.hide()
            self.statusBar().hide()
            for pane in (self.input_view, self.output_view, self.box_view):
                pane.setVisible(pane is view)
            self.showFullScreen()
        else:
            self._fullscreen_view = None
            self.showNormal()
            self.statusBar().show()
            for toolbar in self.findChildren(QToolBar):
                toolbar.show()
            self.restoreState(self._saved_state)
            self.output_view.show()
            self.box_view.setVisible(self.live is not None)
            self._on_layout(self.layout_action.isChecked())

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self._fullscreen_view is not None:
            self._toggle_fullscreen(self._fullscreen_view)
            return
        super().keyPressEvent(event)

    # -- serving the box -------------------------------------------------------------------

    def _on_serve_toggled(self, on: bool, host: str, port: int) -> None:
        if on:
            self.start_serving(host, port)
        else:
            self.stop_serving()

    def start_serving(self, host: str, port: int) -> None:
        """Be the box's runner for the current pipeline; the window shows the served stream."""
        from studio.serve.background import ServeInBackground

        info = self.session.pipeline
        if info is None or self.serving is not None:
            self.live_panel.show_serving(False, "pick a pipeline first")
            return
        serving = ServeInBackground(
            info,
            host=host,
            port=port,
            params=self.form.values(),
            device=self.settings.device,
            on_event=self.bridge.serve_event.emit,
        )
        self.live_panel.show_serving(True, f"starting {info.name} for the box…")

        def start() -> None:
            try:
                serving.start()
            except BaseException as exc:  # reported, never raised into Qt
                self.bridge.serve_event.emit(("failed", f"cannot serve: {exc}", serving))
                return
            self.bridge.serve_event.emit(("started", serving.url, serving))

        threading.Thread(target=start, name="serve-start", daemon=True).start()
        self._pending_serving = serving

    def stop_serving(self) -> None:
        serving, self.serving = self.serving, None
        self._pending_serving = None
        if serving is not None:
            threading.Thread(target=serving.stop, name="serve-stop", daemon=True).start()
            self.log.add("info", "stopped serving the box")
        self.live_panel.show_serving(False, "")
        self._last_output_key = None
        self.session.resume()

    def _on_serve_event(self, event: Any) -> None:
        if isinstance(event, tuple):
            kind, message, serving = event
            if serving is not getattr(self, "_pending_serving", None):
                if kind == "started":
                    threading.Thread(target=serving.stop, daemon=True).start()
                return
            if kind == "started":
                self.serving = serving
                self.session.pause()  # one pipeline process at a time on the CPU
                runner = serving.runner
                text = (
                    f"serving {runner.name} at {message}: point the box's models file "
                    f"at it (model_id {runner.name!r})"
                )
                self.live_panel.show_serving(True, text)
                self.log.add("info", text)
                self.input_view.set_overlay(message="Waiting for the box's stream…")
            else:
                self._pending_serving = None
                self.live_panel.show_serving(False, message)
                self._error(message)
            return
        level = "error" if event.kind in ("error", "refused") else "info"
        self.log.add(level, f"serve: {event.message}")
        if event.kind in ("request", "ended"):
            self.input_view.set_overlay(
                message=""
                if event.kind == "request"
                else "The box's stream ended. Waiting for the next one…"
            )

    def _refresh_serving(self) -> None:
        serving = self.serving
        status = serving.runner.status()
        since = time.strftime("%H:%M:%S", time.localtime(status.since)) if status.since else "—"
        line = (
            f"serving {status.pipeline} · stream {status.stream_id or '—'} · since {since} "
            f"· in {status.fps_in:.1f} fps · out {status.fps_out:.1f} fps · {status.state}"
        )
        self.stats_label.setText(line)
        self.output_view.set_overlay(stats=f"to the box  {status.fps_out:.1f} fps")
        self.input_view.set_overlay(stats=f"from the box  {status.fps_in:.1f} fps")
        if status.last_error:
            self.live_panel.show_serving(True, f"last error: {status.last_error}")
        params = serving.current_params()
        if params and params != self._served_params and self.form.idle:
            self._served_params = dict(params)
            if params != self.form.values():
                self.form.set_values(params)  # a control message from the box
                self.log.add("info", "params changed by the box's control channel")

    # -- going live ---------------------------------------------------------------------

    def _on_live_action(self, on: bool) -> None:
        if on and self.live is None:
            self.live_dock.raise_()
            self.live_panel.button.click()
            if self.live is None:  # the config was refused: the panel says why
                self._set_live_action(False)
        elif not on and self.live is not None:
            self.stop_live()

    def _set_live_action(self, on: bool) -> None:
        self.live_action.blockSignals(True)
        self.live_action.setChecked(on)
        self.live_action.blockSignals(False)

    def go_live(self, config: LiveConfig) -> None:
        """Stream to the box ``config`` names; the local preview goes on untouched."""
        from studio.live.session import LiveSession

        if self.live is not None:
            return
        self.settings.live = config.to_settings()
        self.live_panel.set_config(config)
        self.live = LiveSession(
            config, self.session, params=self.form.values, on_event=self.bridge.live_event.emit
        )
        self.box_view.set_frame(None)
        self.box_view.set_overlay(stats="", message="Waiting for the box…")
        self.box_view.show()
        width = sum(self.splitter.sizes())
        self.splitter.setSizes([width // 3] * 3)
        self._set_live_action(True)
        self.log.add(
            "info",
            f"going live: {config.host}:{config.rtmp_port}, model "
            f"{config.effective_model()}, stream id {config.stream_id}",
        )
        try:
            self.live.start()
        except Exception as exc:
            self._error(f"cannot go live: {self.live.redact(str(exc))}")
            self.live.stop()
            self.live = None
            self._set_live_action(False)

    def stop_live(self) -> None:
        live, self.live = self.live, None
        if live is not None:
            threading.Thread(target=live.stop, name="live-stop", daemon=True).start()
        self.live_panel.show_state("stopped", "")
        self.box_view.set_overlay(message="Not live")
        self._set_live_action(False)

    def _on_live_event(self, event: Any) -> None:
        if event.kind == "state":
            state, reason = event.data.get("state", ""), event.data.get("reason", "")
            self.live_panel.show_state(state, reason)
            self.log.add("error" if state == "failed" else "info", f"live: {event.message}")
            if state == "live" and not reason:
                self.box_view.set_overlay(message="")
            elif reason:
                self.box_view.set_overlay(message=reason, error=state == "failed")
            if state == "failed":
                self.live = None
                self._set_live_action(False)
                self.statusBar().showMessage(f"live: {reason}", 10000)
        elif event.kind == "params" and not event.data.get("ok"):
            self._error(f"live params: {event.message}")
        elif event.kind == "status" and event.data.get("error"):
            self.statusBar().showMessage(f"box: {event.message}", 5000)

    def _box_status_text(self) -> str:
        live = self.live
        if live is None:
            return ""
        if live.status_error:
            return f"\nbox status: {live.status_error}"
        status = live.box_status or {}
        state = status.get("state") or status.get("gateway_status", {}).get("state", "")
        return f"\nbox status: {state}" if state else ""

    # -- closing ------------------------------------------------------------------------

    def _save_settings(self) -> None:
        s = self.settings
        s.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        if self._fullscreen_view is None:
            s.window_state = bytes(self.saveState().toBase64()).decode()
        s.splitter_sizes = {**s.splitter_sizes, "preview": self.splitter.sizes()}
        if self.session.pipeline is not None:
            s.remember_params(self.session.pipeline.name, self.form.values())
        try:
            s.save()
        except Exception as exc:
            self.log.add("warning", f"could not save settings: {exc}")

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self._save_settings()
            self.frame_timer.stop()
            self.stats_timer.stop()
            self.watcher.stop()
            if self.live is not None:
                self.live.stop()
                self.live = None
            if self.serving is not None:
                self.serving.stop()
                self.serving = None
            self.statusBar().showMessage("Stopping the pipeline…")
            self.session.close(timeout=2.0)
        super().closeEvent(event)

    async def wait_state(self, state: str, timeout: float = 60.0) -> bool:
        """For scripts and tests: wait on the event loop until the engine reaches ``state``."""
        deadline = time.monotonic() + timeout
        while self.state != state and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.state == state
