"""``@pipeline``: turn a function or a class into a loadable, checked pipeline.

The decorator does not wrap or generate anything: it checks the shape of what it decorates,
attaches a :class:`~studio.spec.PipelineSpec` as ``__pipeline_spec__`` and records it in a
registry that discovery reads. The object itself is returned unchanged, so it stays callable
and testable as plain Python.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, overload

from pydantic import BaseModel, ValidationError

from studio.interface import HOOKS
from studio.params import BaseParams, describe_errors, field_errors
from studio.spec import PipelineSpec, target_of

#: Every spec created in this process, in decoration order (read by discovery).
REGISTRY: list[PipelineSpec] = []


@overload
def pipeline[T](obj: T, /) -> T: ...
@overload
def pipeline(
    *,
    name: str | None = None,
    params: type[BaseParams] | None = None,
    initial_params: dict[str, Any] | None = None,
) -> Callable[[Any], Any]: ...


def pipeline(
    obj: Any = None,
    /,
    *,
    name: str | None = None,
    params: type[BaseParams] | None = None,
    initial_params: dict[str, Any] | None = None,
) -> Any:
    """Declare a pipeline.

    Function form: ``(frame, params) -> output``, sync or async. Class form: a class with
    ``transform(frame, params)`` and optionally ``on_ready(**params)``, ``on_update(**params)``,
    ``on_stop()`` and classmethod ``prepare_models()``; it may subclass
    :class:`studio.Pipeline`. ``name`` defaults to the object's name with ``_`` as ``-``.

    Raises ``TypeError`` naming what is wrong with the shape, and ``ValueError`` when
    ``initial_params`` do not validate against ``params``.
    """

    def decorate(target: Any) -> Any:
        spec = _make_spec(target, name, params, initial_params)
        target.__pipeline_spec__ = spec
        target._spec = spec  # the name the ai-runner proposal used
        REGISTRY.append(spec)
        return target

    if obj is not None:
        return decorate(obj)
    return decorate


def spec_of(obj: Any) -> PipelineSpec | None:
    """The spec ``@pipeline`` attached to ``obj``, if any."""
    return getattr(obj, "__pipeline_spec__", None)


def _make_spec(
    target: Any,
    name: str | None,
    params: type[BaseParams] | None,
    initial_params: dict[str, Any] | None,
) -> PipelineSpec:
    label = getattr(target, "__qualname__", repr(target))
    if inspect.isclass(target):
        _check_class(target, label)
    elif inspect.isfunction(target):
        _check_callable(target, 2, f"pipeline function {label}", "(frame, params)")
    else:
        raise TypeError(
            f"@pipeline decorates a function or a class, not {type(target).__name__} ({label!r})"
        )
    if "<locals>" in target.__qualname__:
        raise TypeError(
            f"@pipeline on {label!r}: it is defined inside a function, so another process "
            "cannot import it by name. Move it to the top level of its module (classes nested "
            "in classes are fine)."
        )
    if params is not None and not (inspect.isclass(params) and issubclass(params, BaseParams)):
        raise TypeError(
            f"@pipeline on {label!r}: params={params!r} is not a subclass of studio.BaseParams"
        )
    if initial_params is not None:
        if not isinstance(initial_params, dict):
            raise TypeError(f"@pipeline on {label!r}: initial_params must be a dict")
        model: type[BaseModel] = params or BaseParams
        try:
            model.model_validate(initial_params)
        except ValidationError as exc:
            raise ValueError(
                f"@pipeline on {label!r}: initial_params are invalid: "
                f"{describe_errors(field_errors(exc))}"
            ) from None
    pipeline_name = name if name is not None else target.__name__.replace("_", "-").lower()
    if not isinstance(pipeline_name, str) or not pipeline_name.strip():
        raise TypeError(f"@pipeline on {label!r}: name must be a non-empty string")
    return PipelineSpec(
        name=pipeline_name,
        pipeline=target_of(target),
        params=target_of(params) if params is not None else None,
        initial_params=dict(initial_params or {}),
    )


def _check_class(cls: type, label: str) -> None:
    transform = inspect.getattr_static(cls, "transform", None)
    if transform is None:
        raise TypeError(f"@pipeline class {label} has no transform(self, frame, params) method")
    if getattr(getattr(cls, "transform", None), "__isabstractmethod__", False):
        raise TypeError(f"@pipeline class {label} does not implement the abstract transform()")
    _check_callable(cls.transform, 3, f"{label}.transform", "(self, frame, params)")
    for hook in HOOKS:
        value = getattr(cls, hook, None)
        if value is not None and not callable(value):
            raise TypeError(
                f"@pipeline class {label}: {hook} is {type(value).__name__}, not callable"
            )
    for hook in ("on_ready", "on_update"):
        value = getattr(cls, hook, None)
        if value is not None and not _accepts_kwargs(value):
            raise TypeError(
                f"@pipeline class {label}: {hook} must accept the params as keywords, "
                f"like def {hook}(self, **params)"
            )
    stop = getattr(cls, "on_stop", None)
    if stop is not None:
        _check_callable(stop, 1, f"{label}.on_stop", "(self)")
    prepare = inspect.getattr_static(cls, "prepare_models", None)
    if prepare is not None:
        if not isinstance(prepare, classmethod | staticmethod):
            raise TypeError(
                f"@pipeline class {label}: prepare_models must be a @classmethod (it runs "
                "before any instance exists)"
            )
        _check_callable(cls.prepare_models, 0, f"{label}.prepare_models", "(cls)")


def _check_callable(fn: Any, positional: int, label: str, expected: str) -> None:
    if not callable(fn):
        raise TypeError(f"{label} is not callable")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return
    fixed = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in fixed if p.default is p.empty]
    extra_kw = [p for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if len(required) > positional or len(fixed) < positional or extra_kw:
        got = ", ".join(p.name for p in params) or "nothing"
        raise TypeError(
            f"{label} takes ({got}); expected {positional} positional argument"
            f"{'s' if positional != 1 else ''} {expected}"
        )


def _accepts_kwargs(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is p.VAR_KEYWORD for p in params)
