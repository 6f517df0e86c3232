"""A params JSON schema read as a list of form fields, without Qt.

The app never imports the user's model: it gets ``model_json_schema(mode="validation")``
output plus the defaults, and must decide from them alone which widget shows each field.
Everything here is pure Python so that decision is unit-tested without a display.

A property is first flattened (``$ref`` resolved, ``allOf`` of one unwrapped, ``X | None``
turned into X with ``nullable``), then classified by :data:`KIND_RULES`, the one table
that maps schema fragments to kinds. Whatever no rule claims is kind ``"json"`` (a JSON
text field), so no parameter is ever dropped from the form.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Kind = Literal["float", "int", "enum", "bool", "str", "group", "json"]

#: Values of the ``widget`` hint (see :mod:`studio.params`).
WIDGETS = ("slider", "spin", "combo", "check", "text", "multiline", "json")


def _is_union(s: dict[str, Any]) -> bool:
    return "anyOf" in s or "oneOf" in s or "$ref" in s or isinstance(s.get("type"), list)


#: Schema fragment -> kind, first match wins; no match means "json". To support a new kind,
#: add a rule here and an editor for it in ``widgets.EDITORS``.
KIND_RULES: list[tuple[Kind, Callable[[dict[str, Any]], bool]]] = [
    ("json", lambda s: s.get("widget") == "json" or _is_union(s)),
    ("enum", lambda s: "enum" in s or "const" in s),
    ("bool", lambda s: s.get("type") == "boolean"),
    ("int", lambda s: s.get("type") == "integer"),
    ("float", lambda s: s.get("type") == "number"),
    ("str", lambda s: s.get("type") == "string"),
    ("group", lambda s: s.get("type") == "object" and isinstance(s.get("properties"), dict)),
]

#: Spin box limits for a number with no bound on that side (QSpinBox is 32-bit).
INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e9
MAX_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class Choice:
    """One entry of a combo box: the value sent to the pipeline and the text shown."""

    value: Any
    label: str


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Everything the form needs to show one parameter, read from its schema fragment.

    ``default`` is always a usable value of the kind (or None when ``nullable``): the
    defaults dict wins over the schema's ``default``, and a field with neither gets an
    empty value (the minimum, the first choice, ``""``...), so every editor starts valid.
    """

    key: str
    path: tuple[str, ...]
    kind: Kind
    title: str
    description: str = ""
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    decimals: int = 0
    choices: tuple[Choice, ...] = ()
    nullable: bool = False
    widget: str | None = None
    order: float = 0
    group: str | None = None
    hidden: bool = False
    max_length: int | None = None
    children: tuple[FieldSpec, ...] = ()
    fragment: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The dotted path, as validation errors name the field (``"vignette.radius"``)."""
        return ".".join(self.path)

    @property
    def multiline(self) -> bool:
        return self.widget == "multiline"

    @property
    def bounded(self) -> bool:
        return self.minimum is not None and self.maximum is not None

    @property
    def slider(self) -> bool:
        """A slider goes beside the spin box when both bounds are known (unless "spin")."""
        return self.kind in ("int", "float") and self.bounded and self.widget != "spin"

    def child(self, key: str) -> FieldSpec | None:
        return next((c for c in self.children if c.key == key), None)


_MISSING: Any = object()


def parse_schema(
    schema: dict[str, Any] | None, defaults: dict[str, Any] | None = None
) -> list[FieldSpec]:
    """The top-level fields of a params schema, in display order.

    ``defaults`` (``params_defaults`` output) overrides each field's schema default; it is
    also how a nested model built by ``default_factory`` (no schema default) gets its own.
    """
    if not schema:
        return []
    body, _, seen = _flatten(schema, schema, ())
    return _fields(schema, body, (), defaults if isinstance(defaults, dict) else {}, seen)


def sort_fields(specs: Iterable[FieldSpec]) -> list[FieldSpec]:
    """By the ``order`` hint (a missing one counts as 0), then in declaration order."""
    return sorted(specs, key=lambda s: s.order)


def sections(specs: Iterable[FieldSpec]) -> list[tuple[str | None, list[FieldSpec]]]:
    """Visible fields split by the ``group`` hint: ``[(title or None, fields), ...]``.

    A titled section sits where its first field would; ungrouped fields between sections
    form untitled runs. Hidden fields are left out (they have no row to show).
    """
    out: list[tuple[str | None, list[FieldSpec]]] = []
    titled: dict[str, list[FieldSpec]] = {}
    for spec in sort_fields(specs):
        if spec.hidden:
            continue
        if spec.group is None:
            if not out or out[-1][0] is not None:
                out.append((None, []))
            out[-1][1].append(spec)
        elif spec.group in titled:
            titled[spec.group].append(spec)
        else:
            titled[spec.group] = [spec]
            out.append((spec.group, titled[spec.group]))
    return out


def default_values(specs: Iterable[FieldSpec]) -> dict[str, Any]:
    """Every field's default, nested dicts for groups (what "reset all" returns to)."""
    return {s.key: _copy(s.default) for s in specs}


