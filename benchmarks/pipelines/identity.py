"""identity: returns the input tensor untouched, so a benchmark sees only the host's cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio import BaseParams, VideoFrame, pipeline

if TYPE_CHECKING:
    import torch


@pipeline(name="identity")
def identity(frame: VideoFrame, params: BaseParams) -> torch.Tensor:
    """The frame as it came: what is left to time is conversion, transport and bookkeeping."""
    return frame.tensor
