"""ParamsForm: a pipeline's parameters as a form, built from its JSON schema alone.

The form never validates: it sends values as they are edited (``params_changed``) and
shows the errors the pipeline's worker sends back (``set_errors``). Changes are coalesced
on the Qt thread, so dragging a slider sends at most one update per ``interval_ms`` while
the final value always goes out, at once when the slider is released.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.ui.form.schema import FieldSpec, default_values, fit_values, parse_schema
from studio.ui.form.widgets import ERROR_COLOUR, FieldRow, FieldsPanel

#: Shortest gap between two ``params_changed`` emissions while values keep changing.
EMIT_INTERVAL_MS = 60

NO_PIPELINE = "No pipeline loaded."
NO_PARAMS = "This pipeline has no parameters."


class ParamsForm(QWidget):
    """The parameter form of one pipeline; rebuilt in place when its schema changes.

    ``params_changed`` carries the full values (nested dicts for nested models, hidden
    fields included) after user edits only: ``set_schema`` and ``set_values`` are silent
    unless asked, so values that came from the worker are not echoed back to it.
    """

    params_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None, interval_ms: int = EMIT_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._schema: dict[str, Any] | None = None
        self._defaults: dict[str, Any] = {}
        self._specs: list[FieldSpec] = []
        self._panel: FieldsPanel | None = None
        self._quiet = 0
        self._dirty = False

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)

        self._errors = QLabel()
        self._errors.setWordWrap(True)
        self._errors.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._errors.setStyleSheet(
            f"color: {ERROR_COLOUR}; border: 1px solid {ERROR_COLOUR}; border-radius: 3px;"
            " padding: 4px;"
        )
        self._errors.hide()

        self._empty = QLabel(NO_PIPELINE)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setStyleSheet("color: palette(placeholder-text); padding: 24px;")

        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._scroll.hide()

        self._reset_all = QPushButton("Reset all")
        self._reset_all.setToolTip("Every parameter back to its default")
        self._reset_all.clicked.connect(self.reset_all)
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addStretch(1)
        footer.addWidget(self._reset_all)
        self._reset_all.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self._errors)
        layout.addWidget(self._empty, 1)
        layout.addWidget(self._scroll, 1)
        layout.addLayout(footer)

    # -- building ------------------------------------------------------------------------

    def set_schema(
        self,
        schema: dict[str, Any] | None,
        defaults: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
    ) -> list[str]:
        """Build the form for ``schema``, or rebuild it after a hot reload.

        Values are the defaults, then the current values that still fit (same field, same
        kind, a value the new field accepts), then ``values``. Returns the dotted names of
        the current values that were dropped. Emits nothing. The same schema and defaults
        again only apply ``values``, keeping the widgets (and the user's focus).
        """
        defaults = dict(defaults or {})
        if self._schema is not None and schema == self._schema and defaults == self._defaults:
            if values:
                self.set_values(values)
            return []
        specs = parse_schema(schema, defaults)
        start = default_values(specs)
        dropped: list[str] = []
        if self._panel is not None:
            kept, dropped = fit_values(specs, self._panel.values(), previous=self._specs)
            start = _merge(start, kept)
        if values:
            start = _merge(start, fit_values(specs, values)[0])
        self._build(schema or {}, defaults, specs, start)
        return dropped

    def _build(
        self,
        schema: dict[str, Any],
        defaults: dict[str, Any],
        specs: list[FieldSpec],
        start: dict[str, Any],
    ) -> None:
        bar = self._scroll.verticalScrollBar()
        scrolled = bar.value()
        self._drop_panel()
        self._schema, self._defaults, self._specs = schema, defaults, specs
        has_fields = bool(specs)
        if has_fields:
            panel = FieldsPanel(specs)
            panel.setContentsMargins(0, 0, 4, 0)  # room beside the scroll bar
            self._quiet += 1
            try:
                panel.set_values(start)
            finally:
                self._quiet -= 1
            holder = QWidget()
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(panel)
            column.addStretch(1)
            self._scroll.setWidget(holder)
            panel.changed.connect(self._on_change)
            panel.settled.connect(self._on_settled)
            self._panel = panel
            QTimer.singleShot(0, bar, lambda: bar.setValue(scrolled))  # once laid out
        self._show_state(NO_PARAMS, has_fields)

    def clear(self) -> None:
        """No pipeline: drop the form and say so (``set_schema`` builds one again)."""
        self._drop_panel()
        self._schema, self._defaults, self._specs = None, {}, []
        self._show_state(NO_PIPELINE, False)

    def _drop_panel(self) -> None:
        """Remove the current rows; a change not yet sent is dropped with them."""
        self._timer.stop()
        self._dirty = False
        self._panel = None
        self.clear_errors()
        holder = self._scroll.takeWidget()
        if holder is not None:
            holder.deleteLater()

    def _show_state(self, empty_text: str, has_fields: bool) -> None:
        self._empty.setText(empty_text)
        self._empty.setVisible(not has_fields)
        self._scroll.setVisible(has_fields)
        self._reset_all.setVisible(has_fields)

    # -- values --------------------------------------------------------------------------

    @property
    def specs(self) -> list[FieldSpec]:
        """The top-level fields the form shows, in display order."""
        return list(self._specs)

    def values(self) -> dict[str, Any]:
        """Every value, nested dicts for nested models, hidden fields included."""
        return self._panel.values() if self._panel is not None else {}

    def set_values(self, values: dict[str, Any], *, emit: bool = False) -> None:
        """Show ``values`` (a partial dict is fine) as one update.

        No ``params_changed`` per field; with ``emit`` one for the whole update.
        """
        if self._panel is None:
            return
        self._quiet += 1
        try:
            self._panel.set_values(values)
        finally:
            self._quiet -= 1
        if emit:
            self._dirty = True
            self.flush()

    def reset_all(self) -> None:
        """Every field back to its default, sent as one update."""
        if self._panel is None:
            return
        before = self._panel.values()
        self._quiet += 1
        try:
            self._panel.reset_all()
        finally:
            self._quiet -= 1
        if self._panel.values() != before:
            self._dirty = True
            self.flush()

    def field(self, name: str) -> FieldRow | None:
        """The row of a dotted field name (``"vignette.radius"``), None if there is none."""
        if self._panel is None or not name:
            return None
        row, rest = self._panel.find(tuple(name.split(".")))
        return row if not rest else None

    # -- errors --------------------------------------------------------------------------

    def set_errors(self, errors: list[dict[str, str]]) -> None:
        """Show the validator's errors (``[{"field": "a.b", "message": ...}]``), replacing any.

        Each goes on the deepest field its dotted name reaches (a list index or a union
        member below it is named in the message); the rest, and errors on hidden fields,
        go to the label above the form.
        """
        self.clear_errors()
        by_row: dict[int, tuple[FieldRow, list[str]]] = {}
        general: list[str] = []
        for error in errors:
            name = str(error.get("field") or "")
            message = str(error.get("message") or "invalid value")
            row, rest = (None, ()) if self._panel is None else self._panel.find(_parts(name))
            if row is None or not self._shown(row):
                general.append(f"{name}: {message}" if _parts(name) else message)
                continue
            text = f"{'.'.join(rest)}: {message}" if rest else message
            by_row.setdefault(id(row), (row, []))[1].append(text)
        for row, messages in by_row.values():
            row.set_error("\n".join(messages))
        if general:
            self._errors.setText("\n".join(general))
            self._errors.show()

    def clear_errors(self) -> None:
        if self._panel is not None:
            for row in self._panel.all_rows():
                if row.error is not None:
                    row.set_error(None)
        self._errors.clear()
        self._errors.hide()

    @property
    def form_errors(self) -> str:
        """The errors no field could show, one a line ("" when none)."""
        return self._errors.text()

    # -- coalescing ----------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """True when no change waits to be sent and no coalescing window is open."""
        return not self._dirty and not self._timer.isActive()

    def flush(self) -> None:
        """Send the pending change now, if there is one."""
        if self._dirty:
            self._dirty = False
            self.params_changed.emit(self.values())

    def _on_change(self) -> None:
        """First change of a burst goes out at once, the rest once per interval."""
        if self._quiet:
            return
        self._dirty = True
        if not self._timer.isActive():
            self.flush()
            self._timer.start()

    def _on_tick(self) -> None:
        if self._dirty:
            self.flush()
            self._timer.start()  # still changing: keep the window open

    def _on_settled(self) -> None:
        self.flush()

    def _shown(self, row: FieldRow) -> bool:
        """False for a hidden field, or one inside a hidden nested model."""
        spec_path = row.spec.path
        for depth in range(1, len(spec_path) + 1):
            found = self.field(".".join(spec_path[:depth]))
            if found is None or found.spec.hidden:
                return False
        return True


def _parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in name.split(".") if p and p != "(params)")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
