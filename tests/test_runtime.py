"""PipelineRuntime: hooks in order with their arguments, sync and async, outputs checked."""

from __future__ import annotations

import asyncio
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

from studio.frames import OutputError, VideoFrame, to_input_tensor, to_uint8_image
from studio.runtime import ParamsError, PipelineRuntime
from studio.spec import PipelineSpec

HOOKED = """
import asyncio, threading
from pydantic import Field
from studio import BaseParams, Pipeline, VideoOutput, pipeline

CALLS = []

class Knobs(BaseParams):
    gain: float = Field(1.0, ge=0, le=2)

@pipeline(name="hooked", params=Knobs, initial_params={{"gain": 1.5}})
class Hooked(Pipeline):
    def on_ready(self, **params):
        CALLS.append(("on_ready", params, str(self.device), threading.current_thread().name))

    {async_}def transform(self, frame, params):
        CALLS.append(("transform", params.gain))
        return VideoOutput(frame.tensor * params.gain, metadata={{"calls": len(CALLS)}})

    {async_}def on_update(self, **params):
        CALLS.append(("on_update", params))

    def on_stop(self):
        CALLS.append(("on_stop",))
"""


def load(write_pipeline, source, module, target, name, params=None, initial=None):
    """Write ``source`` as ``module``.py and load ``module:target`` as pipeline ``name``."""
    path = write_pipeline(module, source)
    spec = PipelineSpec(
        name, f"{module}:{target}", f"{module}:{params}" if params else None, initial or {}
    )
    return PipelineRuntime(spec, str(path), device="cpu")


def frame(h=4, w=6, value=0.25) -> VideoFrame:
    return VideoFrame(torch.full((1, h, w, 3), value), 3000, Fraction(1, 90000))


@pytest.mark.parametrize("async_", ["", "async "])
def test_hooks_run_in_order_with_validated_params(write_pipeline, async_):
    module_name = f"hooked_{'async' if async_ else 'sync'}"
    rt = load(
        write_pipeline,
        HOOKED.format(async_=async_),
        module_name,
        "Hooked",
        "hooked",
        "Knobs",
        {"gain": 1.5},
    )
    module = __import__(module_name)

    async def run():
        await rt.start()
        first = await rt.transform(frame())
        await rt.update({"gain": 0.5})
        second = await rt.transform(frame())
        await rt.stop()
        return first, second

    first, second = asyncio.run(run())
    calls = module.CALLS
    assert calls[0][:3] == ("on_ready", {"gain": 1.5}, "cpu")
    assert calls[0][3].startswith("pipeline-hooked")  # sync hooks run in the pipeline thread
    assert calls[1:] == [
        ("transform", 1.5),
        ("on_update", {"gain": 0.5}),
        ("transform", 0.5),
        ("on_stop",),
    ]
    assert torch.allclose(first.tensor, torch.full((4, 6, 3), 0.375))
    assert first.metadata == {"calls": 2}
    assert torch.allclose(second.tensor, torch.full((4, 6, 3), 0.125))


def test_invalid_update_keeps_the_last_good_params(write_pipeline):
    rt = load(write_pipeline, HOOKED.format(async_=""), "hooked_bad", "Hooked", "hooked", "Knobs")

    async def run():
        await rt.start()
        with pytest.raises(ParamsError) as info:
            await rt.update({"gain": 7})
        return info.value

    error = asyncio.run(run())
    assert error.errors[0]["field"] == "gain"
    assert "less than or equal to 2" in error.errors[0]["message"]
    assert rt.params_dict == {"gain": 1.0}  # the spec here has no initial params


def test_unknown_param_names_are_errors(write_pipeline):
    rt = load(write_pipeline, HOOKED.format(async_=""), "hooked_typo", "Hooked", "hooked", "Knobs")
    with pytest.raises(ParamsError, match="gian"):
        rt.validate({"gian": 1})


