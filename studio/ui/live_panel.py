"""The "Go live" panel: where the box is, what to send, and the stream's state."""

from __future__ import annotations

import secrets
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.live.config import (
    DEFAULT_INGEST_TEMPLATE,
    DEFAULT_PLAYBACK_TEMPLATE,
    LiveConfig,
    LiveConfigError,
)

SIZES = [(640, 360), (960, 540), (1280, 720), (1920, 1080)]
STATE_STYLE = {
    "connecting": "#d9a400",
    "live": "#2e9d4f",
    "reconnecting": "#d97a00",
    "failed": "#d04a3f",
    "stopped": "#777777",
}


class LivePanel(QWidget):
    """Edits a :class:`LiveConfig`; ``go_live(config)`` and ``stop_live()`` do the rest."""

    go_live = Signal(object)  # LiveConfig
    stop_live = Signal()
    serve_toggled = Signal(bool, str, int)  # on, host, port

    def __init__(self, config: LiveConfig, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = QLineEdit(config.host)
        self.rtmp_port = QSpinBox(minimum=1, maximum=65535, value=config.rtmp_port)
        self.api_port = QSpinBox(minimum=1, maximum=65535, value=config.api_port)
        self.api_port.setToolTip("The gateway's HTTP API: live params and the stream's status")
        self.key = QLineEdit(config.stream_key)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setToolTip("The stream key: the RTMP path the box ingests. Kept out of logs.")
        show = QToolButton(text="Show", checkable=True, toolTip="Show the key")
        show.toggled.connect(
            lambda on: self.key.setEchoMode(
                QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
            )
        )
        fresh = QToolButton(text="New", toolTip="Generate a new key")
        fresh.clicked.connect(lambda: self.key.setText("studio-" + secrets.token_hex(4)))
        key_row = QHBoxLayout()
        key_row.setContentsMargins(0, 0, 0, 0)
        key_row.addWidget(self.key, 1)
        key_row.addWidget(show)
        key_row.addWidget(fresh)
        self.stream_id = QLineEdit(config.stream_id)
        self.model = QLineEdit(config.model)
        self.model.setToolTip("The model id the box is asked for; by default the pipeline's name")
        self.send = QComboBox()
        self.send.addItem("Source (the box runs the pipeline)", "input")
        self.send.addItem("Local output (the box runs noop)", "output")
        self.send.setCurrentIndex(0 if config.send == "input" else 1)
        self.size = QComboBox()
        for w, h in SIZES:
            self.size.addItem(f"{w} × {h}", (w, h))
        index = self.size.findData((config.width, config.height))
        if index < 0:
            self.size.addItem(f"{config.width} × {config.height}", (config.width, config.height))
            index = self.size.count() - 1
        self.size.setCurrentIndex(index)
        self.bitrate = QSpinBox(
            minimum=100,
            maximum=50_000,
            singleStep=100,
            suffix=" kb/s",
            value=config.bitrate // 1000,
        )
        self.ingest = QLineEdit(config.ingest_template)
        self.ingest.setPlaceholderText(DEFAULT_INGEST_TEMPLATE)
        self.playback = QLineEdit(config.playback_template)
        self.playback.setPlaceholderText(DEFAULT_PLAYBACK_TEMPLATE)
        self.advanced = QGroupBox("Advanced: URL templates", checkable=True, checked=False)
        adv = QFormLayout(self.advanced)
        adv.addRow("Ingest", self.ingest)
        adv.addRow("Playback", self.playback)
        adv.addRow(QLabel("Placeholders: {host} {port} {key} {model} {stream_id} {params}"))
        self.advanced.toggled.connect(
            lambda on: [w.setVisible(on) for w in (self.ingest, self.playback)]
        )
        self.ingest.setVisible(False)
        self.playback.setVisible(False)

        self.button = QPushButton("Go live")
        self.button.setToolTip("Send the source to the box and show what comes back")
        self.button.clicked.connect(self._on_button)
        self.state = QLabel()
        self.reason = QLabel(wordWrap=True)
        self.figures = QLabel(wordWrap=True)
        self.figures.setStyleSheet("color: gray")

        form = QFormLayout()
        form.addRow("Box host", self.host)
        form.addRow("RTMP port", self.rtmp_port)
        form.addRow("API port", self.api_port)
        form.addRow("Stream key", key_row)
        form.addRow("Stream id", self.stream_id)
        form.addRow("Model id", self.model)
        form.addRow("Send", self.send)
        form.addRow("Size", self.size)
        form.addRow("Bitrate", self.bitrate)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addWidget(self.advanced)
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.state, 1)
        layout.addLayout(row)
        layout.addWidget(self.reason)
        layout.addWidget(self.figures)

        serve = QGroupBox("Serve to box: be the box's runner for this pipeline")
        self.serve_host = QLineEdit("127.0.0.1")
        self.serve_host.setToolTip("0.0.0.0 when the box runs in Docker and must reach the studio")
        self.serve_port = QSpinBox(minimum=1, maximum=65535, value=8900)
        self.serve_button = QPushButton("Serve to box", checkable=True)
        self.serve_button.setToolTip(
            "Expose the runner API (POST /live-video-to-video) so the box's orchestrator sends "
            "its stream through the pipeline open here, reloaded on every save"
        )
        self.serve_button.toggled.connect(
            lambda on: self.serve_toggled.emit(
                on, self.serve_host.text().strip(), self.serve_port.value()
            )
        )
        self.serve_state = QLabel(wordWrap=True)
        serve_form = QFormLayout(serve)
        serve_form.addRow("Listen on", self.serve_host)
        serve_form.addRow("Port", self.serve_port)
        serve_form.addRow(self.serve_button)
        serve_form.addRow(self.serve_state)
        layout.addWidget(serve)
        layout.addStretch(1)
        self._base = config
        self.live = False
        self.show_state("stopped", "")

    def config(self, pipeline: str | None = None) -> LiveConfig:
        """The config the fields describe; raises LiveConfigError naming every problem."""
        w, h = self.size.currentData()
        config = replace(
            self._base,
            host=self.host.text().strip(),
            rtmp_port=self.rtmp_port.value(),
            api_port=self.api_port.value(),
            stream_key=self.key.text().strip(),
            stream_id=self.stream_id.text().strip(),
            model=self.model.text().strip() or (pipeline or ""),
            send=self.send.currentData(),
            width=w,
            height=h,
            bitrate=self.bitrate.value() * 1000,
            ingest_template=self.ingest.text().strip() or DEFAULT_INGEST_TEMPLATE,
            playback_template=self.playback.text().strip() or DEFAULT_PLAYBACK_TEMPLATE,
        )
        config.validate()
        return config

    def set_config(self, config: LiveConfig) -> None:
        """Show ``config`` in the fields (when going live from elsewhere than the button)."""
        self._base = config
        self.host.setText(config.host)
        self.rtmp_port.setValue(config.rtmp_port)
        self.api_port.setValue(config.api_port)
        self.key.setText(config.stream_key)
        self.stream_id.setText(config.stream_id)
        self.model.setText(config.model)
        self.send.setCurrentIndex(0 if config.send == "input" else 1)
        index = self.size.findData((config.width, config.height))
        if index < 0:
            self.size.addItem(f"{config.width} × {config.height}", (config.width, config.height))
            index = self.size.count() - 1
        self.size.setCurrentIndex(index)
        self.bitrate.setValue(config.bitrate // 1000)
        custom = (
            config.ingest_template != DEFAULT_INGEST_TEMPLATE
            or config.playback_template != DEFAULT_PLAYBACK_TEMPLATE
        )
        self.ingest.setText("" if not custom else config.ingest_template)
        self.playback.setText("" if not custom else config.playback_template)
        self.advanced.setChecked(custom)

    def set_pipeline(self, name: str | None) -> None:
        self.model.setPlaceholderText(name or "")

    def show_state(self, state: str, reason: str) -> None:
        color = STATE_STYLE.get(state, "#777777")
        self.state.setText(state.upper())
        self.state.setStyleSheet(f"color: {color}; font-weight: bold;")
        self.reason.setText(reason)
        self.reason.setStyleSheet("color: #d04a3f" if state == "failed" else "")
        self.live = state not in ("stopped", "failed")
        self.button.setText("Stop" if self.live else "Go live")
        for widget in (
            self.host,
            self.rtmp_port,
            self.api_port,
            self.key,
            self.stream_id,
            self.model,
            self.send,
            self.size,
            self.bitrate,
            self.advanced,
        ):
            widget.setEnabled(not self.live)

    def show_serving(self, on: bool, text: str) -> None:
        self.serve_button.blockSignals(True)
        self.serve_button.setChecked(on)
        self.serve_button.blockSignals(False)
        self.serve_host.setEnabled(not on)
        self.serve_port.setEnabled(not on)
        self.serve_state.setText(text)

    def show_figures(self, text: str) -> None:
        self.figures.setText(text)

    def _on_button(self) -> None:
        if self.live:
            self.stop_live.emit()
            return
        try:
            config = self.config(self.model.placeholderText())
        except LiveConfigError as exc:
            self.show_state("failed", str(exc))
            return
        self.go_live.emit(config)
