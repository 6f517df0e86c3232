"""The log: engine, source and pipeline messages, errors in red, tracebacks on demand."""

from __future__ import annotations

import time

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

_COLORS = {
    "error": QColor(230, 90, 80),
    "warning": QColor(220, 160, 40),
    "info": QColor(200, 200, 200),
    "detail": QColor(140, 140, 150),
    "pipeline": QColor(130, 190, 250),
}


class LogPanel(QWidget):
    """Append-only log, bounded, with an errors-only filter."""

    def __init__(self, parent: QWidget | None = None, max_lines: int = 3000):
        super().__init__(parent)
        self.view = QPlainTextEdit(readOnly=True)
        self.view.setMaximumBlockCount(max_lines)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details = QCheckBox("Tracebacks", checked=True)
        self.errors_only = QCheckBox("Errors only")
        self.errors_only.toggled.connect(self._refilter)
        self.details.toggled.connect(self._refilter)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        bar = QHBoxLayout()
        bar.addWidget(self.errors_only)
        bar.addWidget(self.details)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        self._entries: list[tuple[str, str, str | None]] = []

    def add(self, level: str, text: str, detail: str | None = None) -> None:
        stamp = time.strftime("%H:%M:%S")
        entry = (level, f"{stamp}  {text}", detail)
        self._entries.append(entry)
        if len(self._entries) > 3000:
            del self._entries[:500]
        self._write(entry)

    def text(self) -> str:
        return self.view.toPlainText()

    def clear(self) -> None:
        self._entries.clear()
        self.view.clear()

    def _write(self, entry: tuple[str, str, str | None]) -> None:
        level, text, detail = entry
        if self.errors_only.isChecked() and level not in ("error", "warning"):
            return
        self._append(text, _COLORS.get(level, _COLORS["info"]))
        if detail and self.details.isChecked():
            self._append("    " + detail.replace("\n", "\n    "), _COLORS["detail"])

    def _append(self, text: str, color: QColor) -> None:
        cursor = self.view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = QTextCharFormat()
        fmt.setForeground(color)
        if not self.view.document().isEmpty():
            cursor.insertText("\n")
        cursor.insertText(text, fmt)
        self.view.setTextCursor(cursor)
        self.view.ensureCursorVisible()

    def _refilter(self) -> None:
        self.view.clear()
        for entry in self._entries:
            self._write(entry)