def test_update_and_transform_never_overlap(write_pipeline):
    source = """
    import asyncio
    from studio import BaseParams, pipeline

    ACTIVE = []
    OVERLAPS = []

    class P(BaseParams):
        x: int = 0

    @pipeline(name="racy", params=P)
    class Racy:
        async def transform(self, frame, params):
            ACTIVE.append("t"); OVERLAPS.append(len(ACTIVE))
            await asyncio.sleep(0.01)
            ACTIVE.pop()
            return frame.tensor

        async def on_update(self, **params):
            ACTIVE.append("u"); OVERLAPS.append(len(ACTIVE))
            await asyncio.sleep(0.01)
            ACTIVE.pop()
    """
    rt = load(write_pipeline, source, "racy", "Racy", "racy", "P")

    async def run():
        await rt.start()
        jobs = [rt.transform(frame()) for _ in range(5)] + [rt.update({"x": i}) for i in range(5)]
        await asyncio.gather(*jobs)

    asyncio.run(run())
    module = __import__("racy")
    assert len(module.OVERLAPS) == 10
    assert max(module.OVERLAPS) == 1


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("None", "returned NoneType; expected a torch tensor"),
        ("frame.tensor[0, :, :, 0]", r"shape \(4, 6\), dtype float32"),
        ("frame.tensor.to(torch.int64)", "dtype int64"),
        ("frame.tensor.numpy()", "returned ndarray"),
    ],
)
def test_bad_outputs_name_the_pipeline_and_what_came_back(write_pipeline, expr, message):
    module = f"bad_out_{abs(hash(expr))}"
    source = f"""
    import torch
    from studio import pipeline

    @pipeline(name="bad-out")
    def bad(frame, params):
        return {expr}
    """
    rt = load(write_pipeline, source, module, "bad", "bad-out")
    with pytest.raises(OutputError, match=message):
        asyncio.run(rt.transform(frame()))


def test_uint8_and_3d_outputs_and_other_sizes_are_accepted(write_pipeline):
    source = """
    import torch
    from studio import pipeline

    @pipeline(name="shrink")
    def shrink(frame, params):
        return (frame.tensor[0, ::2, ::2] * 255).to(torch.uint8)
    """
    rt = load(write_pipeline, source, "shrink", "shrink", "shrink")
    out = asyncio.run(rt.transform(frame(8, 10, 0.5)))
    assert out.tensor.shape == (4, 5, 3) and out.tensor.dtype == torch.uint8
    assert to_uint8_image(out.tensor)[0, 0, 0] == 127


def test_frame_conversions_round_trip_and_clamp():
    image = np.arange(0, 256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    tensor = to_input_tensor(image)
    assert tensor.shape == (1, 16, 16, 3) and tensor.dtype == torch.float32
    assert float(tensor.min()) == 0.0 and float(tensor.max()) == 1.0
    assert np.array_equal(to_uint8_image(tensor[0]), image)
    over = torch.full((2, 2, 3), 1.7)
    under = torch.full((2, 2, 3), -0.4)
    assert to_uint8_image(over).max() == 255 and to_uint8_image(under).min() == 0
    out = np.zeros((2, 2, 3), np.uint8)
    assert to_uint8_image(torch.full((2, 2, 3), 0.5), out) is out and out[0, 0, 0] == 128
    # writing into ``out`` rounds and clamps exactly as the allocating path does
    noisy = torch.rand(1, 32, 32, 3) * 1.4 - 0.2
    into = np.empty((32, 32, 3), np.uint8)
    assert np.array_equal(to_uint8_image(noisy[0], into), to_uint8_image(noisy[0]))
    assert np.array_equal(to_uint8_image(tensor[0], np.empty_like(image)), image)


def test_cuda_is_refused_clearly_when_absent(write_pipeline):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the refusal path only exists without it")
    source = "from studio import pipeline\n@pipeline\ndef plain_fn(f, p):\n    return f.tensor\n"
    path = write_pipeline("plain_fn", source)
    from studio.runtime import LoadError

    with pytest.raises(LoadError, match="CUDA is not available"):
        PipelineRuntime(PipelineSpec("plain-fn", "plain_fn:plain_fn"), str(path), device="cuda")


def test_inline_runs_sync_hooks_on_the_calling_thread(write_pipeline):
    source = """
    import threading
    from studio import Pipeline, pipeline

    THREADS = []

    @pipeline(name="where")
    class Where(Pipeline):
        def on_ready(self, **params):
            THREADS.append(threading.get_ident())

        def transform(self, frame, params):
            THREADS.append(threading.get_ident())
            return frame.tensor
    """
    path = write_pipeline("where_mod", source)

    async def run(inline: bool) -> int:
        rt = PipelineRuntime(
            PipelineSpec("where", "where_mod:Where"), str(path), "cpu", inline=inline
        )
        await rt.start()
        out = await rt.transform(frame())
        await rt.stop()
        assert torch.equal(out.tensor, frame().tensor[0])
        import threading

        return threading.get_ident()

    caller = asyncio.run(run(inline=True))
    threads = list(sys.modules["where_mod"].THREADS)
    assert threads == [caller, caller]
    sys.modules["where_mod"].THREADS.clear()
    caller = asyncio.run(run(inline=False))
    threads = sys.modules["where_mod"].THREADS
    assert len(threads) == 2 and len(set(threads)) == 1 and threads[0] != caller
