"""Named param sets for the current pipeline: load, save, rename, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QMessageBox,
    QToolButton,
    QWidget,
)

from studio.presets import PresetError, PresetStore

_PLACEHOLDER = "Presets…"


class PresetsBar(QWidget):
    """A combo of the pipeline's presets and the buttons that manage them.

    ``current_params`` is asked for the values to save; ``preset_loaded(dict)`` carries the
    values of a preset the user picked. Problems (a broken preset file set aside) go out
    through ``problem(str)``.
    """

    preset_loaded = Signal(dict)
    problem = Signal(str)

    def __init__(
        self,
        store: PresetStore,
        current_params: Callable[[], dict[str, Any]],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.store = store
        self._current_params = current_params
        self.pipeline: str | None = None
        self.combo = QComboBox(minimumContentsLength=12)
        self.combo.setToolTip("Load a saved set of params")
        self.combo.activated.connect(self._on_pick)
        self.save = QToolButton(text="Save…", toolTip="Save the current params as a preset")
        self.rename = QToolButton(text="Rename…")
        self.delete = QToolButton(text="Delete")
        self.save.clicked.connect(self._save)
        self.rename.clicked.connect(self._rename)
        self.delete.clicked.connect(self._delete)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        for button in (self.save, self.rename, self.delete):
            layout.addWidget(button)
        self.set_pipeline(None)

    def set_pipeline(self, pipeline: str | None) -> None:
        self.pipeline = pipeline
        self._refill()

    def names(self) -> list[str]:
        return [self.combo.itemText(i) for i in range(1, self.combo.count())]

    def _refill(self, select: str | None = None) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(_PLACEHOLDER)
        names = self.store.list(self.pipeline) if self.pipeline else []
        self._report()
        self.combo.addItems(names)
        if select in names:
            self.combo.setCurrentIndex(names.index(select) + 1)
        self.combo.blockSignals(False)
        enabled = self.pipeline is not None
        self.save.setEnabled(enabled)
        self.rename.setEnabled(bool(names))
        self.delete.setEnabled(bool(names))

    def _selected(self) -> str | None:
        return self.combo.currentText() if self.combo.currentIndex() > 0 else None

    def _on_pick(self, index: int) -> None:
        if index <= 0 or self.pipeline is None:
            return
        try:
            values = self.store.load(self.pipeline, self.combo.itemText(index))
        except PresetError as exc:
            self.problem.emit(str(exc))
            self._refill()
            return
        self._report()
        self.preset_loaded.emit(values)

    def _save(self) -> None:
        if self.pipeline is None:
            return
        name, ok = QInputDialog.getText(
            self, "Save preset", f"Preset name for {self.pipeline}:", text=self._selected() or ""
        )
        if not ok:
            return
        self._guard(
            lambda: self.store.save(self.pipeline, name, self._current_params()),
            select=name.strip(),
        )

    def _rename(self) -> None:
        old = self._selected()
        if self.pipeline is None or old is None:
            self.problem.emit("pick the preset to rename first")
            return
        new, ok = QInputDialog.getText(self, "Rename preset", f"New name for {old!r}:", text=old)
        if ok:
            self._guard(lambda: self.store.rename(self.pipeline, old, new), select=new.strip())

    def _delete(self) -> None:
        name = self._selected()
        if self.pipeline is None or name is None:
            self.problem.emit("pick the preset to delete first")
            return
        answer = QMessageBox.question(self, "Delete preset", f"Delete preset {name!r}?")
        if answer == QMessageBox.StandardButton.Yes:
            self._guard(lambda: self.store.delete(self.pipeline, name))

    def _guard(self, action: Callable[[], None], select: str | None = None) -> None:
        try:
            action()
        except PresetError as exc:
            self.problem.emit(str(exc))
        self._refill(select)

    def _report(self) -> None:
        while self.store.problems:
            self.problem.emit(self.store.problems.pop(0))
