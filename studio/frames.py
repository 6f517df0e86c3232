"""Frames as pipelines see them, and the two conversions every host must do.

A pipeline receives a :class:`VideoFrame` whose ``tensor`` is torch float32, shape
(1, H, W, 3), RGB, values in [0, 1], on the pipeline's device: ai-runner's running contract.
It returns a tensor ((1,H,W,3) or (H,W,3); float is clamped to [0, 1], uint8 taken as is) or
a :class:`VideoOutput`. The output may be another size than the input.

torch is imported lazily so that ``import studio`` stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    import numpy as np
    import torch

DEFAULT_TIME_BASE = Fraction(1, 90_000)


@dataclass(slots=True)
class VideoFrame:
    """One input frame: the tensor plus its timestamp (``timestamp * time_base`` seconds).

    The tensor is fresh for every frame, so a pipeline may keep it (temporal effects) or
    modify it in place.
    """

    tensor: torch.Tensor
    timestamp: int = 0
    time_base: Fraction = DEFAULT_TIME_BASE

    @property
    def device(self) -> torch.device:
        return self.tensor.device

    @property
    def height(self) -> int:
        return int(self.tensor.shape[-3])

    @property
    def width(self) -> int:
        return int(self.tensor.shape[-2])

    @property
    def time(self) -> float:
        """The timestamp in seconds."""
        return float(self.timestamp * self.time_base)

    def replace_tensor(self, tensor: torch.Tensor) -> VideoFrame:
        """The same frame (timestamp, time base) carrying another tensor."""
        return replace(self, tensor=tensor)


@dataclass(slots=True)
class VideoOutput:
    """A transform's output when it wants more than a bare tensor.

    ``timestamp``/``time_base`` re-time the frame (default: the input's); ``metadata`` is a
    JSON-compatible dict passed to the host with the frame (shown by the studio, e.g. scores).
    """

    tensor: torch.Tensor
    timestamp: int | None = None
    time_base: Fraction | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


TransformResult = Union["torch.Tensor", VideoOutput]


class OutputError(TypeError):
    """A transform returned something the host cannot show; the message says what and why."""


def to_input_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> float32 (1, H, W, 3) in [0, 1] on ``device``, in one pass each.

    On CUDA the uint8 frame is uploaded first (a quarter of the bytes), then converted there.
    """
    import torch

    src = torch.from_numpy(image)
    if torch.device(device).type != "cpu":
        src = src.to(device, non_blocking=False)
    return src.to(torch.float32).mul_(1.0 / 255.0).unsqueeze_(0)


def output_tensor(result: Any, pipeline_name: str) -> torch.Tensor:
    """Check a transform's result and return it as a (H, W, 3) tensor (float or uint8)."""
    import torch

    tensor = result.tensor if isinstance(result, VideoOutput) else result
    if not isinstance(tensor, torch.Tensor):
        raise OutputError(
            f"pipeline {pipeline_name!r} returned {type(result).__name__}; expected a torch "
            "tensor of shape (1, H, W, 3) or (H, W, 3), or a VideoOutput"
        )
    shape = tuple(tensor.shape)
    if tensor.ndim == 4 and shape[0] == 1:
        tensor = tensor[0]
    ok_dtype = tensor.dtype == torch.uint8 or tensor.is_floating_point()
    if tensor.ndim != 3 or tensor.shape[-1] != 3 or 0 in tensor.shape or not ok_dtype:
        raise OutputError(
            f"pipeline {pipeline_name!r} returned a tensor of shape {shape}, dtype "
            f"{str(tensor.dtype).removeprefix('torch.')}; expected shape (1, H, W, 3) or "
            "(H, W, 3), RGB, float in [0, 1] or uint8"
        )
    return tensor


def to_uint8_image(tensor: torch.Tensor, out: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) float [0, 1] or uint8 tensor -> uint8 numpy (H, W, 3), written into ``out``.

    Float values are clamped and rounded. With ``out`` (for example a shared-memory view of
    the right shape) the result lands there without another copy.
    """
    import numpy as np
    import torch

    if tensor.is_floating_point():
        scaled = (tensor * 255.0).add_(0.5).clamp_(0.0, 255.0)
        if out is not None and tensor.device.type == "cpu":
            # the float-to-uint8 cast happens while writing ``out``: one pass and one
            # frame-sized allocation less (the cast truncates, as ``.to(torch.uint8)`` does)
            torch.from_numpy(out).copy_(scaled)
            return out if isinstance(out, np.ndarray) else np.asarray(out)
        tensor = scaled.to(torch.uint8)  # on the GPU, a quarter of the bytes to download
    if out is not None:
        torch.from_numpy(out).copy_(tensor)  # a GPU tensor downloads straight into ``out``
        return out if isinstance(out, np.ndarray) else np.asarray(out)
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    return tensor.contiguous().numpy()
