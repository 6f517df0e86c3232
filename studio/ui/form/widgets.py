"""One editor per field kind, the row around it, and the panel that lays rows out.

Every editor has the same small interface (``value``, ``set_value``, ``changed``,
``set_error``, ``reset``), so the form treats a slider, a combo box and a nested group
alike. A :class:`FieldRow` adds what every field gets: a label carrying the description,
the "none" toggle of an optional field and a reset-to-default button.
"""

from __future__ import annotations

import json
import math
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.form.schema import (
    FLOAT_LIMIT,
    INT_LIMIT,
    FieldSpec,
    empty_value,
    fits,
    sections,
)

ERROR_COLOUR = "#d64545"
#: Most slider positions: a float range with a fine step still maps onto this many ticks.
MAX_TICKS = 100_000
#: Visible lines of a multiline text box.
TEXT_LINES = 4


class Editor(QWidget):
    """The input for one kind of value. ``changed`` carries the new value.

    ``settled`` says an interaction just ended (a slider released), so the form can send
    the final value at once instead of waiting for its next coalescing tick.
    """

    changed = Signal(object)
    settled = Signal()

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._error: str | None = None
        self.box = QHBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(8)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def inputs(self) -> list[QWidget]:
        """The widgets outlined in red on an error (the first one takes the focus)."""
        raise NotImplementedError

    def reset(self) -> None:
        self.set_value(self.spec.default)

    def set_editable(self, editable: bool) -> None:
        """Greyed out while an optional field is set to none."""
        self.setEnabled(editable)

    def set_error(self, message: str | None) -> None:
        self._error = message
        for widget in self.inputs():
            _outline(widget, message)

    def _start(self) -> None:
        """Show the default, or the kind's empty value for an optional field set to none."""
        default = self.spec.default
        self.set_value(default if default is not None else empty_value(self.spec))

    def _guard_wheel(self, *widgets: QWidget) -> None:
        """Let the wheel scroll the form past sliders, spins and combos it has not focused.

        Otherwise scrolling a long form edits whatever passes under the pointer.
        """
        for widget in widgets:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Wheel
            and isinstance(watched, QWidget)
            and not watched.hasFocus()
        ):
            event.ignore()  # ignored, so Qt hands it on to the scroll area
            return True
        return super().eventFilter(watched, event)


