"""color-grade: a live colour grade with a caption, and a params model that uses every widget."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Literal

import cv2
import numpy as np
import torch
from pydantic import Field

from studio import BaseParams, VideoFrame, pipeline

#: Rec. 709 luma weights, for saturation and the mono look.
LUMA = (0.2126, 0.7152, 0.0722)

#: Each look as a 3x3 matrix applied to a column RGB vector (rows give R', G', B').
_SEPIA = ((0.393, 0.769, 0.189), (0.349, 0.686, 0.168), (0.272, 0.534, 0.131))
LOOKS: dict[str, tuple[tuple[float, ...], ...]] = {
    "neutral": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "warm": ((1.08, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 0.84)),
    "cool": ((0.86, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.1)),
    # Scaled so that white maps to a warm white with red at exactly 1.
    "sepia": tuple(tuple(v / sum(_SEPIA[0]) for v in row) for row in _SEPIA),
    "mono": (LUMA, LUMA, LUMA),
}

OVER_COLOUR = (1.0, 0.0, 1.0)  # magenta: the grade pushed a channel above 1
UNDER_COLOUR = (0.0, 1.0, 1.0)  # cyan: the grade pushed a channel below 0


class Compare(Enum):
    """What the frame shows: the grade, the grade beside the original, or the original."""

    GRADED = "graded"
    SPLIT = "split"
    ORIGINAL = "original"


class Vignette(BaseParams):
    """Darkened corners; a nested model, so the form shows it as a box of its own."""

    strength: float = Field(
        0.0,
        ge=0,
        le=1,
        description="How dark the corners get (0 = no vignette)",
        json_schema_extra={"step": 0.05, "order": 0},
    )
    radius: float = Field(
        0.5,
        ge=0,
        le=0.95,
        description="Where darkening starts, as a fraction of the centre-to-corner distance",
        json_schema_extra={"step": 0.05, "order": 1},
    )


class GradeParams(BaseParams):
    """Defaults leave the picture exactly as it is; every field changes it visibly."""

    exposure: float = Field(
        0.0,
        ge=-3,
        le=3,
        description="Brightness in stops: +1 doubles it, -1 halves it",
        json_schema_extra={"step": 0.1, "order": 0, "group": "Tone"},
    )
    contrast: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Spread around mid grey: 0 is flat grey, 1 unchanged",
        json_schema_extra={"step": 0.05, "order": 1, "group": "Tone"},
    )
    saturation: float = Field(
        1.0,
        ge=0,
        le=2,
        description="0 is black and white, 1 unchanged, 2 doubly vivid",
        json_schema_extra={"step": 0.05, "order": 2, "group": "Colour"},
    )
    look: Literal["neutral", "warm", "cool", "sepia", "mono"] = Field(
        "neutral",
        description="A colour cast applied after saturation",
        json_schema_extra={"order": 3, "group": "Colour"},
    )
    posterize: int | None = Field(
        None,
        ge=2,
        le=32,
        description="Levels per channel, for a flat poster look; none for off",
        json_schema_extra={"order": 4, "group": "Effects"},
    )
    vignette: Vignette = Field(default_factory=Vignette, json_schema_extra={"order": 5})
    caption: str = Field(
        "",
        max_length=200,
        description="Text drawn bottom left, one line per line; ASCII only (others show as ?)",
        json_schema_extra={"widget": "multiline", "order": 6, "group": "Caption"},
    )
    compare: Compare = Field(
        Compare.GRADED,
        description="Split shows the original on the left half, the grade on the right",
        json_schema_extra={"order": 7, "group": "Check"},
    )
    show_clipping: bool = Field(
        False,
        description="Paint what the grade clips: magenta above white, cyan below black",
        json_schema_extra={"order": 8, "group": "Check"},
    )


@pipeline(name="color-grade", params=GradeParams)
class ColorGrade:
    """Exposure, contrast, saturation and a look, then vignette, posterize and a caption.

    The four colour controls are folded into one 3x3 matrix plus offset, applied in a single
    matrix multiply; vignette mask and caption are rendered only when their params or the
    frame size change, and cached. Compare and clipping views help judge the grade.

    A class with the pipeline's shape need not subclass ``studio.Pipeline``: this one has
    ``transform`` and ``on_stop`` only.
    """

    def __init__(self) -> None:
        self._clear()

    def on_stop(self) -> None:
        """Release the cached matrix and masks (the vignette holds a frame's worth)."""
        self._clear()

    def _clear(self) -> None:
        self._grade_key: tuple | None = None
        self._grade_cache: _Grade | None = None
        self._vignette_key: tuple | None = None
        self._vignette: torch.Tensor | None = None
        self._caption_key: tuple | None = None
        self._caption: _Caption | None = None

    def transform(self, frame: VideoFrame, params: GradeParams) -> torch.Tensor:
        """One graded frame: a new tensor after a colour change, else the input, in place."""
        x = frame.tensor
        _, height, width, _ = x.shape
        out = x
        if params.compare is not Compare.ORIGINAL:
            split = params.compare is Compare.SPLIT
            out = self._grade(x, params, keep_input=split)
            if split:
                half = width // 2
                out[:, :, :half] = x[:, :, :half]
                line = max(1, width // 640)
                out[:, :, max(0, half - line) : half + line] = 1.0
        caption = self._caption_for(params.caption, height, width, out.device)
        if caption is not None:
            caption.draw(out)
        return out

    def _grade(self, x: torch.Tensor, params: GradeParams, keep_input: bool) -> torch.Tensor:
        """Colour matrix, then vignette and posterize; a new tensor when ``keep_input``."""
        _, height, width, _ = x.shape
        grade = self._grade_for(params, height * width, x.device)
        over = under = None
        if grade is None:  # identity: the input itself, in [0, 1] by contract
            out = x.clone() if keep_input else x
        else:
            flat = torch.addmm(grade.bias, x.reshape(-1, grade.weights.shape[0]), grade.weights)
            out = flat.view(x.shape)
            if params.show_clipping:
                over = (out > 1.0).any(-1) if grade.can_over else None
                under = (out < 0.0).any(-1) if grade.can_under else None
            if grade.can_over or grade.can_under:
                out.clamp_(0.0, 1.0)
        vignette = params.vignette
        if vignette.strength > 0:
            out.mul_(self._vignette_for(vignette, height, width, out.device))
        if params.posterize is not None:
            steps = params.posterize - 1
            out.mul_(steps).round_().div_(steps)
        for mask, colour in ((under, UNDER_COLOUR), (over, OVER_COLOUR)):
            if mask is not None:
                for channel, value in enumerate(colour):  # 3x faster than out[mask] = colour
                    out[..., channel].masked_fill_(mask, value)
        return out

    def _grade_for(self, params: GradeParams, pixels: int, device: torch.device) -> _Grade | None:
        key = (params.exposure, params.contrast, params.saturation, params.look, pixels, device)
        if key != self._grade_key:
            self._grade_key = key
            self._grade_cache = _Grade.build(params, pixels, device)
        return self._grade_cache

    def _vignette_for(
        self, vignette: Vignette, height: int, width: int, device: torch.device
    ) -> torch.Tensor:
        key = (vignette.strength, vignette.radius, height, width, device)
        if key != self._vignette_key or self._vignette is None:
            self._vignette_key = key
            self._vignette = _vignette_mask(vignette, height, width, device)
        return self._vignette

    def _caption_for(
        self, text: str, height: int, width: int, device: torch.device
    ) -> _Caption | None:
        key = (text, height, width, device)
        if key != self._caption_key:
            self._caption_key = key
            self._caption = _Caption.render(text, height, width, device) if text.strip() else None
        return self._caption


@dataclass(frozen=True, slots=True)
class _Grade:
    """Exposure, saturation, look and contrast as one affine map, ready for ``addmm``.

    A (pixels, 3) x (3, 3) product is badly shaped for BLAS (several times slower than memory
    speed on CPU), so each row holds ``block`` pixels and ``weights`` is block-diagonal: the
    same arithmetic as one well-shaped GEMM. ``can_over``/``can_under``: whether some input
    in [0, 1] lands above 1 / below 0, so clamping and clip checks run only when needed.
    """

    weights: torch.Tensor  # (3 * block, 3 * block)
    bias: torch.Tensor  # (3 * block,)
    can_over: bool
    can_under: bool

    @classmethod
    def build(cls, params: GradeParams, pixels: int, device: torch.device) -> _Grade | None:
        """The grade for frames of ``pixels`` pixels on ``device``; None when it is identity."""
        f64 = torch.float64
        luma = torch.tensor(LUMA, dtype=f64)
        s, c = params.saturation, params.contrast
        saturate = s * torch.eye(3, dtype=f64) + (1.0 - s) * luma.expand(3, 3)
        look = torch.tensor(LOOKS[params.look], dtype=f64)
        # Column-vector form: rgb' = matrix @ rgb + bias (exposure, saturation, look, contrast).
        matrix = c * 2.0**params.exposure * (look @ saturate)
        bias = torch.full((3,), 0.5 * (1.0 - c), dtype=f64)
        if torch.equal(matrix, torch.eye(3, dtype=f64)) and not bias.any():
            return None
        highest = bias + matrix.clamp(min=0.0).sum(1)  # per channel, over inputs in [0, 1]
        lowest = bias + matrix.clamp(max=0.0).sum(1)
        block = next(b for b in (8, 4, 2, 1) if pixels % b == 0)
        return cls(
            weights=torch.block_diag(*[matrix.t()] * block).to(device, torch.float32),
            bias=bias.repeat(block).to(device, torch.float32),
            # Near 1, float32 rounding may overshoot: clamp. Sums of non-negative terms
            # cannot go below 0, so ``lowest`` needs no such margin.
            can_over=bool((highest > 1.0 - 1e-5).any()),
            can_under=bool((lowest < 0.0).any()),
        )


def _vignette_mask(
    vignette: Vignette, height: int, width: int, device: torch.device
) -> torch.Tensor:
    """(1, H, W, 3) factors: 1 inside ``radius``, easing to ``1 - strength`` at the corners.

    Stored with its three channels (not broadcast from one) because a plain elementwise
    multiply is several times faster than a broadcast over the last axis on CPU.
    """
    ys = torch.linspace(-1.0, 1.0, height, device=device).square_().view(height, 1)
    xs = torch.linspace(-1.0, 1.0, width, device=device).square_().view(1, width)
    distance = (ys + xs).sqrt_().mul_(1.0 / math.sqrt(2.0))  # 0 at the centre, 1 at corners
    t = distance.sub_(vignette.radius).div_(1.0 - vignette.radius).clamp_(0.0, 1.0)
    falloff = t * t * (3.0 - 2.0 * t)  # smoothstep
    mask = falloff.mul_(-vignette.strength).add_(1.0)
    return mask.view(1, height, width, 1).expand(1, height, width, 3).contiguous()


class _Caption:
    """A caption rendered once: where it goes and how it blends (``out = out * keep + ink``)."""

    def __init__(self, top: int, left: int, keep: torch.Tensor, ink: torch.Tensor) -> None:
        self.top, self.left, self.keep, self.ink = top, left, keep, ink

    @classmethod
    def render(cls, text: str, height: int, width: int, device: torch.device) -> _Caption | None:
        """White text with a soft dark outline, bottom left, scaled with the frame height."""
        lines = text.encode("ascii", "replace").decode("ascii").rstrip().splitlines()
        font = cv2.FONT_HERSHEY_SIMPLEX
        scale = max(0.35, height / 720.0)
        thickness = max(1, round(2 * height / 720.0))
        # The outline is the ink grown outwards: drawing thicker text would not line up,
        # since Hershey glyphs advance further with a thicker stroke.
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * thickness + 1,) * 2)
        margin = max(2, height // 30)
        ink = np.zeros((height, width), np.uint8)
        line_height = cv2.getTextSize("Ag", font, scale, thickness)[0][1] * 3 // 2 + thickness
        baseline = height - margin - line_height * (len(lines) - 1)
        for i, line in enumerate(lines):
            origin = (margin, baseline + i * line_height)
            cv2.putText(ink, line, origin, font, scale, 255, thickness, cv2.LINE_AA)
        shadow = cv2.dilate(ink, grow)
        rows, cols = np.nonzero(shadow)
        if rows.size == 0:
            return None
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1

        def crop(mask: np.ndarray) -> torch.Tensor:
            region = np.ascontiguousarray(mask[top:bottom, left:right, None])
            return torch.from_numpy(region).to(device=device, dtype=torch.float32).div_(255.0)

        ink_t, shadow_t = crop(ink), crop(shadow)
        keep = (1.0 - 0.7 * shadow_t).mul_(1.0 - ink_t)
        return cls(int(top), int(left), keep, ink_t)

    def draw(self, out: torch.Tensor) -> None:
        """Blend into ``out`` (1, H, W, 3) in place; touches only the caption's box."""
        rows, cols = self.ink.shape[0], self.ink.shape[1]
        region = out[0, self.top : self.top + rows, self.left : self.left + cols]
        region.mul_(self.keep).add_(self.ink)