def fits(spec: FieldSpec, value: Any) -> bool:
    """Whether ``value`` can be shown by this field's editor as it is (no clamping)."""
    if value is None:
        return spec.nullable or spec.kind == "json"
    match spec.kind:
        case "float" | "int":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if spec.kind == "int" and not float(value).is_integer():
                return False
            return (spec.minimum is None or value >= spec.minimum) and (
                spec.maximum is None or value <= spec.maximum
            )
        case "enum":
            return any(_same(c.value, value) for c in spec.choices)
        case "bool":
            return isinstance(value, bool)
        case "str":
            return isinstance(value, str)
        case "group":
            return isinstance(value, dict)
    return True


def fit_values(
    specs: Iterable[FieldSpec],
    values: dict[str, Any],
    previous: Iterable[FieldSpec] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The part of ``values`` these fields can show, and the dotted names left out.

    With ``previous`` (the fields ``values`` came from, before a hot reload) a value is
    kept only where the field kept its kind too: a float turned int, or a str turned enum,
    starts again from its default rather than from a reinterpreted value.
    """
    return _fit(list(specs), values, None if previous is None else list(previous), ())


def _fit(
    specs: list[FieldSpec],
    values: dict[str, Any],
    previous: list[FieldSpec] | None,
    path: tuple[str, ...],
) -> tuple[dict[str, Any], list[str]]:
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    by_key = {s.key: s for s in specs}
    old = None if previous is None else {s.key: s for s in previous}
    for key, value in values.items():
        name = ".".join((*path, key))
        spec = by_key.get(key)
        before = None if old is None else old.get(key)
        if spec is None or (old is not None and (before is None or before.kind != spec.kind)):
            dropped.append(name)
        elif spec.kind == "group" and isinstance(value, dict):
            children = None if before is None else list(before.children)
            kept[key], lost = _fit(list(spec.children), value, children, (*path, key))
            dropped.extend(lost)
        elif fits(spec, value):
            kept[key] = _copy(value)
        else:
            dropped.append(name)
    return kept, dropped


def humanise(key: str) -> str:
    """``"show_clipping"`` -> ``"Show clipping"``, ``"maxValue"`` -> ``"Max value"``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").replace("-", " ")
    text = " ".join(words.split()).lower()
    return text[:1].upper() + text[1:]


def nice_step(span: float) -> float:
    """About a hundredth of ``span``, rounded to 1, 2 or 5 times a power of ten."""
    if not math.isfinite(span) or span <= 0:
        return 0.1
    raw = span / 100
    power = 10.0 ** math.floor(math.log10(raw))
    mantissa = raw / power
    nice = 1 if mantissa < 1.5 else 2 if mantissa < 3.5 else 5 if mantissa < 7.5 else 10
    return float(f"{nice * power:.12g}")


def decimals_for(*numbers: float | None) -> int:
    """Decimal places that show each number exactly (capped), at least one for a float."""
    places = 1
    for x in numbers:
        if x is None or isinstance(x, bool) or not math.isfinite(x):
            continue
        text = f"{x:.{MAX_DECIMALS}f}".rstrip("0")
        places = max(places, len(text) - text.index(".") - 1)
    return min(places, MAX_DECIMALS)


def empty_value(spec: FieldSpec) -> Any:
    """What an editor shows when there is no value: the lowest valid one of its kind."""
    match spec.kind:
        case "float" | "int":
            zero = 0 if spec.kind == "int" else 0.0
            if spec.minimum is not None and zero < spec.minimum:
                return spec.minimum
            if spec.maximum is not None and zero > spec.maximum:
                return spec.maximum
            return zero
        case "enum":
            return spec.choices[0].value if spec.choices else None
        case "bool":
            return False
        case "str":
            return ""
        case "group":
            return default_values(spec.children)
    return None


# -- flattening -----------------------------------------------------------------------------


def _flatten(
    root: dict[str, Any], fragment: dict[str, Any], seen: tuple[str, ...]
) -> tuple[dict[str, Any], bool, tuple[str, ...]]:
    """Resolve refs and peel ``null`` off unions: (plain fragment, nullable, refs followed).

    Keys beside a ``$ref`` (hints, default, description) win over the target's, since
    that is where pydantic puts a field's own settings. A ref already being followed
    (a recursive model) is left as a ref, so the field becomes "json".
    """
    frag = dict(fragment)
    nullable = False
    while True:
        if "$ref" in frag:
            ref = frag["$ref"]
            target = _lookup(root, ref)
            if ref in seen or target is None:
                return frag, nullable, seen  # left as a ref: classified "json"
            seen = (*seen, frag.pop("$ref"))
            frag = {**target, **frag}
            continue
        if isinstance(frag.get("allOf"), list) and len(frag["allOf"]) == 1:
            frag = {**frag.pop("allOf")[0], **frag}
            continue
        union = next((k for k in ("anyOf", "oneOf") if isinstance(frag.get(k), list)), None)
        if union is not None:
            options = [o for o in frag[union] if not _is_null(o)]
            nullable = nullable or len(options) < len(frag[union])
            if len(options) == 1:
                del frag[union]
                frag = {**options[0], **frag}
                continue
            literals = [_literal_values(root, o) for o in options]
            if options and all(v is not None for v in literals):
                del frag[union]
                frag["enum"] = [v for values in literals for v in values or ()]
                continue
            frag[union] = options
        if isinstance(frag.get("type"), list):
            types = [t for t in frag["type"] if t != "null"]
            nullable = nullable or len(types) < len(frag["type"])
            frag["type"] = types[0] if len(types) == 1 else types
        if isinstance(frag.get("enum"), list) and None in frag["enum"]:
            frag["enum"] = [v for v in frag["enum"] if v is not None]
            nullable = True
        return frag, nullable, seen


def _lookup(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    """A local JSON pointer (``#/$defs/Name``); None for anything else."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None


def _is_null(fragment: dict[str, Any]) -> bool:
    return fragment.get("type") == "null" or ("const" in fragment and fragment["const"] is None)


def _literal_values(root: dict[str, Any], fragment: dict[str, Any]) -> list[Any] | None:
    """The values of a ``const``/``enum`` fragment (a Literal or an Enum), else None."""
    frag, _, _ = _flatten(root, fragment, ()) if "$ref" in fragment else (fragment, False, ())
    if "const" in frag:
        return [frag["const"]]
    if isinstance(frag.get("enum"), list):
        return list(frag["enum"])
    return None


# -- classification -------------------------------------------------------------------------


def classify(fragment: dict[str, Any]) -> Kind:
    """The kind of a flattened fragment: the first matching :data:`KIND_RULES` entry."""
    return next((kind for kind, rule in KIND_RULES if rule(fragment)), "json")


def _fields(
    root: dict[str, Any],
    body: dict[str, Any],
    path: tuple[str, ...],
    defaults: dict[str, Any],
    seen: tuple[str, ...],
) -> list[FieldSpec]:
    props = body.get("properties")
    if not isinstance(props, dict):
        return []
    specs = [
        _field(root, key, frag, (*path, key), defaults.get(key, _MISSING), seen)
        for key, frag in props.items()
        if isinstance(frag, dict)
    ]
    return sort_fields(specs)


def _field(
    root: dict[str, Any],
    key: str,
    fragment: dict[str, Any],
    path: tuple[str, ...],
    given: Any,
    seen: tuple[str, ...],
) -> FieldSpec:
    frag, nullable, seen = _flatten(root, fragment, seen)
    kind = classify(frag)
    widget = frag.get("widget") if frag.get("widget") in WIDGETS else None
    default = given if given is not _MISSING else frag.get("default", _MISSING)
    order = frag.get("order", 0)
    spec = FieldSpec(
        key=key,
        path=path,
        kind=kind,
        title=str(fragment.get("title") or humanise(key)),
        description=str(frag.get("description") or ""),
        nullable=nullable,
        widget=widget,
        order=order if isinstance(order, int | float) and not isinstance(order, bool) else 0,
        group=str(frag["group"]) if frag.get("group") not in (None, "") else None,
        hidden=bool(frag.get("hidden", False)),
        fragment=frag,
        **_details(root, kind, frag, default, path, seen),
    )
    return _with_default(spec, default)


def _details(
    root: dict[str, Any],
    kind: Kind,
    frag: dict[str, Any],
    default: Any,
    path: tuple[str, ...],
    seen: tuple[str, ...],
) -> dict[str, Any]:
    """The kind-specific parts of a FieldSpec: bounds and step, choices, children."""
    match kind:
        case "int" | "float":
            return _number(kind, frag, default)
        case "enum":
            values = [frag["const"]] if "const" in frag else list(frag.get("enum") or ())
            return {"choices": tuple(Choice(v, _label(v)) for v in values)}
        case "str":
            length = frag.get("maxLength")
            return {"max_length": length if isinstance(length, int) else None}
        case "group":
            inner = default if isinstance(default, dict) else {}
            return {"children": tuple(_fields(root, frag, path, inner, seen))}
    return {}


def _number(kind: Kind, frag: dict[str, Any], default: Any) -> dict[str, Any]:
    """Bounds, step and decimals; an exclusive bound moves in by the smallest shown step."""
    low, high = _num(frag.get("minimum")), _num(frag.get("maximum"))
    low_x, high_x = _num(frag.get("exclusiveMinimum")), _num(frag.get("exclusiveMaximum"))
    hint = _num(frag.get("step"))
    multiple = _num(frag.get("multipleOf"))
    step = hint if hint and hint > 0 else multiple if multiple and multiple > 0 else None
    if kind == "int":
        low = low if low is not None else (math.floor(low_x) + 1 if low_x is not None else None)
        high = high if high is not None else (math.ceil(high_x) - 1 if high_x is not None else None)
        return {
            "minimum": math.ceil(low) if low is not None else None,
            "maximum": math.floor(high) if high is not None else None,
            "step": max(1, round(step)) if step else 1,
            "decimals": 0,
        }
    lo = low if low is not None else low_x
    hi = high if high is not None else high_x
    if step is None:
        step = nice_step(hi - lo) if lo is not None and hi is not None else 0.1
    places = decimals_for(step, low, high, low_x, high_x, _num(default))
    tick = 10.0**-places
    if low is None and low_x is not None:
        low = round(low_x + tick, places)
    if high is None and high_x is not None:
        high = round(high_x - tick, places)
    return {"minimum": low, "maximum": high, "step": step, "decimals": places}


def _with_default(spec: FieldSpec, default: Any) -> FieldSpec:
    """Settle the default: the given one when it fits, else None (nullable) or empty.

    A group's default is its children's (they were read from the given dict already),
    or None for an optional model that defaults to None.
    """
    value = default
    if spec.nullable and (default is None or default is _MISSING):
        value = None
    elif spec.kind == "group":
        value = default_values(spec.children)
    elif spec.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif spec.kind == "int" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is _MISSING or not fits(spec, value):
        value = None if spec.nullable else empty_value(spec)
    return replace(spec, default=value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type, so ``1`` does not match ``True`` or ``1.0``."""
    return type(a) is type(b) and a == b


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
