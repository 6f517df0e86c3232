"""Livepeer Pipeline Studio: write, preview and stream live video AI pipelines.

Pipeline authors need only what this package exports::

    from studio import pipeline, Pipeline, BaseParams, VideoFrame, VideoOutput, PipelineSpec

The exports load on first use (PEP 562), so ``import studio`` costs nothing: the app and the
CLI start without pydantic or torch, and a pipeline file pays only for what it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.decorator import pipeline
    from studio.frames import VideoFrame, VideoOutput
    from studio.interface import Pipeline
    from studio.params import BaseParams
    from studio.spec import PipelineSpec

_EXPORTS = {
    "pipeline": "studio.decorator",
    "Pipeline": "studio.interface",
    "BaseParams": "studio.params",
    "VideoFrame": "studio.frames",
    "VideoOutput": "studio.frames",
    "PipelineSpec": "studio.spec",
}

__all__ = ["BaseParams", "Pipeline", "PipelineSpec", "VideoFrame", "VideoOutput", "pipeline"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'studio' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
