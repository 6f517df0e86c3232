"""green-shift: the smallest useful pipeline, in function form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio import BaseParams, VideoFrame, pipeline

if TYPE_CHECKING:
    import torch

#: How much green is added, on the [0, 1] scale of the frame.
SHIFT = 0.3


@pipeline(name="green-shift")
async def green_shift(frame: VideoFrame, params: BaseParams) -> torch.Tensor:
    """Raise the green channel by 0.3 (clamped to 1); red and blue pass through untouched.

    A function pipeline with no params model: a quick check that frames flow and that
    colours come back in the right channel order. It is ``async`` and cheap, so it runs on
    the event loop without a thread hop; the frame is fresh, so it is changed in place.
    """
    tensor = frame.tensor
    tensor[..., 1].add_(SHIFT).clamp_(0.0, 1.0)
    return tensor
