"""The bundled example pipelines, run for real: real frames through PipelineRuntime."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from studio.frames import VideoFrame
from studio.params import params_schema
from studio.runtime import ParamsError, PipelineRuntime, prepare_pipeline
from studio.spec import import_module

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
MAGENTA = torch.tensor([1.0, 0.0, 1.0])
CYAN = torch.tensor([0.0, 1.0, 1.0])


@functools.cache
def module(stem: str) -> ModuleType:
    """Import ``pipelines/<stem>.py`` once, under a name no other test uses."""
    return import_module(f"_bundled_{stem}", str(PIPELINES / f"{stem}.py"))


def runtime(stem: str, attr: str) -> PipelineRuntime:
    spec = getattr(module(stem), attr).__pipeline_spec__
    return PipelineRuntime(spec, file=str(PIPELINES / f"{stem}.py"), device="cpu")


def process(stem: str, attr: str, image: torch.Tensor, params: dict | None = None) -> torch.Tensor:
    """Start, run one frame (a copy of ``image``, (H, W, 3)), stop; return (H, W, 3)."""

    async def scenario() -> torch.Tensor:
        rt = runtime(stem, attr)
        await rt.start(params)
        try:
            result = await rt.transform(VideoFrame(image.unsqueeze(0).clone()))
        finally:
            await rt.stop()
        return result.tensor

    return asyncio.run(scenario())


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5) -> None:
    """Like torch.testing.assert_close, which costs seconds of imports on its first call."""
    assert actual.shape == expected.shape
    difference = (actual - expected).abs().max().item()
    assert difference <= atol, f"values differ by up to {difference} (more than {atol})"


def grey(value: float, size: int = 64) -> torch.Tensor:
    return torch.full((size, size, 3), value)


def square(
    size: int = 64, inside: tuple[float, float, float] = (1.0, 1.0, 1.0), outside: float = 0.0
) -> torch.Tensor:
    """A centred square, rows/columns size/4 .. 3*size/4 - 1, on a flat background."""
    image = grey(outside, size)
    image[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = torch.tensor(inside)
    return image


def gradient(height: int = 64, width: int = 64) -> torch.Tensor:
    """Every channel different and varying: red left to right, green top to bottom."""
    ys, xs = torch.meshgrid(
        torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij"
    )
    return torch.stack([xs, ys, 1 - (xs + ys) / 2], -1)


# -- green-shift -----------------------------------------------------------------------------


def test_green_shift_adds_exactly_0_3_to_green_only() -> None:
    torch.manual_seed(1)
    image = torch.rand(48, 40, 3) * 0.7
    out = process("green_shift", "green_shift", image)
    assert out.shape == (48, 40, 3)
    assert_close(out[..., 1], image[..., 1] + 0.3, atol=1e-6)
    assert torch.equal(out[..., 0], image[..., 0])
    assert torch.equal(out[..., 2], image[..., 2])


def test_green_shift_clamps_at_one() -> None:
    image = torch.zeros(8, 8, 3)
    image[..., 1] = torch.linspace(0.6, 1.0, 64).view(8, 8)
    out = process("green_shift", "green_shift", image)
    assert out[..., 1].max() == 1.0
    assert torch.all(out[..., 1][image[..., 1] >= 0.7] == 1.0)
    assert torch.all(out[..., 1][image[..., 1] < 0.69] < 1.0)


def test_green_shift_is_a_documented_async_function_without_params() -> None:
    fn = module("green_shift").green_shift
    spec = fn.__pipeline_spec__
    assert spec.name == "green-shift" and spec.params is None
    assert asyncio.iscoroutinefunction(fn)
    assert "green" in (fn.__doc__ or "")


# -- edge-detect -----------------------------------------------------------------------------


def test_edge_detect_finds_the_border_of_a_square() -> None:
    out = process("edge_detect", "EdgeDetect", square(64))
    assert torch.equal(out[..., 0], out[..., 1]) and torch.equal(out[..., 1], out[..., 2])
    edges = out[..., 0]
    lo, hi = 16, 47  # the square's first and last row/column
    # both pixel rings around the step, away from the corners, are full-strength edges
    for ring in (lo - 1, lo, hi, hi + 1):
        assert edges[ring, lo + 2 : hi - 1].min() > 0.99
        assert edges[lo + 2 : hi - 1, ring].min() > 0.99
    assert edges[lo + 2 : hi - 1, lo + 2 : hi - 1].abs().max() == 0  # inside
    outside = edges.clone()
    outside[lo - 2 : hi + 3, lo - 2 : hi + 3] = 0
    assert outside.abs().max() == 0


def test_edge_detect_threshold_hides_weak_edges() -> None:
    faint = square(64, inside=(0.3, 0.3, 0.3))  # contrast 0.3
    low = process("edge_detect", "EdgeDetect", faint, {"threshold": 0.15})
    high = process("edge_detect", "EdgeDetect", faint, {"threshold": 0.5})
    # (contrast - threshold) / 0.25 along a straight edge (corners respond a little more)
    assert_close(low[16, 20:44], torch.full((24, 3), 0.6))
    assert high.max() == 0


def test_edge_detect_colorize_uses_the_picture_colours() -> None:
    red = square(64, inside=(1.0, 0.0, 0.0))
    white = process("edge_detect", "EdgeDetect", red, {"colorize": False})
    tinted = process("edge_detect", "EdgeDetect", red, {"colorize": True})
    ring = (16, slice(20, 44))  # the square's top row, an edge
    assert torch.equal(white[ring][:, 0], white[ring][:, 1])  # white edges: R == G == B
    assert white[ring].min() > 0.2
    assert tinted[ring][:, 0].min() > 0.99  # red edges, at full brightness
    assert tinted[ring][:, 1:].abs().max() == 0
    assert tinted.min() >= 0 and tinted.max() <= 1


def test_edge_detect_update_mid_stream_changes_output() -> None:
    async def scenario() -> tuple[torch.Tensor, torch.Tensor]:
        rt = runtime("edge_detect", "EdgeDetect")
        await rt.start({"threshold": 0.1})
        frame = square(64, inside=(0.4, 0.4, 0.4)).unsqueeze(0)
        before = (await rt.transform(VideoFrame(frame.clone()))).tensor
        assert await rt.update({"threshold": 0.45}) == {"threshold": 0.45, "colorize": False}
        after = (await rt.transform(VideoFrame(frame.clone()))).tensor
        await rt.stop()
        return before, after

    before, after = asyncio.run(scenario())
    assert before.max() > 0.9
    assert after.max() == 0


def test_edge_detect_hooks_run_in_order() -> None:
    async def scenario() -> None:
        rt = runtime("edge_detect", "EdgeDetect")
        pipe = rt.instance
        assert pipe.luma is None
        await rt.start({"threshold": 0.25, "colorize": True})
        assert pipe.device == torch.device("cpu")
        assert pipe.luma is not None and pipe.luma.device == pipe.device  # on_ready
        assert pipe.offset == pytest.approx(1.0) and pipe.colorize is True
        await rt.update({"threshold": 0.5})  # on_update
        assert pipe.offset == pytest.approx(2.0) and pipe.colorize is True
        await rt.stop()  # on_stop
        assert pipe.luma is None

    asyncio.run(scenario())


def test_edge_detect_prepare_models_has_nothing_to_download(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = module("edge_detect").EdgeDetect.__pipeline_spec__
    assert prepare_pipeline(spec.to_dict(), str(PIPELINES / "edge_detect.py")) == 0
    assert "no models to download" in capsys.readouterr().out


def test_edge_detect_is_plain_python_and_handles_odd_frames() -> None:
    mod = module("edge_detect")
    pipe = mod.EdgeDetect()  # no runtime, no on_ready: builds its weights on first use
    out = pipe.transform(VideoFrame(square(32).unsqueeze(0)), mod.EdgeParams())
    assert out.shape == (1, 32, 32, 3) and out.max() > 0.99
    tiny = pipe.transform(VideoFrame(torch.ones(1, 2, 5, 3)), mod.EdgeParams())
    assert tiny.shape == (1, 2, 5, 3) and tiny.max() == 0


def test_sobel_matches_conv2d() -> None:
    torch.manual_seed(2)
    image = torch.rand(37, 53)
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([sobel_x, sobel_x.t()]).unsqueeze(1)
    grad = F.conv2d(image[None, None], kernels)[0]
    expected = torch.sqrt(grad[0] ** 2 + grad[1] ** 2)
    got = module("edge_detect").sobel_magnitude(image)
    assert_close(got, expected)


# -- color-grade -----------------------------------------------------------------------------


def grade(image: torch.Tensor, **params: Any) -> torch.Tensor:
    return process("color_grade", "ColorGrade", image, params)


def test_color_grade_defaults_change_nothing() -> None:
    image = gradient()
    assert torch.equal(grade(image), image)


@pytest.mark.parametrize("size", [(64, 64), (33, 35)])  # blocks of 8 pixels, and of 1
def test_color_grade_exposure_is_in_stops(size: tuple[int, int]) -> None:
    image = gradient(*size) * 0.4
    assert_close(grade(image, exposure=1.0), image * 2)
    assert_close(grade(image, exposure=-2.0), image / 4)
    bright = grade(gradient(*size), exposure=3.0)
    assert bright.max() == 1.0 and bright.min() >= 0


def test_color_grade_contrast_pivots_on_mid_grey() -> None:
    image = gradient()
    flat = grade(image, contrast=0.0)
    assert_close(flat, torch.full_like(image, 0.5), atol=1e-6)
    steep = grade(image, contrast=2.0)
    expected = ((image - 0.5) * 2 + 0.5).clamp(0, 1)
    assert_close(steep, expected)


def test_color_grade_saturation() -> None:
    image = gradient()
    luma = image @ torch.tensor([0.2126, 0.7152, 0.0722])
    mono = grade(image, saturation=0.0)
    for channel in range(3):
        assert_close(mono[..., channel], luma)
    vivid = grade(image * 0.5 + 0.25, saturation=2.0)
    spread = (vivid.amax(-1) - vivid.amin(-1)).mean()
    assert spread > 1.5 * ((image * 0.5).amax(-1) - (image * 0.5).amin(-1)).mean()


def test_color_grade_looks() -> None:
    mid = grey(0.5, 16)
    warm, cool = grade(mid, look="warm"), grade(mid, look="cool")
    assert warm[..., 0].min() > 0.5 > warm[..., 2].max()
    assert cool[..., 2].min() > 0.5 > cool[..., 0].max()
    sepia = grade(grey(1.0, 16), look="sepia")[0, 0]
    assert sepia[0] == pytest.approx(1.0) and sepia[0] > sepia[1] > sepia[2] > 0.5
    mono = grade(gradient(), look="mono")
    assert torch.equal(mono[..., 0], mono[..., 1]) and torch.equal(mono[..., 1], mono[..., 2])


def test_color_grade_posterize_leaves_n_levels() -> None:
    image = gradient(96, 96)
    for levels in (2, 5, 8):
        out = grade(image, posterize=levels)
        for channel in range(3):
            values = out[..., channel].unique()
            assert len(values) <= levels
            assert_close(values * (levels - 1), (values * (levels - 1)).round())
    assert len(grade(image)[..., 0].unique()) > 32  # and without it, a smooth gradient


def test_color_grade_vignette_darkens_corners_only() -> None:
    image = grey(0.5, 65)
    out = grade(image, vignette={"strength": 0.8, "radius": 0.5})
    assert out[32, 32, 0] == pytest.approx(0.5)  # centre untouched
    for y, x in ((0, 0), (0, 64), (64, 0), (64, 64)):
        assert out[y, x, 0] == pytest.approx(0.5 * 0.2, abs=1e-4)  # 1 - strength at corners
    wide = grade(image, vignette={"strength": 0.8, "radius": 0.9})
    assert wide[8, 8, 0] > out[8, 8, 0]  # a larger radius darkens less of the frame
    assert torch.equal(grade(image, vignette={"strength": 0.0, "radius": 0.1}), image)


def test_color_grade_caption_draws_bottom_left() -> None:
    image = grey(0.5, 128)
    out = grade(image, caption="Hello")
    changed = (out != image).any(-1)
    rows, cols = changed.nonzero(as_tuple=True)
    assert rows.numel() > 50
    assert rows.min() > 128 // 2 and cols.max() < 128 * 3 // 4  # bottom left
    assert out.max() > 0.95 and out.min() < 0.3  # white ink, dark outline
    two_lines = (grade(image, caption="Hello\nworld") != image).any(-1)
    assert two_lines.nonzero()[:, 0].min() < rows.min()  # the first line moves up
    assert torch.equal(grade(image, caption="   "), image)


def test_color_grade_caption_is_rendered_only_when_it_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cv2 = module("color_grade").cv2
    calls: list[str] = []
    put_text = cv2.putText

    def counting(img: Any, text: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(text)
        return put_text(img, text, *args, **kwargs)

    monkeypatch.setattr(cv2, "putText", counting)

    async def scenario() -> None:
        rt = runtime("color_grade", "ColorGrade")
        await rt.start({"caption": "one\ntwo"})
        for _ in range(3):
            await rt.transform(VideoFrame(torch.rand(1, 64, 64, 3)))
        assert calls == ["one", "two"]
        await rt.update({"exposure": 0.5})  # another param: the caption stays cached
        await rt.transform(VideoFrame(torch.rand(1, 64, 64, 3)))
        assert calls == ["one", "two"]
        await rt.transform(VideoFrame(torch.rand(1, 48, 64, 3)))  # another frame size
        await rt.update({"caption": "three"})
        await rt.transform(VideoFrame(torch.rand(1, 48, 64, 3)))
        assert calls == ["one", "two", "one", "two", "three"]
        await rt.stop()

    asyncio.run(scenario())


def test_color_grade_compare_modes() -> None:
    image = gradient(32, 32) * 0.5
    split = grade(image, exposure=1.0, compare="split")
    assert torch.equal(split[:, :15], image[:, :15])  # left: the original
    assert_close(split[:, 17:], image[:, 17:] * 2)
    assert torch.all(split[:, 15:17] == 1.0)  # the divider
    assert torch.equal(grade(image, exposure=1.0, compare="original"), image)


def test_color_grade_show_clipping() -> None:
    image = grey(0.2, 16)
    image[:8] = 0.8  # top half clips at +1 stop, bottom half does not
    plain = grade(image, exposure=1.0)
    marked = grade(image, exposure=1.0, show_clipping=True)
    assert not (plain == MAGENTA).all(-1).any()
    assert (marked[:8] == MAGENTA).all()
    assert torch.equal(marked[8:], plain[8:])
    dark = grade(grey(0.1, 8), contrast=2.0, show_clipping=True)  # 0.5 + 2 * -0.4 < 0
    assert (dark == CYAN).all()


def test_color_grade_output_stays_in_range() -> None:
    torch.manual_seed(3)
    image = torch.rand(40, 56, 3)
    for params in (
        {"exposure": 3.0, "contrast": 2.0, "saturation": 2.0, "look": "cool"},
        {"exposure": -3.0, "contrast": 0.0, "look": "sepia", "posterize": 3},
        {"saturation": 2.0, "vignette": {"strength": 1.0, "radius": 0.0}, "caption": "x"},
    ):
        out = grade(image, **params)
        assert out.min() >= 0 and out.max() <= 1, params


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"posterize": 1}, "posterize"),
        ({"exposure": 4}, "exposure"),
        ({"vignette": {"strength": 2}}, "vignette.strength"),
        ({"look": "purple"}, "look"),
        ({"compare": "sideways"}, "compare"),
        ({"caption": "x" * 201}, "caption"),
        ({"show_clipping": "perhaps"}, "show_clipping"),
        ({"exposre": 1}, "exposre"),  # a typo is an error, not a silent no-op
    ],
)
def test_color_grade_rejects_invalid_params(values: dict, field: str) -> None:
    async def scenario() -> None:
        rt = runtime("color_grade", "ColorGrade")
        await rt.start({"exposure": 0.5})
        with pytest.raises(ParamsError) as caught:
            await rt.update(values)
        assert field in {e["field"] for e in caught.value.errors}
        assert field in str(caught.value)
        assert rt.params_dict["exposure"] == 0.5  # the last good params are kept
        await rt.stop()

    asyncio.run(scenario())


def test_color_grade_on_stop_releases_caches() -> None:
    async def scenario() -> None:
        rt = runtime("color_grade", "ColorGrade")
        await rt.start({"exposure": 0.5, "vignette": {"strength": 0.5}, "caption": "hi"})
        await rt.transform(VideoFrame(torch.rand(1, 32, 32, 3)))
        pipe = rt.instance
        assert pipe._vignette is not None and pipe._caption is not None
        await rt.stop()
        assert pipe._vignette is None and pipe._caption is None and pipe._grade_cache is None

    asyncio.run(scenario())


def test_color_grade_params_carry_form_hints() -> None:
    schema = params_schema(module("color_grade").GradeParams)
    props = schema["properties"]
    assert props["exposure"]["step"] == 0.1 and props["exposure"]["group"] == "Tone"
    assert props["caption"]["widget"] == "multiline"
    assert [name for name, _ in sorted(props.items(), key=lambda kv: kv[1]["order"])] == list(props)
    assert schema["$defs"]["Vignette"]["properties"]["radius"]["maximum"] == 0.95
    assert schema["$defs"]["Compare"]["enum"] == ["graded", "split", "original"]
