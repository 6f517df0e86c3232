"""The pipelines list: what discovery found, searchable, broken files shown with their error."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.discovery.info import PipelineInfo

_INFO_ROLE = Qt.ItemDataRole.UserRole


class PipelinesPanel(QWidget):
    """Lists :class:`PipelineInfo` entries; emits the one the user picks."""

    pipeline_selected = Signal(object)  # PipelineInfo
    folders_changed = Signal(list)  # list[str]
    rescan_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._infos: list[PipelineInfo] = []
        self._folders: list[str] = []
        self._current: str | None = None

        self.search = QLineEdit(placeholderText="Search pipelines…", clearButtonEnabled=True)
        self.search.textChanged.connect(self._refill)
        self.rescan = QToolButton(text="⟳", toolTip="Scan the pipeline folders again")
        self.rescan.clicked.connect(self.rescan_requested)
        top = QHBoxLayout()
        top.addWidget(self.search)
        top.addWidget(self.rescan)

        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemActivated.connect(self._on_activated)
        self.status = QLabel("Scanning pipelines…")
        self.status.setWordWrap(True)

        self.details = QTextBrowser()
        self.details.setOpenExternalLinks(False)
        self.details.setMaximumHeight(150)
        self.traceback_button = QPushButton("Show traceback…")
        self.traceback_button.setVisible(False)
        self.traceback_button.clicked.connect(self._show_traceback)

        self.folders = QListWidget()
        self.folders.setMaximumHeight(70)
        self.folders.setToolTip(
            "Extra folders scanned for pipelines (the bundled folder is always)"
        )
        add = QPushButton("Add folder…")
        add.clicked.connect(self._add_folder)
        self.remove = QPushButton("Remove")
        self.remove.clicked.connect(self._remove_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.list, 3)
        layout.addWidget(self.status)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.traceback_button)
        layout.addWidget(QLabel("Pipeline folders"))
        layout.addWidget(self.folders)
        layout.addLayout(buttons)

    # -- data -------------------------------------------------------------------------------

    def set_infos(self, infos: list[PipelineInfo]) -> None:
        self._infos = list(infos)
        self._refill()
        good = sum(1 for i in infos if i.ok)
        bad = len(infos) - good
        self.status.setText(f"{good} pipeline(s)" + (f", {bad} with errors" if bad else ""))

    def infos(self) -> list[PipelineInfo]:
        return list(self._infos)

    def find(self, name: str) -> PipelineInfo | None:
        return next((i for i in self._infos if i.ok and i.name == name), None)

    def set_folders(self, folders: list[str]) -> None:
        self._folders = list(folders)
        self.folders.clear()
        self.folders.addItems(self._folders)

    def select(self, name: str | None) -> None:
        """Highlight ``name`` without emitting (the app already runs it)."""
        self._current = name
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            info = item.data(_INFO_ROLE)
            if info is not None and info.ok and info.name == name:
                self.list.setCurrentItem(item)
                self._show_details(info)
                break
        self.list.blockSignals(False)

    # -- internals --------------------------------------------------------------------------

    def _refill(self) -> None:
        needle = self.search.text().strip().lower()
        self.list.blockSignals(True)
        self.list.clear()
        bold = QFont(self.font())
        bold.setBold(True)
        for info in self._infos:
            haystack = f"{info.name or ''} {info.doc} {info.file or ''} {info.error or ''}".lower()
            if needle and needle not in haystack:
                continue
            if info.ok:
                summary = (info.doc or "").strip().splitlines()
                text = info.name or "?"
                if info.conflict:
                    text += "   ⚠ name conflict"
                item = QListWidgetItem(text)
                item.setFont(bold)
                item.setToolTip(summary[0] if summary else info.file or "")
                if info.conflict:
                    item.setForeground(QColor(200, 140, 0))
            else:
                where = Path(info.file).name if info.file else "?"
                item = QListWidgetItem(f"⚠ {where}: {info.error}")
                item.setForeground(QColor(220, 80, 70))
                item.setToolTip(info.error or "")
            item.setData(_INFO_ROLE, info)
            self.list.addItem(item)
            if info.ok and info.name == self._current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _on_current(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is None:
            return
        info: PipelineInfo = item.data(_INFO_ROLE)
        self._show_details(info)
        if info.ok and info.name != self._current:
            self._current = info.name
            self.pipeline_selected.emit(info)

    def _on_activated(self, item: QListWidgetItem) -> None:
        info: PipelineInfo = item.data(_INFO_ROLE)
        if not info.ok and info.traceback:
            self._show_traceback()

    def _show_details(self, info: PipelineInfo) -> None:
        self._shown = info
        where = f"{info.file}:{info.line}" if info.line else (info.file or "")
        if info.ok:
            conflict = (
                "<p style='color:#c88c00'>Another pipeline has the same name; rename one so "
                "the box can tell them apart.</p>"
                if info.conflict
                else ""
            )
            doc = _html(info.doc or "No docstring.").replace("\n", "<br>")
            self.details.setHtml(
                f"<b>{_html(info.name or '')}</b> <span style='color:gray'>({info.origin})</span>"
                f"<p>{doc}</p>{conflict}<p style='color:gray'>{_html(where)}</p>"
            )
            self.traceback_button.setVisible(False)
        else:
            self.details.setHtml(
                f"<b style='color:#dc5046'>Could not load</b><p>{_html(info.error or '')}</p>"
                "<p style='color:gray'>Fix the file and save: the list updates by itself, or "
                "press ⟳.</p>"
            )
            self.traceback_button.setVisible(bool(info.traceback))

    def _show_traceback(self) -> None:
        info = getattr(self, "_shown", None)
        if info is None or not info.traceback:
            return
        box = QMessageBox(self)
        box.setWindowTitle("Pipeline error")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setText(info.error or "")
        box.setDetailedText(info.traceback)
        box.open()

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of pipelines")
        if folder and folder not in self._folders:
            self.set_folders([*self._folders, folder])
            self.folders_changed.emit(list(self._folders))

    def _remove_folder(self) -> None:
        item = self.folders.currentItem()
        if item is None:
            return
        self.set_folders([f for f in self._folders if f != item.text()])
        self.folders_changed.emit(list(self._folders))


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
