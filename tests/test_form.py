"""The params form: schema reading (no Qt), each editor, and ParamsForm as the app uses it."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QPlainTextEdit

from studio.params import BaseParams, params_defaults, params_schema
from studio.spec import import_module
from studio.ui.form import ParamsForm
from studio.ui.form.form import NO_PARAMS
from studio.ui.form.schema import (
    FieldSpec,
    classify,
    fit_values,
    nice_step,
    parse_schema,
    sections,
)
from studio.ui.form.widgets import ERROR_COLOUR, JsonEditor, NumberEditor

REPO = Path(__file__).resolve().parent.parent


class Mode(Enum):
    FAST = "fast"
    SLOW = "slow"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Inner(BaseParams):
    """A nested model."""

    gain: float = Field(0.5, ge=0, le=1)
    label: str = "x"


class Sample(BaseParams):
    """One field of each kind the form knows, and a few it does not."""

    strength: float = Field(0.5, ge=0, le=1, description="How strong")
    count: int = Field(3, ge=1, le=10)
    scale: float = 1.0
    offset: int = -2
    fine: float = Field(0.3, ge=0, le=2, multiple_of=0.1)
    coarse: float = Field(10, ge=0, le=600)
    positive: float = Field(1.0, gt=0, lt=10)
    mode: Mode = Mode.FAST
    level: Level = Level.HIGH
    shape: Literal["circle", "square"] = "square"
    only: Literal["one"] = "one"
    enabled: bool = True
    name: str = Field("demo", max_length=20)
    notes: str = Field("", json_schema_extra={"widget": "multiline"})
    inner: Inner = Field(default_factory=Inner)
    maybe: int | None = Field(None, ge=0, le=5)
    maybe_inner: Inner | None = None
    points: list[int] = Field(default_factory=lambda: [1, 2])
    table: dict[str, float] = Field(default_factory=dict)
    either: int | str = 1
    pair: tuple[int, int] = (1, 2)
    forced: int = Field(4, json_schema_extra={"widget": "json"})
    secret: str = Field("s3cret", json_schema_extra={"hidden": True})


class Hinted(BaseParams):
    c: float = Field(0, json_schema_extra={"order": 2, "group": "B"})
    a: float = Field(0, json_schema_extra={"order": 0, "group": "A"})
    b: float = Field(0, ge=0, le=1, json_schema_extra={"order": 1, "step": 0.25})
    d: float = Field(0, json_schema_extra={"order": 3, "group": "A"})
    e: float = 0
    f: float = Field(0.5, ge=0, le=1, json_schema_extra={"widget": "spin"})


class Node(BaseModel):
    """Refers to itself: the form cannot nest it forever."""

    name: str = "root"
    child: Node | None = None


class Tree(BaseParams):
    root: Node = Field(default_factory=Node)


def specs_of(model: type[BaseModel]) -> dict[str, FieldSpec]:
    """Every field (nested ones too) by dotted name."""
    out: dict[str, FieldSpec] = {}

    def walk(specs: tuple[FieldSpec, ...] | list[FieldSpec]) -> None:
        for spec in specs:
            out[spec.name] = spec
            walk(spec.children)

    walk(parse_schema(params_schema(model), params_defaults(model)))
    return out


def build(qtbot, model: type[BaseModel], values: dict | None = None) -> ParamsForm:
    form = ParamsForm()
    qtbot.addWidget(form)
    form.set_schema(params_schema(model), params_defaults(model), values)
    return form


def record(form: ParamsForm) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    form.params_changed.connect(got.append)
    return got


def number(form: ParamsForm, name: str) -> NumberEditor:
    row = form.field(name)
    assert row is not None and isinstance(row.editor, NumberEditor)
    return row.editor


# -- schema: pure Python -------------------------------------------------------------------


def test_schema_module_does_not_import_qt():
    code = (
        "import sys, studio.ui.form.schema; "
        "sys.exit(any(m.startswith('PySide6') for m in sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_every_kind_is_classified():
    specs = specs_of(Sample)
    kinds = {name: spec.kind for name, spec in specs.items()}
    assert kinds == {
        "strength": "float",
        "count": "int",
        "scale": "float",
        "offset": "int",
        "fine": "float",
        "coarse": "float",
        "positive": "float",
        "mode": "enum",
        "level": "enum",
        "shape": "enum",
        "only": "enum",
        "enabled": "bool",
        "name": "str",
        "notes": "str",
        "inner": "group",
        "inner.gain": "float",
        "inner.label": "str",
        "maybe": "int",
        "maybe_inner": "group",
        "maybe_inner.gain": "float",
        "maybe_inner.label": "str",
        "points": "json",
        "table": "json",
        "either": "json",
        "pair": "json",
        "forced": "json",
        "secret": "str",
    }


def test_enum_and_literal_choices():
    specs = specs_of(Sample)
    assert [c.value for c in specs["mode"].choices] == ["fast", "slow"]
    assert [c.value for c in specs["level"].choices] == [1, 2]
    assert [c.label for c in specs["level"].choices] == ["1", "2"]
    assert [c.value for c in specs["shape"].choices] == ["circle", "square"]
    assert [c.value for c in specs["only"].choices] == ["one"]
    assert specs["mode"].default == "fast" and specs["level"].default == 2


def test_optional_is_flattened_to_nullable():
    specs = specs_of(Sample)
    maybe = specs["maybe"]
    assert maybe.nullable and maybe.default is None
    assert (maybe.minimum, maybe.maximum) == (0, 5)
    assert specs["maybe_inner"].nullable and specs["maybe_inner"].default is None
    assert not specs["strength"].nullable


def test_bounds_and_steps():
    specs = specs_of(Sample)
    assert specs["strength"].step == 0.01 and specs["strength"].slider
    assert specs["count"].step == 1 and isinstance(specs["count"].minimum, int)
    assert specs["fine"].step == 0.1  # multipleOf
    assert specs["coarse"].step == 5  # 600 / 100, a nice value
    positive = specs["positive"]  # exclusive bounds move in by the smallest shown step
    assert (positive.minimum, positive.maximum, positive.decimals) == (0.1, 9.9, 1)
    assert not specs["scale"].bounded and not specs["scale"].slider
    assert specs["scale"].step == 0.1 and specs["offset"].step == 1
    assert specs["name"].max_length == 20


def test_nice_step():
    assert [nice_step(s) for s in (1, 2, 6, 0.95, 600, 30)] == [0.01, 0.02, 0.05, 0.01, 5, 0.2]


def test_hints_order_group_step_widget_hidden_multiline():
    specs = specs_of(Hinted)
    assert [s.key for s in parse_schema(params_schema(Hinted))] == ["a", "e", "f", "b", "c", "d"]
    layout = [(title, [s.key for s in members]) for title, members in sections(specs.values())]
    assert layout == [("A", ["a", "d"]), (None, ["e", "f", "b"]), ("B", ["c"])]
    assert specs["b"].step == 0.25 and specs["b"].decimals == 2
    assert specs["f"].bounded and not specs["f"].slider  # widget "spin"
    sample = specs_of(Sample)
    assert sample["notes"].multiline and sample["notes"].widget == "multiline"
    assert not sample["name"].multiline
    assert sample["secret"].hidden
    assert "secret" not in [s.key for _, members in sections(sample.values()) for s in members]


def test_titles_descriptions_and_defaults():
    specs = specs_of(Sample)
    assert specs["strength"].title == "Strength" and specs["strength"].description == "How strong"
    assert specs["inner"].description == "A nested model."
    assert specs["inner"].default == {"gain": 0.5, "label": "x"}  # from default_factory
    assert specs["inner.gain"].default == 0.5
    raw = {"properties": {"max_value": {"type": "number"}, "fooBar": {"type": "boolean"}}}
    titles = [s.title for s in parse_schema(raw)]
    assert titles == ["Max value", "Foo bar"]
    assert [s.default for s in parse_schema(raw)] == [0.0, False]  # required: empty values


def test_defaults_dict_wins_over_schema_defaults():
    schema = params_schema(Sample)
    specs = {s.key: s for s in parse_schema(schema, {"strength": 0.25, "inner": {"gain": 0.9}})}
    assert specs["strength"].default == 0.25
    assert specs["inner"].default == {"gain": 0.9, "label": "x"}


def test_recursive_model_becomes_json():
    specs = specs_of(Tree)
    assert specs["root"].kind == "group"
    assert specs["root.child"].kind == "json"


def test_one_table_classifies_fragments():
    assert classify({"type": "array", "items": {"type": "integer"}}) == "json"
    assert classify({"type": "object", "additionalProperties": {"type": "number"}}) == "json"
    assert classify({"type": "integer", "enum": [1, 2]}) == "enum"
    assert classify({"type": "string", "widget": "json"}) == "json"
    assert classify({}) == "json"


def test_fit_values_keeps_same_kind_only():
    class Old(BaseParams):
        a: float = Field(0.5, ge=0, le=1)
        b: float = 1.0
        c: Literal["x", "y"] = "x"
        gone: bool = False
        inner: Inner = Field(default_factory=Inner)

    class New(BaseParams):
        a: float = Field(0.5, ge=0, le=0.5)
        b: int = 1
        c: Literal["x", "y", "z"] = "x"
        inner: Inner = Field(default_factory=Inner)

    old, new = parse_schema(params_schema(Old)), parse_schema(params_schema(New))
    values = {"a": 0.4, "b": 2.0, "c": "y", "gone": True, "inner": {"gain": 0.7, "label": "q"}}
    kept, dropped = fit_values(new, values, previous=old)
    assert kept == {"a": 0.4, "c": "y", "inner": {"gain": 0.7, "label": "q"}}
    assert sorted(dropped) == ["b", "gone"]
    kept, dropped = fit_values(new, {"a": 0.9})
    assert kept == {} and dropped == ["a"]  # out of the new range


# -- editors ---------------------------------------------------------------------------------


def test_slider_and_spin_stay_in_sync(qtbot):
    form = build(qtbot, Sample)
    editor = number(form, "strength")
    assert editor.slider is not None and editor.slider.maximum() == 100
    editor.slider.setValue(25)
    assert editor.spin.value() == pytest.approx(0.25)
    assert form.values()["strength"] == 0.25
    editor.spin.setValue(0.8)
    assert editor.slider.value() == 80
    editor.spin.setValue(0.333)  # between ticks: the spin keeps it, the slider rounds
    assert editor.slider.value() == 33 and form.values()["strength"] == 0.33


def test_int_and_float_editors_keep_their_types_and_bounds(qtbot):
    form = build(qtbot, Sample)
    count = number(form, "count")
    assert count.slider is not None and count.slider.maximum() == 9
    count.slider.setValue(4)
    assert form.values()["count"] == 5 and isinstance(form.values()["count"], int)
    count.spin.setValue(50)
    assert form.values()["count"] == 10
    strength = number(form, "strength")
    strength.spin.setValue(5)
    assert form.values()["strength"] == 1.0 and isinstance(form.values()["strength"], float)
    fine = number(form, "fine")
    assert fine.slider is not None and fine.slider.maximum() == 20
    assert fine.spin.singleStep() == pytest.approx(0.1) and fine.spin.decimals() == 1
    fine.slider.setValue(7)
    assert form.values()["fine"] == 0.7
    assert number(form, "coarse").slider.maximum() == 120


def test_unbounded_numbers_get_a_wide_spin_box_only(qtbot):
    form = build(qtbot, Sample)
    scale, offset = number(form, "scale"), number(form, "offset")
    assert scale.slider is None and offset.slider is None
    assert scale.spin.maximum() >= 1e9 and scale.spin.minimum() <= -1e9
    offset.spin.setValue(-123456)
    assert form.values()["offset"] == -123456
    hinted = build(qtbot, Hinted)
    assert number(hinted, "f").slider is None and number(hinted, "b").slider is not None


def test_the_wheel_scrolls_past_unfocused_inputs(qtbot):
    form = build(qtbot, Sample)
    form.show()
    slider = number(form, "strength").slider

    def wheel() -> None:
        centre = QPointF(slider.rect().center())
        event = QWheelEvent(
            centre,
            slider.mapToGlobal(centre),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(slider, event)

    wheel()
    assert slider.value() == 50
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus)
    wheel()
    assert slider.value() != 50


def test_combo_check_and_text_editors(qtbot):
    form = build(qtbot, Sample)
    mode = form.field("mode").editor.combo
    assert [mode.itemText(i) for i in range(mode.count())] == ["fast", "slow"]
    mode.setCurrentIndex(1)
    level = form.field("level").editor.combo
    level.setCurrentIndex(0)
    form.field("enabled").editor.check.setChecked(False)
    name = form.field("name").editor.text_box
    assert isinstance(name, QLineEdit) and name.maxLength() == 20
    name.setText("hello")
    notes = form.field("notes").editor.text_box
    assert isinstance(notes, QPlainTextEdit)
    notes.setPlainText("line one\nline two")
    values = form.values()
    assert values["mode"] == "slow" and values["level"] == 1
    assert values["enabled"] is False
    assert values["name"] == "hello" and values["notes"] == "line one\nline two"


def test_groups_nest_and_values_are_nested(qtbot):
    form = build(qtbot, Sample)
    inner = form.field("inner")
    assert inner.label is None and inner.editor.group_box.title() == "Inner"
    number(form, "inner.gain").slider.setValue(90)
    form.field("inner.label").editor.text_box.setText("y")
    assert form.values()["inner"] == {"gain": 0.9, "label": "y"}
    form.set_values({"inner": {"gain": 0.1}})
    assert form.values()["inner"] == {"gain": 0.1, "label": "y"}


def test_nullable_fields_have_a_none_toggle(qtbot):
    form = build(qtbot, Sample)
    got = record(form)
    maybe = form.field("maybe")
    assert maybe.none_box is not None and maybe.none_box.isChecked()
    assert form.values()["maybe"] is None and not maybe.editor.isEnabled()
    maybe.none_box.setChecked(False)
    assert form.values()["maybe"] == 0 and maybe.editor.isEnabled()
    assert got[-1]["maybe"] == 0
    number(form, "maybe").spin.setValue(4)
    maybe.none_box.setChecked(True)
    assert form.values()["maybe"] is None
    form.set_values({"maybe": 3})
    assert form.values()["maybe"] == 3 and not maybe.none_box.isChecked()
    group = form.field("maybe_inner")
    assert form.values()["maybe_inner"] is None
    assert group.none_box.isEnabled() and not group.editor.panel.isEnabled()
    group.none_box.setChecked(False)
    assert group.editor.panel.isEnabled()
    assert form.values()["maybe_inner"] == {"gain": 0.5, "label": "x"}


def test_json_fields_round_trip_and_mark_bad_json(qtbot):
    form = build(qtbot, Sample)
    got = record(form)
    editor = form.field("points").editor
    assert isinstance(editor, JsonEditor)
    assert editor.text_box.text() == "[1, 2]"
    assert form.values()["table"] == {} and form.values()["pair"] == [1, 2]
    editor.text_box.setText("[3, ")
    assert editor.invalid is not None and ERROR_COLOUR in editor.text_box.styleSheet()
    assert form.values()["points"] == [1, 2] and got == []
    editor.text_box.setText("[3, 4]")
    assert editor.invalid is None and editor.text_box.styleSheet() == ""
    assert got[-1]["points"] == [3, 4]
    assert form.values()["forced"] == 4 and form.values()["either"] == 1


def test_hidden_fields_keep_their_values(qtbot):
    form = build(qtbot, Sample)
    form.show()
    row = form.field("secret")
    assert row is not None and not row.isVisibleTo(form)
    assert form.values()["secret"] == "s3cret"
    form.set_values({"secret": "other"})
    assert form.values()["secret"] == "other"
    form.reset_all()
    assert form.values()["secret"] == "s3cret"


def test_reset_one_field_and_reset_all(qtbot):
    form = build(qtbot, Sample)
    defaults = params_defaults(Sample)
    assert form.values() == defaults
    got = record(form)
    number(form, "strength").slider.setValue(10)
    form.field("mode").editor.combo.setCurrentIndex(1)
    number(form, "inner.gain").spin.setValue(0.2)
    form.field("strength").reset_button.click()
    assert form.values()["strength"] == 0.5 and got[-1]["strength"] == 0.5
    assert form.values()["mode"] == "slow"
    form.field("inner").reset_button.click()
    assert form.values()["inner"] == defaults["inner"]
    qtbot.waitUntil(lambda: form.idle)
    got.clear()
    form.reset_all()
    assert form.values() == defaults
    assert len(got) == 1 and got[0] == defaults  # one update, not one per field


def test_set_values_is_one_silent_update(qtbot):
    form = build(qtbot, Sample)
    got = record(form)
    form.set_values({"strength": 0.2, "count": 7, "mode": "slow", "inner": {"gain": 0.3}})
    assert got == [] and form.idle
    values = form.values()
    assert (values["strength"], values["count"], values["mode"]) == (0.2, 7, "slow")
    form.set_values({"count": 8}, emit=True)
    assert len(got) == 1 and got[0]["count"] == 8


def test_errors_mark_fields_and_clear(qtbot):
    form = build(qtbot, Sample)
    form.set_errors(
        [
            {"field": "strength", "message": "Input should be less than or equal to 1"},
            {"field": "inner.gain", "message": "too high"},
            {"field": "points.1", "message": "not an int"},
            {"field": "inner", "message": "bad combination"},
            {"field": "nope", "message": "Extra inputs are not permitted"},
            {"field": "secret", "message": "hidden and wrong"},
            {"field": "(params)", "message": "model check failed"},
        ]
    )
    strength = form.field("strength")
    assert strength.error == "Input should be less than or equal to 1"
    assert ERROR_COLOUR in strength.label.styleSheet()
    assert "less than or equal" in strength.label.toolTip()
    assert strength.editor.spin.toolTip() == strength.error
    assert form.field("inner.gain").error == "too high"
    assert form.field("points").error == "1: not an int"
    assert form.field("inner").error == "bad combination"
    assert form.field("count").error is None
    assert form.form_errors.splitlines() == [
        "nope: Extra inputs are not permitted",
        "secret: hidden and wrong",
        "model check failed",
    ]
    form.clear_errors()
    assert all(form.field(n).error is None for n in ("strength", "inner.gain", "points", "inner"))
    assert strength.label.styleSheet() == "" and form.form_errors == ""
    assert strength.label.toolTip() == "How strong"


# -- coalescing ------------------------------------------------------------------------------


def test_rapid_changes_are_coalesced_and_the_last_value_arrives(qtbot):
    form = build(qtbot, Sample)
    got = record(form)
    slider = number(form, "strength").slider
    slider.setSliderDown(True)
    for tick in range(1, 101):
        slider.setValue(tick)
    qtbot.waitUntil(lambda: bool(got) and got[-1]["strength"] == 1.0)
    qtbot.waitUntil(lambda: form.idle)
    assert len(got) == 2  # the first change at once, then the latest when the window closes
    assert got[0]["strength"] == 0.01


def test_release_sends_the_final_value_at_once(qtbot):
    form = build(qtbot, Sample)
    got = record(form)
    slider = number(form, "count").slider
    slider.setSliderDown(True)
    for tick in range(10):
        slider.setValue(tick)
    assert len(got) == 1
    slider.setSliderDown(False)  # emits sliderReleased
    assert len(got) == 2 and got[-1]["count"] == 10
    qtbot.waitUntil(lambda: form.idle)
    assert len(got) == 2


def test_a_drag_sends_at_most_one_update_per_interval(qtbot):
    form = build(qtbot, Sample)
    stamps: list[float] = []
    got = record(form)
    form.params_changed.connect(lambda _: stamps.append(time.monotonic()))
    slider = number(form, "strength").slider
    slider.setSliderDown(True)
    ticks = iter(range(1, 61))
    driver = QTimer()
    driver.setInterval(4)

    def step() -> None:
        tick = next(ticks, None)
        if tick is None:
            driver.stop()
        else:
            slider.setValue(tick)

    driver.timeout.connect(step)
    driver.start()
    qtbot.waitUntil(lambda: not driver.isActive(), timeout=10_000)
    qtbot.waitUntil(lambda: form.idle)
    assert got[-1]["strength"] == 0.6
    assert len(got) < 30
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(gap >= 0.04 for gap in gaps), gaps


# -- building and rebuilding -----------------------------------------------------------------


def test_rebuild_keeps_compatible_values_and_drops_the_rest(qtbot):
    class V1(BaseParams):
        strength: float = Field(0.5, ge=0, le=1)
        count: int = Field(3, ge=1, le=10)
        mode: Literal["a", "b"] = "a"
        removed: bool = False
        inner: Inner = Field(default_factory=Inner)

    class V2(BaseParams):
        strength: float = Field(0.5, ge=0, le=1)
        count: float = Field(3.0, ge=1, le=10)
        mode: Literal["a", "c"] = "a"
        added: str = "new"
        inner: Inner = Field(default_factory=Inner)

    form = build(qtbot, V1)
    got = record(form)
    form.set_values({"strength": 0.8, "count": 7, "mode": "b", "removed": True})
    number(form, "inner.gain").spin.setValue(0.25)
    qtbot.waitUntil(lambda: form.idle)
    got.clear()
    dropped = form.set_schema(params_schema(V2), params_defaults(V2))
    assert form.values() == {
        "strength": 0.8,
        "count": 3.0,
        "mode": "a",
        "added": "new",
        "inner": {"gain": 0.25, "label": "x"},
    }
    assert sorted(dropped) == ["count", "mode", "removed"]
    assert got == []
    assert number(form, "count").spin.decimals() >= 1  # rebuilt as a float field


def test_same_schema_keeps_the_widgets(qtbot):
    form = build(qtbot, Sample)
    row = form.field("strength")
    form.set_schema(params_schema(Sample), params_defaults(Sample), {"strength": 0.75})
    assert form.field("strength") is row and form.values()["strength"] == 0.75


def test_explicit_values_win_on_build(qtbot):
    form = build(qtbot, Sample, values={"count": 9, "mode": "slow", "shape": "hexagon"})
    values = form.values()
    assert (values["count"], values["mode"], values["shape"]) == (9, "slow", "square")


def test_a_pipeline_without_params_says_so(qtbot):
    class Empty(BaseParams):
        pass

    form = build(qtbot, Empty)
    form.show()
    labels = [lb for lb in form.findChildren(QLabel) if lb.text() == NO_PARAMS]
    assert len(labels) == 1 and labels[0].isVisibleTo(form)
    assert form.values() == {} and form.field("anything") is None
    form.set_schema(params_schema(Sample), params_defaults(Sample))
    assert not labels[0].isVisibleTo(form) and form.values() == params_defaults(Sample)
    form.set_schema({}, {})
    assert labels[0].isVisibleTo(form) and form.values() == {}
    form.set_schema(params_schema(Sample), params_defaults(Sample))
    form.clear()
    assert labels[0].isVisibleTo(form) and labels[0].text() != NO_PARAMS
    assert form.values() == {} and form.specs == []


# -- the bundled pipelines -------------------------------------------------------------------


@pytest.fixture(scope="module")
def color_grade():
    return import_module("color_grade", str(REPO / "pipelines" / "color_grade.py"))


def test_color_grade_fields_have_the_right_kinds(qtbot, color_grade):
    model = color_grade.GradeParams
    form = build(qtbot, model)
    kinds = {
        "exposure": "float",
        "contrast": "float",
        "saturation": "float",
        "look": "enum",
        "posterize": "int",
        "vignette": "group",
        "vignette.strength": "float",
        "vignette.radius": "float",
        "caption": "str",
        "compare": "enum",
        "show_clipping": "bool",
    }
    for name, kind in kinds.items():
        row = form.field(name)
        assert row is not None, name
        assert row.spec.kind == kind, name
    assert form.values() == params_defaults(model)
    assert [s.key for s in form.specs] == list(model.model_fields)  # ordered by "order"
    assert number(form, "exposure").slider is not None
    assert number(form, "vignette.radius").spin.singleStep() == pytest.approx(0.05)
    assert form.field("posterize").spec.nullable and form.values()["posterize"] is None
    assert form.field("caption").spec.multiline
    combo = form.field("compare").editor.combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        e.value for e in color_grade.Compare
    ]


def test_edge_detect_fields(qtbot):
    module = import_module("edge_detect", str(REPO / "pipelines" / "edge_detect.py"))
    form = build(qtbot, module.EdgeParams)
    threshold = number(form, "threshold")
    assert threshold.slider is not None and threshold.slider.maximum() == 100
    threshold.slider.setValue(40)
    assert form.values() == {"threshold": 0.4, "colorize": False}