class NumberEditor(Editor):
    """A spin box, with a slider beside it when both bounds are known.

    The slider works in integer ticks of ``step`` from the minimum; the spin box holds the
    value itself, so a typed value between ticks is kept exactly (the slider goes to the
    nearest tick without writing back).
    """

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self._int = spec.kind == "int"
        limit = INT_LIMIT if self._int else FLOAT_LIMIT
        low = max(spec.minimum, -limit) if spec.minimum is not None else -limit
        high = min(spec.maximum, limit) if spec.maximum is not None else limit
        self._low: int | float = int(low) if self._int else float(low)
        self._high: int | float = int(high) if self._int else float(high)
        self._step = spec.step or 1
        self._ticks = 0
        self._tick: float = self._step
        if self._int:
            self._spin: QSpinBox | QDoubleSpinBox = QSpinBox()
        else:
            self._spin = QDoubleSpinBox()
            self._spin.setDecimals(spec.decimals)
        self._spin.setRange(self._low, self._high)
        self._spin.setSingleStep(self._step)
        self._spin.setKeyboardTracking(False)  # typing "1.5" is one change, not "1" then it
        self._spin.setAccelerated(True)
        self._spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self._slider: QSlider | None = None
        if spec.slider:
            span = self._high - self._low
            self._ticks = max(1, min(MAX_TICKS, math.ceil(span / self._step - 1e-9)))
            if self._ticks == MAX_TICKS:
                self._tick = span / MAX_TICKS
            self._slider = QSlider(Qt.Orientation.Horizontal)
            self._slider.setRange(0, self._ticks)
            self._slider.setPageStep(max(1, self._ticks // 10))
            self._slider.valueChanged.connect(self._from_slider)
            self._slider.sliderReleased.connect(self.settled)
            self.box.addWidget(self._slider, 1)
            self._spin.setMinimumWidth(self._spin.sizeHint().width() + 8)
        self.box.addWidget(self._spin)
        if self._slider is None:
            self.box.addStretch(1)
        self._guard_wheel(*(w for w in (self._spin, self._slider) if w is not None))
        self._spin.valueChanged.connect(self._from_spin)
        self._start()

    @property
    def slider(self) -> QSlider | None:
        return self._slider

    @property
    def spin(self) -> QSpinBox | QDoubleSpinBox:
        return self._spin

    def inputs(self) -> list[QWidget]:
        return [self._spin]

    def value(self) -> int | float:
        if self._int:
            return int(self._spin.value())
        return round(float(self._spin.value()), self.spec.decimals)

    def set_value(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        self._spin.setValue(round(value) if self._int else float(value))

    def value_at(self, tick: int) -> int | float:
        """The value a slider position stands for (the last tick is the maximum itself)."""
        if tick >= self._ticks:
            return self._high
        value = self._low + tick * self._tick
        return round(value) if self._int else round(value, self.spec.decimals)

    def tick_of(self, value: float) -> int:
        return max(0, min(self._ticks, round((value - self._low) / self._tick)))

    def _from_slider(self, tick: int) -> None:
        with QSignalBlocker(self._spin):
            self._spin.setValue(self.value_at(tick))
        self.changed.emit(self.value())

    def _from_spin(self, value: float) -> None:
        if self._slider is not None:
            with QSignalBlocker(self._slider):
                self._slider.setValue(self.tick_of(value))
        self.changed.emit(self.value())


class EnumEditor(Editor):
    """A combo box over the choices; the values live here, the combo shows labels."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self._values = [c.value for c in spec.choices]
        self._combo = QComboBox()
        self._combo.addItems([c.label for c in spec.choices])
        self._combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._combo.currentIndexChanged.connect(lambda _: self.changed.emit(self.value()))
        self.box.addWidget(self._combo)
        self.box.addStretch(1)
        self._guard_wheel(self._combo)
        self._start()

    @property
    def combo(self) -> QComboBox:
        return self._combo

    def inputs(self) -> list[QWidget]:
        return [self._combo]

    def value(self) -> Any:
        index = self._combo.currentIndex()
        return self._values[index] if 0 <= index < len(self._values) else None

    def set_value(self, value: Any) -> None:
        if fits(self.spec, value) and value is not None:
            index = next(
                i for i, v in enumerate(self._values) if type(v) is type(value) and v == value
            )
            self._combo.setCurrentIndex(index)


class BoolEditor(Editor):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self._check = QCheckBox()
        self._check.toggled.connect(lambda on: self.changed.emit(bool(on)))
        self.box.addWidget(self._check)
        self.box.addStretch(1)
        self._start()

    @property
    def check(self) -> QCheckBox:
        return self._check

    def inputs(self) -> list[QWidget]:
        return [self._check]

    def value(self) -> bool:
        return self._check.isChecked()

    def set_value(self, value: Any) -> None:
        if isinstance(value, bool):
            self._check.setChecked(value)


class TextEditor(Editor):
    """A line edit, or a few lines of plain text with the "multiline" hint.

    Every keystroke is a change: the form coalesces them, so a caption updates live.
    """

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self._text: QLineEdit | QPlainTextEdit = _text_box(spec.multiline)
        if isinstance(self._text, QLineEdit):
            if spec.max_length:
                self._text.setMaxLength(spec.max_length)
            self._text.textChanged.connect(lambda text: self.changed.emit(text))
        else:
            self._text.textChanged.connect(lambda: self.changed.emit(self.value()))
        self.box.addWidget(self._text)
        self._start()

    @property
    def text_box(self) -> QLineEdit | QPlainTextEdit:
        return self._text

    def inputs(self) -> list[QWidget]:
        return [self._text]

    def value(self) -> str:
        return _text_of(self._text)

    def set_value(self, value: Any) -> None:
        if isinstance(value, str) and value != self.value():
            _set_text(self._text, value)


class JsonEditor(Editor):
    """Any value the form has no widget for, edited as JSON text.

    Text that does not parse is marked here and never sent: ``value()`` stays the last
    valid value, and the mark clears as soon as the text parses again.
    """

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self._value: Any = None
        self._invalid: str | None = None
        self._text: QLineEdit | QPlainTextEdit = _text_box(spec.multiline)
        self._text.setPlaceholderText('JSON, e.g. [1, 2] or {"a": 1}')
        if isinstance(self._text, QLineEdit):
            self._text.textChanged.connect(lambda _: self._parse())
        else:
            self._text.textChanged.connect(self._parse)
        self.box.addWidget(self._text)
        self.set_value(spec.default)

    @property
    def text_box(self) -> QLineEdit | QPlainTextEdit:
        return self._text

    @property
    def invalid(self) -> str | None:
        """Why the text is not JSON, or None when it parses."""
        return self._invalid

    def inputs(self) -> list[QWidget]:
        return [self._text]

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return
        if self._invalid is None and value == self._value and _text_of(self._text):
            return  # same value: keep the user's own formatting
        self._value = value
        _set_text(self._text, text)

    def set_error(self, message: str | None) -> None:
        super().set_error(message)
        self._show()

    def _parse(self) -> None:
        text = _text_of(self._text).strip()
        try:
            value = json.loads(text) if text else None
        except json.JSONDecodeError as exc:
            self._invalid = f"Not valid JSON: {exc.msg} (column {exc.colno})"
            self._show()
            return
        self._invalid = None
        self._show()
        if value != self._value or type(value) is not type(self._value):
            self._value = value
            self.changed.emit(value)

    def _show(self) -> None:
        _outline(self._text, self._invalid or self._error)


class GroupEditor(Editor):
    """A nested model: a titled box holding a form of its own fields.

    The header line shows the model's description (or a validator message in red) and
    holds the row's "none" toggle and reset button, so the box needs no label beside it.
    """

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self._box = QGroupBox(spec.title)
        inner = QVBoxLayout(self._box)
        inner.setContentsMargins(10, 6, 10, 8)
        inner.setSpacing(6)
        self.header = QHBoxLayout()
        self.header.setSpacing(6)
        self._note = QLabel(spec.description)
        self._note.setWordWrap(True)
        self._note.setStyleSheet("color: palette(placeholder-text);")
        self._note.setVisible(bool(spec.description))
        self.header.addWidget(self._note, 1)
        inner.addLayout(self.header)
        self.panel = FieldsPanel(list(spec.children))
        self.panel.changed.connect(lambda: self.changed.emit(self.value()))
        self.panel.settled.connect(self.settled)
        inner.addWidget(self.panel)
        self.box.addWidget(self._box)

    @property
    def group_box(self) -> QGroupBox:
        return self._box

    def inputs(self) -> list[QWidget]:
        return [self.panel]

    def value(self) -> dict[str, Any]:
        return self.panel.values()

    def set_value(self, value: Any) -> None:
        if isinstance(value, dict):
            self.panel.set_values(value)

    def reset(self) -> None:
        self.panel.reset_all()

    def set_editable(self, editable: bool) -> None:
        """Only the fields: the header keeps the "none" toggle and reset button usable."""
        self.panel.setEnabled(editable)

    def set_error(self, message: str | None) -> None:
        self._error = message
        self._note.setText(message or self.spec.description)
        self._note.setStyleSheet(
            f"color: {ERROR_COLOUR};" if message else "color: palette(placeholder-text);"
        )
        self._note.setVisible(bool(message or self.spec.description))


#: Kind -> editor class: the widget side of ``schema.KIND_RULES``.
EDITORS: dict[str, type[Editor]] = {
    "float": NumberEditor,
    "int": NumberEditor,
    "enum": EnumEditor,
    "bool": BoolEditor,
    "str": TextEditor,
    "json": JsonEditor,
    "group": GroupEditor,
}


class FieldRow(QWidget):
    """One field as the form shows it: editor, optional "none" toggle, reset button.

    ``label`` is placed by the panel in its label column (a group needs none: its box is
    titled). ``set_value`` emits ``changed`` once, and only when the value really changed.
    """

    changed = Signal(object)
    settled = Signal()

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._error: str | None = None
        self.editor = EDITORS[spec.kind](spec)
        self.label: QLabel | None = None
        if spec.kind != "group":
            self.label = QLabel(spec.title, self)  # the panel's layout takes it over
            self.label.setToolTip(spec.description)
            self.label.setBuddy(self.editor.inputs()[0])
        self.none_box: QCheckBox | None = None
        if spec.nullable:
            self.none_box = QCheckBox("none")
            self.none_box.setToolTip("No value: the pipeline gets None")
            self.none_box.toggled.connect(self._on_none)
        self.reset_button = QToolButton()
        self.reset_button.setText("↺")
        self.reset_button.setAutoRaise(True)
        self.reset_button.setToolTip(f"Reset to the default ({_show(spec.default)})")
        self.reset_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reset_button.clicked.connect(self._on_reset)
        self._lay_out()
        self.editor.changed.connect(self._on_edit)
        self.editor.settled.connect(self.settled)
        self.set_value(spec.default)

    def _lay_out(self) -> None:
        extras = [w for w in (self.none_box, self.reset_button) if w is not None]
        if isinstance(self.editor, GroupEditor):
            layout: QHBoxLayout | QVBoxLayout = QVBoxLayout(self)
            for widget in extras:
                self.editor.header.addWidget(widget, 0, Qt.AlignmentFlag.AlignTop)
        else:
            layout = QHBoxLayout(self)
            layout.setSpacing(4)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor, 1)
        if isinstance(layout, QHBoxLayout):
            for widget in extras:
                layout.addWidget(widget)

    @property
    def error(self) -> str | None:
        """The validator's message shown on this field, if any."""
        return self._error

    def is_none(self) -> bool:
        return self.none_box is not None and self.none_box.isChecked()

    def value(self) -> Any:
        return None if self.is_none() else self.editor.value()

    def set_value(self, value: Any) -> None:
        before = self.value()
        with QSignalBlocker(self.editor):
            if value is None and self.none_box is not None:
                with QSignalBlocker(self.none_box):
                    self.none_box.setChecked(True)
            elif value is not None:
                if self.none_box is not None:
                    with QSignalBlocker(self.none_box):
                        self.none_box.setChecked(False)
                self.editor.set_value(value)
        self.editor.set_editable(not self.is_none())
        after = self.value()
        if after != before or type(after) is not type(before):
            self.changed.emit(after)

    def reset(self) -> None:
        self.set_value(self.spec.default)

    def accepts(self, value: Any) -> bool:
        return fits(self.spec, value)

    def set_error(self, message: str | None) -> None:
        self._error = message
        self.editor.set_error(message)
        if self.label is not None:
            self.label.setStyleSheet(f"color: {ERROR_COLOUR};" if message else "")
            tip = "\n\n".join(t for t in (self.spec.description, message) if t)
            self.label.setToolTip(tip)

    def _on_edit(self, _: Any) -> None:
        if not self.is_none():
            self.changed.emit(self.value())

    def _on_none(self, checked: bool) -> None:
        self.editor.set_editable(not checked)
        self.changed.emit(self.value())
        self.settled.emit()

    def _on_reset(self) -> None:
        self.reset()
        self.settled.emit()


class FieldsPanel(QWidget):
    """Rows for a list of fields: untitled runs and ``group``-hint boxes, labels aligned.

    Hidden fields get rows too (kept out of the layout and never shown), so their values
    are reset, set and reported like any other.
    """

    changed = Signal()
    settled = Signal()

    def __init__(self, specs: list[FieldSpec], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[str, FieldRow] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        labels: list[QLabel] = []
        for title, members in sections(specs):
            form = _form_layout()
            if title is None:
                layout.addLayout(form)
            else:
                box = QGroupBox(title)
                box.setLayout(form)
                form.setContentsMargins(10, 8, 10, 8)
                layout.addWidget(box)
            for spec in members:
                row = self._add(spec)
                if row.label is None:
                    form.addRow(row)
                else:
                    form.addRow(row.label, row)
                    labels.append(row.label)
        for spec in specs:
            if spec.hidden:
                self._add(spec).hide()
        self.rows = {spec.key: self.rows[spec.key] for spec in specs}
        width = max((label.sizeHint().width() for label in labels), default=0)
        for label in labels:  # one label column across the untitled runs and the boxes
            label.setMinimumWidth(width)

    def _add(self, spec: FieldSpec) -> FieldRow:
        row = FieldRow(spec, self)
        row.changed.connect(self.changed)
        row.settled.connect(self.settled)
        self.rows[spec.key] = row
        return row

    def values(self) -> dict[str, Any]:
        return {key: row.value() for key, row in self.rows.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            row = self.rows.get(key)
            if row is not None:
                row.set_value(value)

    def reset_all(self) -> None:
        for row in self.rows.values():
            row.reset()

    def find(self, path: tuple[str, ...]) -> tuple[FieldRow | None, tuple[str, ...]]:
        """The deepest row along ``path`` and the part of the path below it."""
        row = self.rows.get(path[0]) if path else None
        if row is None:
            return None, path
        rest = path[1:]
        if rest and isinstance(row.editor, GroupEditor):
            inner, below = row.editor.panel.find(rest)
            if inner is not None:
                return inner, below
        return row, rest

    def all_rows(self) -> list[FieldRow]:
        """Every row, nested ones included, depth first."""
        out: list[FieldRow] = []
        for row in self.rows.values():
            out.append(row)
            if isinstance(row.editor, GroupEditor):
                out.extend(row.editor.panel.all_rows())
        return out


def _form_layout() -> QFormLayout:
    form = QFormLayout()
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setHorizontalSpacing(12)
    form.setVerticalSpacing(6)
    return form


def _text_box(multiline: bool) -> QLineEdit | QPlainTextEdit:
    if not multiline:
        return QLineEdit()
    box = QPlainTextEdit()
    box.setTabChangesFocus(True)
    lines = box.fontMetrics().lineSpacing() * TEXT_LINES
    box.setFixedHeight(lines + 2 * box.frameWidth() + 8)
    return box


def _text_of(box: QLineEdit | QPlainTextEdit) -> str:
    return box.text() if isinstance(box, QLineEdit) else box.toPlainText()


def _set_text(box: QLineEdit | QPlainTextEdit, text: str) -> None:
    if isinstance(box, QLineEdit):
        box.setText(text)
    else:
        box.setPlainText(text)


def _outline(widget: QWidget, message: str | None) -> None:
    """Mark one input (or unmark it) and put the message in its tooltip.

    Text boxes get a red border; spin boxes, combos and check boxes a red tint instead,
    because a style-sheet border makes most styles drop their arrows and frames.
    """
    if isinstance(widget, QLineEdit | QPlainTextEdit):
        name = type(widget).__name__
        style = f"{name} {{ border: 1px solid {ERROR_COLOUR}; border-radius: 3px; }}"
        widget.setStyleSheet(style if message else "")
    elif message:
        palette = widget.palette()
        for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Button):
            palette.setColor(role, _tint(palette.color(role)))
        widget.setPalette(palette)
    else:
        widget.setPalette(QPalette())  # back to the inherited palette
    widget.setToolTip(message or "")


def _tint(colour: QColor, amount: float = 0.3) -> QColor:
    red = QColor(ERROR_COLOUR)
    pairs = zip(colour.getRgb()[:3], red.getRgb()[:3], strict=True)
    return QColor(*(round(a + (b - a) * amount) for a, b in pairs))


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
