"""The one typed pipeline interface.

ai-runner had two implicit interfaces (its base class and the shape the decorator guessed);
here a class pipeline either subclasses :class:`Pipeline` or has the same shape, and the
decorator checks that shape when it runs. A function pipeline is the ``transform`` alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from studio.frames import TransformResult, VideoFrame
    from studio.params import BaseParams

HOOKS = ("on_ready", "on_update", "on_stop")


class Pipeline(ABC):
    """Base class of class-form pipelines: ``transform`` is required, every hook optional.

    Each method may be ``def`` or ``async def``: sync ones all run on one thread (the worker
    process's own), async ones are awaited. A params update and a transform never run at once.

    ``device`` is set before :meth:`on_ready`: CUDA when available (or asked for), else CPU.
    """

    device: torch.device

    @abstractmethod
    def transform(self, frame: VideoFrame, params: BaseParams) -> TransformResult:
        """Process one frame; return a tensor (1,H,W,3) or (H,W,3) or a VideoOutput."""

    def on_ready(self, **params: Any) -> None:
        """Once, before the first frame, with the validated params: load models, allocate."""

    def on_update(self, **params: Any) -> None:
        """When params change mid-stream, with the full new params."""

    def on_stop(self) -> None:
        """On shutdown: release what on_ready took."""

    @classmethod
    def prepare_models(cls) -> None:
        """At build or setup time (``studio prepare NAME``): download weights, compile."""
