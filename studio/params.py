"""Typed pipeline parameters: one pydantic model, validated in one place.

A params model subclasses :class:`BaseParams`. Field constraints drive both validation and
the studio's form:

* ``ge``/``le`` (or ``gt``/``lt``) on ``int``/``float``: a slider with a spin box;
  ``multiple_of`` sets the step.
* ``Literal[...]`` or an ``Enum``: a combo box. ``bool``: a check box. ``str``: a line edit.
* a nested ``BaseParams``/``BaseModel``: a group box. ``X | None``: a "none" toggle.

Form hints go in ``json_schema_extra`` and never change validation::

    strength: float = Field(0.5, ge=0, le=1, json_schema_extra={"step": 0.05, "order": 1,
                                                                 "group": "Look"})

Recognised hints: ``widget`` ("slider", "spin", "combo", "check", "text", "multiline",
"json"), ``step``, ``order`` (lower first), ``group`` (a titled box), ``hidden`` (not shown,
still sent). Unknown keys are kept in the schema for other tools.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

FORM_HINTS = ("widget", "step", "order", "group", "hidden")


class BaseParams(BaseModel):
    """Base class of every params model.

    Unknown keys are rejected (a typo in a param name is an error, not a silent no-op) and
    assignments are validated, so a model instance is always a valid set of params.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=False)


def params_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema the studio's form is built from (``$defs`` kept for nested models)."""
    return model.model_json_schema(mode="validation")


def params_defaults(model: type[BaseModel], initial: dict[str, Any] | None = None) -> dict:
    """Defaults as JSON-compatible values, with ``initial`` applied over the model's own."""
    return model.model_validate(initial or {}).model_dump(mode="json")


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """Validation errors as ``[{"field": "a.b", "message": ...}]``, ready to show by a field."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(params)", "message": e["msg"]}
        for e in error.errors(include_url=False)
    ]


def describe_errors(errors: list[dict[str, str]]) -> str:
    """One line naming each bad field, for a CLI or a status bar."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


def merge_params(
    model: type[BaseModel], current: dict[str, Any], base: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Apply ``current`` over ``base`` keeping each value the model accepts.

    Used on reload (the model may have changed) and for partial updates. Returns the
    validated params (JSON-compatible) and the dotted names of the values that were dropped.
    """
    merged = deep_merge(dict(base or {}), current)
    dropped: list[str] = []
    for _ in range(64):  # each pass drops at least one bad value
        try:
            return model.model_validate(merged).model_dump(mode="json"), dropped
        except ValidationError as exc:
            removed = False
            for err in exc.errors(include_url=False):
                loc = [p for p in err["loc"] if isinstance(p, str)]
                if loc and _drop(merged, loc):
                    dropped.append(".".join(loc))
                    removed = True
            if not removed:
                break
    return model.model_validate(base or {}).model_dump(mode="json"), sorted(set(current))


def deep_merge(base: dict, over: dict) -> dict:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = deep_merge(dict(base[key]), value)
        else:
            base[key] = value
    return base


def _drop(data: dict, loc: list[str]) -> bool:
    node: Any = data
    for key in loc[:-1]:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    if isinstance(node, dict) and loc[-1] in node:
        del node[loc[-1]]
        return True
    return False
