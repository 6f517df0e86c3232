"""The studio command end to end: real discovery, real engine, real MP4 files."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import av
import numpy as np
import pytest

from studio.cli import main

GOOD = """
from pydantic import Field
from studio import BaseParams, pipeline

class Gain(BaseParams):
    gain: float = Field(0.5, ge=0, le=1, description="how bright")

@pipeline(name="dimmer", params=Gain)
def dimmer(frame, params):
    \"\"\"Scale the picture's brightness.\"\"\"
    return frame.tensor * params.gain
"""

FLAKY = """
from studio import pipeline

@pipeline(name="flaky-cli")
def flaky(frame, params):
    if (frame.timestamp // 3000) % 2:
        raise ValueError("every other frame fails")
    return frame.tensor
"""

CRASHY = """
import os
from studio import pipeline

@pipeline(name="crashy")
def crashy(frame, params):
    os._exit(9)
"""

NOT_READY = """
from studio import Pipeline, pipeline

@pipeline(name="not-ready")
class NotReady(Pipeline):
    def on_ready(self, **params):
        raise FileNotFoundError("model.safetensors")

    def transform(self, frame, params):
        return frame.tensor
"""

PREPARED = """
from studio import Pipeline, pipeline

@pipeline(name="preparing")
class Preparing(Pipeline):
    @classmethod
    def prepare_models(cls):
        print("downloading weights... done")

    def transform(self, frame, params):
        return frame.tensor

@pipeline(name="bad-prepare")
class BadPrepare(Pipeline):
    @classmethod
    def prepare_models(cls):
        raise ConnectionError("hub unreachable")

    def transform(self, frame, params):
        return frame.tensor
"""


@pytest.fixture
def folder(tmp_path):
    pipes = tmp_path / "pipes"
    pipes.mkdir()
    for name, source in [
        ("good", GOOD),
        ("flaky", FLAKY),
        ("crashy", CRASHY),
        ("not_ready", NOT_READY),
        ("prepared", PREPARED),
    ]:
        (pipes / f"{name}.py").write_text(source)
    (pipes / "broken.py").write_text("import os\n\ndef oops(:\n    pass\n")
    return pipes


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_video(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_list_json_has_every_pipeline_and_the_broken_file(capsys, folder):
    code, out, _ = run(capsys, "list", "--pipelines", folder, "--json")
    assert code == 0
    entries = json.loads(out)
    for entry in entries:
        assert {"name", "spec", "file", "doc", "params_schema", "defaults", "error"} <= set(entry)
    by_name = {e["name"]: e for e in entries if e["name"]}
    assert {"green-shift", "edge-detect", "dimmer", "flaky-cli"} <= set(by_name)
    dimmer = by_name["dimmer"]
    assert dimmer["error"] is None and dimmer["defaults"] == {"gain": 0.5}
    assert dimmer["doc"] == "Scale the picture's brightness."
    assert dimmer["params_schema"]["properties"]["gain"]["maximum"] == 1
    assert dimmer["spec"]["pipeline"] == "good:dimmer"
    broken = [e for e in entries if e["name"] is None]
    assert len(broken) == 1 and broken[0]["file"].endswith("broken.py")
    assert "broken.py:3" in broken[0]["error"] and "SyntaxError" in broken[0]["error"]


def test_list_for_people_names_the_broken_file(capsys, folder):
    code, out, _ = run(capsys, "list", "--pipelines", folder)
    assert code == 0
    assert "green-shift" in out and "dimmer" in out
    assert "could not be loaded" in out and "broken.py:3" in out


def test_run_writes_the_processed_video_and_prints_stats(capsys, tmp_path):
    output = tmp_path / "out.mp4"
    code, out, err = run(
        capsys, "run", "green-shift", "--frames", 12, "--size", "96x64", "--output", output
    )
    assert code == 0, err
    frames = read_video(output)
    assert len(frames) == 12 and frames[0].shape == (64, 96, 3)
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["pipeline"] == "green-shift" and figures["frames"] == 12
    assert figures["failed"] == 0 and figures["device"] == "CPU"
    # the test pattern through green-shift: green is lifted everywhere (0.3 * 255 = 77)
    reference = []
    from studio.sources import TestPattern

    with TestPattern(96, 64, realtime=False) as pattern:
        reference = [pattern.read().image for _ in range(12)]
    lift = frames[5][..., 1].astype(int) - reference[5][..., 1].astype(int)
    assert np.median(lift[reference[5][..., 1] < 150]) > 60
    red = np.abs(frames[5][..., 0].astype(int) - reference[5][..., 0].astype(int))
    assert np.median(red) < 12


def test_run_with_params_and_a_real_time_source(capsys, folder, tmp_path):
    output = tmp_path / "dim.mp4"
    code, out, err = run(
        capsys,
        "run",
        "dimmer",
        "--pipelines",
        folder,
        "--frames",
        15,
        "--size",
        "64x48",
        "--params",
        '{"gain": 0.0}',
        "--realtime",
        "--output",
        output,
    )
    assert code == 0, err
    frames = read_video(output)
    assert frames and max(int(f.max()) for f in frames) < 20  # gain 0: black
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["frames"] == len(frames)
    assert figures["frames"] + figures["drops"] == 15  # paced input: what's not shown is dropped


def test_failed_frames_are_counted_and_the_run_completes(capsys, folder, tmp_path):
    output = tmp_path / "flaky.mp4"
    code, out, err = run(
        capsys,
        "run",
        "flaky-cli",
        "--pipelines",
        folder,
        "--frames",
        10,
        "--size",
        "64x48",
        "--output",
        output,
    )
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-2])["failed"] == 5
    assert "5 frame(s) failed in transform" in out and "every other frame fails" in out
    assert len(read_video(output)) == 10


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no-such-pipeline"], "unknown pipeline 'no-such-pipeline'; available:"),
        (
            ["run", "dimmer", "--params", '{"gain": 3}'],
            "gain: Input should be less than or equal to 1",
        ),
        (["run", "dimmer", "--params", '{"gian": 1}'], "gian: Extra inputs are not permitted"),
        (["run", "dimmer", "--input", "/nonexistent/clip.mp4"], "cannot read input"),
        (["run", "not-ready"], "failed to start: on_ready failed: FileNotFoundError"),
        (["run", "crashy"], "worker exited with code 9"),
        (["prepare", "bad-prepare"], "prepare_models of 'bad-prepare' failed"),
    ],
)
def test_failures_exit_non_zero_with_one_line_reason(capsys, folder, tmp_path, argv, message):
    code, _, err = run(capsys, *argv, "--pipelines", folder)
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("studio: ") and message in last


def test_bad_params_json_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "green-shift", "--params", "{not json"])
    assert info.value.code == 2
    assert "invalid JSON" in capsys.readouterr().err


def test_prepare_runs_prepare_models_in_a_child(capsys, folder):
    code = subprocess.run(
        [sys.executable, "-m", "studio", "prepare", "preparing", "--pipelines", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert code.returncode == 0, code.stderr
    assert "downloading weights... done" in code.stdout
    assert "preparing prepared in" in code.stderr
    assert "preparing" not in sys.modules and "prepared" not in sys.modules


def test_bench_prints_the_table_and_writes_the_figures(capsys, tmp_path):
    report = tmp_path / "bench.json"
    code, out, err = run(
        capsys,
        "bench",
        "green-shift",
        "--size",
        "64x48",
        "--size",
        "96x64",
        "--frames",
        20,
        "--rounds",
        2,
        "--json",
        report,
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["pipeline", "size", "device", "direct"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["green-shift", "64x48"],
        ["green-shift", "96x64"],
    ]
    figures = json.loads(report.read_text())
    assert [(f["pipeline"], f["size"]) for f in figures] == [
        ("green-shift", "64x48"),
        ("green-shift", "96x64"),
    ]
    for f in figures:
        assert f["direct_fps"] > 0 and f["engine_fps"] > 0
        assert f["ratio"] == pytest.approx(statistics.median(f["rounds"]), abs=1e-3)
        assert 0 < f["latency_p50_ms"] <= f["latency_p95_ms"]
        assert f["frames"] == 40 and f["drops"] == 0  # offline: every frame, none dropped


def test_bench_refuses_bad_counts_and_unknown_pipelines(capsys):
    code, _, err = run(capsys, "bench", "green-shift", "--frames", 0)
    assert code != 0 and "--frames" in err
    code, _, err = run(capsys, "bench", "no-such-pipeline")
    assert code != 0 and "unknown pipeline 'no-such-pipeline'" in err
