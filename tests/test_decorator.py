"""The @pipeline decorator: both forms, the spec it attaches, every shape error."""

from __future__ import annotations

import pytest
from pydantic import Field

from studio import BaseParams, Pipeline, PipelineSpec, pipeline
from studio.decorator import REGISTRY, spec_of
from studio.spec import resolve


class Strength(BaseParams):
    amount: float = Field(0.5, ge=0, le=1)


@pipeline(name="fn-sync", params=Strength, initial_params={"amount": 0.25})
def fn_sync(frame, params):
    return frame.tensor


@pipeline
async def fn_async_default_name(frame, params):
    return frame.tensor


@pipeline(name="cls")
class Plain:
    def transform(self, frame, params):
        return frame.tensor


class Outer:
    @pipeline(name="nested")
    class Inner(Pipeline):
        def transform(self, frame, params):
            return frame.tensor


def test_function_spec_is_attached_and_resolvable():
    spec = spec_of(fn_sync)
    assert spec == PipelineSpec(
        name="fn-sync",
        pipeline=f"{__name__}:fn_sync",
        params=f"{__name__}:Strength",
        initial_params={"amount": 0.25},
    )
    assert resolve(spec.pipeline) is fn_sync
    assert resolve(spec.params) is Strength
    assert fn_sync._spec is spec  # the proposal's attribute name still works
    assert spec in REGISTRY


def test_bare_decorator_names_from_the_function():
    assert spec_of(fn_async_default_name).name == "fn-async-default-name"
    assert spec_of(Plain).params is None


def test_class_nested_in_class_resolves_through_the_dotted_qualname():
    spec = spec_of(Outer.Inner)
    assert spec.pipeline == f"{__name__}:Outer.Inner"
    assert resolve(spec.pipeline) is Outer.Inner


def test_decorated_objects_stay_plain_python():
    class Frame:
        tensor = "pixels"

    assert fn_sync(Frame(), None) == "pixels"
    assert Plain().transform(Frame(), None) == "pixels"


def test_spec_round_trips_through_a_dict():
    spec = spec_of(fn_sync)
    assert PipelineSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: type("NoTransform", (), {}), "has no transform"),
        (lambda: type("BadArity", (), {"transform": lambda self, frame: frame}), "expected 3"),
        (
            lambda: type("BadHook", (), {"transform": lambda self, f, p: f, "on_stop": 3}),
            "on_stop is int, not callable",
        ),
        (
            lambda: type(
                "BadReady", (), {"transform": lambda self, f, p: f, "on_ready": lambda self: 0}
            ),
            "on_ready must accept the params as keywords",
        ),
        (
            lambda: type(
                "BadPrepare",
                (),
                {"transform": lambda self, f, p: f, "prepare_models": lambda self: 0},
            ),
            "prepare_models must be a @classmethod",
        ),
        (lambda: type("Abstract", (Pipeline,), {}), "abstract transform"),
    ],
)
def test_class_shape_errors_name_the_problem(make, message):
    cls = make()
    cls.__qualname__ = cls.__name__
    with pytest.raises(TypeError, match=message):
        pipeline(name="x")(cls)


def test_function_with_wrong_arity_is_refused():
    def one(frame):
        return frame

    one.__qualname__ = "one"
    with pytest.raises(TypeError, match=r"one takes \(frame\); expected 2 positional"):
        pipeline(one)


def test_params_must_be_a_base_params_subclass():
    from pydantic import BaseModel

    class NotParams(BaseModel):
        x: int = 1

    def fn(frame, params):
        return frame

    fn.__qualname__ = "fn"
    with pytest.raises(TypeError, match=r"not a subclass of studio\.BaseParams"):
        pipeline(params=NotParams)(fn)


def test_definitions_inside_a_function_are_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"defined inside a function.*Move it to the top level"):

        @pipeline(name="local")
        def local(frame, params):
            return frame


def test_invalid_initial_params_are_refused_naming_the_field():
    def fn(frame, params):
        return frame

    fn.__qualname__ = "fn"
    with pytest.raises(ValueError, match=r"amount: Input should be less than or equal to 1"):
        pipeline(params=Strength, initial_params={"amount": 3})(fn)


def test_non_callables_are_refused():
    with pytest.raises(TypeError, match="decorates a function or a class"):
        pipeline(name="x")(42)
