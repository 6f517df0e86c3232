"""PipelineRuntime: a loaded pipeline, run with one lock and one thread.

This is the single place that calls user code: the engine's worker, ``studio bench`` and the
box runner all go through it, so the hook contract holds everywhere:

* sync hooks run in the pipeline's own thread (one thread, so thread-bound state such as a
  CUDA context or a model stays put); async hooks are awaited on the caller's loop;
* params are validated here and nowhere else; an update and a transform never overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from studio.decorator import spec_of
from studio.frames import OutputError, VideoFrame, VideoOutput, output_tensor
from studio.interface import Pipeline
from studio.params import BaseParams, describe_errors, field_errors, merge_params
from studio.spec import PipelineSpec, resolve


class ParamsError(ValueError):
    """Params that do not validate; ``errors`` is ``[{"field", "message"}]``."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__(describe_errors(errors))


class LoadError(RuntimeError):
    """The pipeline could not be imported or instantiated."""


@dataclass(slots=True)
class TransformOutput:
    """A checked transform result: (H, W, 3) tensor plus what a VideoOutput carried."""

    tensor: Any
    timestamp: int | None = None
    time_base: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


def pick_device(device: str = "auto") -> Any:
    """``auto``: CUDA when available, else CPU. Asking for CUDA without it is an error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LoadError(f"device {device!r} asked for, but CUDA is not available here")
    return dev


def device_label(device: Any) -> str:
    """``CPU`` or the CUDA device's name, for a status line."""
    import torch

    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return device.type.upper()


class PipelineRuntime:
    """One pipeline instance with its params, ready to run frames.

    A sync pipeline's hooks and transform run on one thread of their own, so an event loop
    that hosts several things stays free while a frame runs. With ``inline`` they run on
    the calling (event-loop) thread instead: for a process that hosts only this pipeline
    (the engine's worker), where the hop to another thread and back costs a few tenths of a
    millisecond a frame and splits torch's work between two OpenMP thread teams.
    """

    def __init__(
        self,
        spec: PipelineSpec,
        file: str | None = None,
        device: str = "auto",
        *,
        inline: bool = False,
    ):
        self.spec = spec
        self.inline = inline
        self.file = file
        try:
            target = resolve(spec.pipeline, file)
            self.model: type[BaseModel] = resolve(spec.params, file) if spec.params else BaseParams
        except Exception as exc:
            raise LoadError(f"cannot load pipeline {spec.name!r}: {exc}") from exc
        attached = spec_of(target)
        if attached is not None and attached.name != spec.name:
            raise LoadError(f"{spec.pipeline} is now pipeline {attached.name!r}, not {spec.name!r}")
        self.device = pick_device(device)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"pipeline-{spec.name}")
        self._lock = asyncio.Lock()
        self.params: BaseModel = self.model.model_validate(spec.initial_params)
        if inspect.isclass(target):
            self.instance = target()
            # a read-only ``device`` property is the pipeline's own business
            with contextlib.suppress(AttributeError):
                self.instance.device = self.device
            self._transform = self.instance.transform
            self._hooks = {
                h: getattr(self.instance, h, None) for h in ("on_ready", "on_update", "on_stop")
            }
        else:
            self.instance = None
            self._transform = target
            self._hooks = {}
        self._ready = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def params_dict(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")

    def validate(self, values: dict[str, Any], base: dict[str, Any] | None = None) -> BaseModel:
        """Validate ``values`` applied over ``base`` (default: the current params)."""
        from studio.params import deep_merge

        merged = deep_merge(dict(self.params_dict if base is None else base), values)
        try:
            return self.model.model_validate(merged)
        except ValidationError as exc:
            raise ParamsError(field_errors(exc)) from None

    def adopt(self, values: dict[str, Any]) -> list[str]:
        """Keep what the model accepts of ``values`` (a reload); return the dropped names."""
        kept, dropped = merge_params(self.model, values, self.params_dict)
        self.params = self.model.model_validate(kept)
        return dropped

    async def start(self, values: dict[str, Any] | None = None) -> None:
        """Validate the starting params and run ``on_ready`` once."""
        if values:
            self.params = self.validate(values)
        async with self._lock:
            await self._call("on_ready", **self.params_dict)
        self._ready = True

    async def update(self, values: dict[str, Any]) -> dict[str, Any]:
        """Merge ``values`` over the current params, validate, then ``on_update``.

        Raises :class:`ParamsError` and keeps the last good params when they are invalid.
        """
        new = self.validate(values)
        async with self._lock:
            await self._call("on_update", **new.model_dump(mode="json"))
            self.params = new  # only once the pipeline took them: a raising on_update keeps the old
        return self.params_dict

    async def transform(self, frame: VideoFrame) -> TransformOutput:
        """Run one frame; raises the pipeline's own exception or :class:`OutputError`."""
        async with self._lock:
            result = await self._run(self._transform, frame, self.params)
        tensor = output_tensor(result, self.name)
        if isinstance(result, VideoOutput):
            return TransformOutput(tensor, result.timestamp, result.time_base, result.metadata)
        return TransformOutput(tensor)

    async def stop(self) -> None:
        """Run ``on_stop`` (only if ``on_ready`` ran) and release the pipeline's thread."""
        try:
            if self._ready:
                async with self._lock:
                    await self._call("on_stop")
        finally:
            self._ready = False
            self._executor.shutdown(wait=False)

    async def _call(self, hook: str, *args: Any, **kwargs: Any) -> None:
        fn = self._hooks.get(hook)
        if fn is not None:
            await self._run(fn, *args, **kwargs)

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if inspect.iscoroutinefunction(fn):
            return await fn(*args, **kwargs)
        if self.inline:
            result = fn(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
        if inspect.isawaitable(result):
            result = await result
        return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


__all__ = [
    "LoadError",
    "OutputError",
    "ParamsError",
    "PipelineRuntime",
    "TransformOutput",
    "device_label",
    "pick_device",
    "prepare_pipeline",
]


def prepare_pipeline(spec_dict: dict[str, Any], file: str | None) -> int:
    """Child side of ``studio prepare``: run ``prepare_models``; the exit status to use."""
    import traceback

    spec = PipelineSpec.from_dict(spec_dict)
    try:
        target = resolve(spec.pipeline, file)
        prepare = getattr(target, "prepare_models", None)
        if (
            prepare is None
            or getattr(prepare, "__func__", None) is Pipeline.prepare_models.__func__
        ):
            print(f"pipeline {spec.name!r} has no prepare_models: nothing to prepare", flush=True)
            return 0
        result = prepare()
        if inspect.isawaitable(result):
            asyncio.run(_await(result))
    except Exception:
        traceback.print_exc()
        return 1
    return 0
