"""The engine end to end: real frames through real worker processes, and every fault."""

from __future__ import annotations

import glob
import itertools
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from studio.engine import Engine, EngineError, EngineState
from studio.spec import PipelineSpec

SHIFT = """
from pydantic import Field
from studio import BaseParams, VideoOutput, pipeline

class Shift(BaseParams):
    amount: float = Field(0.3, ge=0, le=1)
    channel: int = Field(1, ge=0, le=2)

UPDATES = []

@pipeline(name="shift", params=Shift)
class ShiftPipe:
    def on_update(self, **params):
        UPDATES.append(params)

    def transform(self, frame, params):
        t = frame.tensor
        t[..., params.channel].add_(params.amount).clamp_(0, 1)
        return VideoOutput(t, metadata={"updates": len(UPDATES)})
"""


def make_engine(path: Path, name: str, target: str, params_model: str | None, pool, **kw):
    module = path.stem
    spec = PipelineSpec(
        name, f"{module}:{target}", f"{module}:{params_model}" if params_model else None
    )
    events = []
    engine = Engine(spec, str(path), pool=pool, on_event=events.append, **kw)
    engine.test_events = events
    return engine


def kinds(engine) -> list[str]:
    return [e.kind for e in engine.test_events]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def black(h=48, w=64):
    return np.zeros((h, w, 3), np.uint8)


def no_segments_left(engine_prefix: str) -> bool:
    return not glob.glob(f"/dev/shm/{engine_prefix}*")


@pytest.fixture
def shift(write_pipeline, pool):
    engine = make_engine(write_pipeline("shift_mod", SHIFT), "shift", "ShiftPipe", "Shift", pool)
    engine.start()
    yield engine
    engine.stop()


def test_frames_come_back_processed_with_their_timings(shift):
    out = shift.process(black(), timeout=30)
    assert out.image.shape == (48, 64, 3)
    assert np.all(out.image[..., 1] == 77) and np.all(out.image[..., [0, 2]] == 0)  # 0.3 * 255
    assert out.failed is False and out.pipeline_ms > 0 and out.latency_ms >= out.pipeline_ms
    assert shift.info["device_label"] == "CPU"
    assert shift.info["schema"]["properties"]["amount"]["maximum"] == 1
    assert shift.params == {"amount": 0.3, "channel": 1}
    stats = shift.snapshot()
    assert stats.frames_in == 1 and stats.frames_out == 1 and stats.device == "CPU"


def test_mid_stream_updates_apply_between_frames_and_bad_ones_keep_the_last_good(shift):
    shift.process(black(), timeout=30)
    shift.update_params({"amount": 0.5, "channel": 0})
    assert wait_for(lambda: "params_applied" in kinds(shift))
    out = shift.process(black(), timeout=30)
    assert out.image[0, 0].tolist() == [128, 0, 0]
    assert out.metadata == {"updates": 1}

    shift.update_params({"amount": 4})
    assert wait_for(lambda: "params_rejected" in kinds(shift))
    rejected = next(e for e in shift.test_events if e.kind == "params_rejected")
    assert rejected.data["errors"][0]["field"] == "amount"
    assert "amount" in rejected.message
    assert shift.process(black(), timeout=30).image[0, 0].tolist() == [128, 0, 0]
    assert shift.params == {"amount": 0.5, "channel": 0}


def test_updates_sent_during_a_slow_frame_are_coalesced_latest_wins(write_pipeline, pool):
    source = SHIFT.replace(
        "def transform(self, frame, params):",
        "def transform(self, frame, params):\n        import time; time.sleep(0.3)",
    )
    engine = make_engine(write_pipeline("slow_shift", source), "shift", "ShiftPipe", "Shift", pool)
    engine.start()
    try:
        engine.submit(black())
        time.sleep(0.05)  # the frame is in the worker now
        for i in range(1, 21):
            engine.update_params({"amount": i / 100})
        assert wait_for(lambda: kinds(engine).count("params_applied") == 20)
        out = engine.process(black(), timeout=30)
        assert out.image[0, 0, 1] == round(0.2 * 255)
        assert out.metadata["updates"] < 20  # on_update ran once per batch, not per request
        assert engine.params["amount"] == 0.2
    finally:
        engine.stop()


def test_a_slow_pipeline_drops_frames_instead_of_queueing(write_pipeline, pool):
    source = """
    import time
    from studio import pipeline

    @pipeline(name="slow")
    def slow(frame, params):
        time.sleep(0.15)
        return frame.tensor
    """
    outputs = []
    engine = make_engine(
        write_pipeline("slow_mod", source), "slow", "slow", None, pool, on_frame=outputs.append
    )
    engine.start()
    try:
        sent = []
        for i in range(40):  # 40 frames at 100 fps, ~4x faster than the pipeline
            image = np.full((32, 32, 3), i, np.uint8)
            sent.append(engine.submit(image))
            time.sleep(0.01)
        assert wait_for(engine.idle, 10)
        stats = engine.snapshot()
    finally:
        engine.stop()
    assert len(outputs) < 15
    assert stats.drops >= 40 - len(outputs) - 1
    assert stats.frames_in == 40 and stats.frames_out == len(outputs)
    assert outputs[-1].image[0, 0, 0] == 39  # the newest frame always gets through
    seqs = [o.seq for o in outputs]
    assert (seqs == sorted(seqs) and len(set(np.diff(seqs))) > 1) or len(seqs) <= 2
    assert max(o.latency_ms for o in outputs) < 600  # bounded: one frame in, one waiting


def test_output_size_may_differ_and_metadata_travels(write_pipeline, pool):
    source = """
    from studio import VideoOutput, pipeline

    @pipeline(name="half")
    def half(frame, params):
        return VideoOutput(frame.tensor[:, ::2, ::4], timestamp=frame.timestamp + 1,
                           metadata={"w": frame.width})
    """
    engine = make_engine(write_pipeline("half_mod", source), "half", "half", None, pool)
    engine.start()
    try:
        out = engine.process(black(40, 80), timeout=30, pts=900)
        big = engine.process(black(400, 800), timeout=30)  # segments grow on demand
    finally:
        engine.stop()
    assert out.image.shape == (20, 20, 3) and out.pts == 901 and out.metadata == {"w": 80}
    assert big.image.shape == (200, 200, 3)


def test_a_raising_transform_passes_the_frame_through_and_the_stream_goes_on(write_pipeline, pool):
    source = """
    from studio import pipeline

    @pipeline(name="flaky")
    def flaky(frame, params):
        if frame.timestamp % 2:
            raise ValueError("odd frames are not my thing")
        return 1 - frame.tensor
    """
    engine = make_engine(write_pipeline("flaky_mod", source), "flaky", "flaky", None, pool)
    engine.start()
    try:
        image = np.full((8, 8, 3), 10, np.uint8)
        bad = engine.process(image, timeout=30, pts=1)
        good = engine.process(image, timeout=30, pts=2)
    finally:
        engine.stop()
    assert bad.failed and "odd frames" in bad.error
    assert np.array_equal(bad.image, image)
    assert not good.failed and good.image[0, 0, 0] == 245
    error = next(e for e in engine.test_events if e.kind == "transform_error")
    assert "ValueError: odd frames are not my thing" in error.message
    assert 'flaky_mod.py", line 7' in error.detail
    assert engine.snapshot().failed == 1


def test_a_bad_return_value_is_reported_naming_the_pipeline(write_pipeline, pool):
    source = """
    from studio import pipeline

    @pipeline(name="lazy")
    def lazy(frame, params):
        return None
    """
    engine = make_engine(write_pipeline("lazy_mod", source), "lazy", "lazy", None, pool)
    engine.start()
    try:
        out = engine.process(black(), timeout=30)
    finally:
        engine.stop()
    assert out.failed and "pipeline 'lazy' returned NoneType" in out.error


def test_on_ready_failure_is_reported_and_the_engine_stays_stopped(write_pipeline, pool):
    source = """
    from studio import Pipeline, pipeline

    @pipeline(name="broken-ready")
    class Broken(Pipeline):
        def on_ready(self, **params):
            raise RuntimeError("weights not found: run studio prepare")

        def transform(self, frame, params):
            return frame.tensor
    """
    engine = make_engine(
        write_pipeline("broken_ready", source), "broken-ready", "Broken", None, pool
    )
    with pytest.raises(
        EngineError, match="on_ready failed: RuntimeError: weights not found"
    ) as info:
        engine.start()
    assert info.value.kind == "ready"
    assert engine.state is EngineState.FAILED
    assert engine.submit(black()) == 0
    assert "load_error" in kinds(engine)
    engine.stop()


def test_invalid_start_params_name_the_field(write_pipeline, pool):
    engine = make_engine(
        write_pipeline("shift_bad", SHIFT),
        "shift",
        "ShiftPipe",
        "Shift",
        pool,
        params={"channel": 7},
    )
    with pytest.raises(
        EngineError, match="channel: Input should be less than or equal to 2"
    ) as info:
        engine.start()
    assert info.value.kind == "params" and info.value.errors[0]["field"] == "channel"
    engine.stop()


def test_an_unloadable_pipeline_is_a_load_error(write_pipeline, pool):
    path = write_pipeline("gone", "raise ImportError('no module named magic')\n")
    engine = make_engine(path, "gone", "gone", None, pool)
    with pytest.raises(EngineError, match=r"cannot load pipeline 'gone'.*magic") as info:
        engine.start()
    assert info.value.kind == "load"
    engine.stop()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("import os; os._exit(3)", "exited with code 3"),
        ("import ctypes; ctypes.string_at(0)", "crashed (SIGSEGV)"),
    ],
)
def test_a_dying_worker_is_detected_and_can_be_restarted(write_pipeline, pool, body, expected):
    source = f"""
    import os
    from studio import pipeline

    @pipeline(name="doomed")
    def doomed(frame, params):
        if frame.timestamp == 13:
            {body}
        return frame.tensor
    """
    engine = make_engine(write_pipeline("doomed", source), "doomed", "doomed", None, pool)
    engine.start()
    prefix = f"lps{os.getpid()}_{engine.id}_"
    try:
        assert engine.process(black(), timeout=30, pts=1).failed is False
        with pytest.raises(EngineError):
            engine.process(black(), timeout=30, pts=13)
        assert engine.state is EngineState.FAILED
        crash = next(e for e in engine.test_events if e.kind == "crashed")
        assert expected in crash.message
        assert wait_for(lambda: no_segments_left(prefix), 5)
        engine.restart()
        assert engine.process(black(), timeout=30, pts=2).failed is False
    finally:
        engine.stop()
    assert no_segments_left(prefix)


def test_a_hung_pipeline_is_stopped_and_reported(write_pipeline, pool):
    source = """
    import time
    from studio import pipeline

    @pipeline(name="stuck")
    def stuck(frame, params):
        time.sleep(3600)
    """
    engine = make_engine(
        write_pipeline("stuck", source), "stuck", "stuck", None, pool, hang_timeout=1.0
    )
    engine.start()
    began = time.monotonic()
    try:
        engine.submit(black())
        assert wait_for(lambda: engine.state is EngineState.FAILED, 10)
        assert time.monotonic() - began < 6
        hung = next(e for e in engine.test_events if e.kind == "hung")
        assert "has not returned a frame for 1 s" in hung.message
    finally:
        engine.stop()


def test_reload_picks_up_new_code_and_keeps_the_params_the_new_model_accepts(write_pipeline, pool):
    path = write_pipeline("reloadable", SHIFT)
    engine = make_engine(path, "shift", "ShiftPipe", "Shift", pool)
    engine.start()
    try:
        engine.update_params({"amount": 0.5, "channel": 2})
        assert wait_for(lambda: "params_applied" in kinds(engine))
        assert engine.process(black(), timeout=30).image[0, 0].tolist() == [0, 0, 128]
        # the new model narrows channel to 0..1: amount carries over, channel is dropped
        path.write_text(
            SHIFT.replace("le=2", "le=1").replace(
                ".add_(params.amount)", ".add_(params.amount / 2)"
            )
        )
        engine.reload(wait=True, timeout=60)
        assert engine.state is EngineState.RUNNING
        assert engine.params == {"amount": 0.5, "channel": 1}
        reloaded = next(e for e in engine.test_events if e.kind == "reloaded")
        assert "channel" in reloaded.message
        assert engine.process(black(), timeout=30).image[0, 0].tolist() == [0, 64, 0]
    finally:
        engine.stop()


def test_a_failed_reload_keeps_the_old_code_running(write_pipeline, pool):
    path = write_pipeline("fragile", SHIFT)
    engine = make_engine(path, "shift", "ShiftPipe", "Shift", pool)
    engine.start()
    try:
        path.write_text("def broken(:\n")
        with pytest.raises(EngineError, match=r"SyntaxError|invalid syntax"):
            engine.reload(wait=True, timeout=60)
        assert engine.state is EngineState.RUNNING
        error = next(e for e in engine.test_events if e.kind == "load_error")
        assert error.message.startswith("reload failed, the previous code keeps running")
        assert engine.process(black(), timeout=30).image[0, 0, 1] == 77
    finally:
        engine.stop()


def test_stop_runs_on_stop_and_releases_everything(write_pipeline, pool, tmp_path):
    marker = tmp_path / "stopped.txt"
    source = f"""
    from studio import Pipeline, pipeline

    @pipeline(name="tidy")
    class Tidy(Pipeline):
        def transform(self, frame, params):
            return frame.tensor

        def on_stop(self):
            open({str(marker)!r}, "w").write("bye")
    """
    engine = make_engine(write_pipeline("tidy", source), "tidy", "Tidy", None, pool)
    engine.start()
    engine.process(black(), timeout=30)
    prefix = f"lps{os.getpid()}_{engine.id}_"
    assert glob.glob(f"/dev/shm/{prefix}*")
    began = time.monotonic()
    engine.stop()
    assert time.monotonic() - began < 3
    assert marker.read_text() == "bye"
    assert engine.state is EngineState.STOPPED
    assert no_segments_left(prefix)
    assert not [t for t in threading.enumerate() if t.name.startswith("engine-reader-tidy")]


def test_prints_in_the_pipeline_reach_the_log(write_pipeline, pool):
    source = """
    from studio import pipeline

    @pipeline(name="chatty")
    def chatty(frame, params):
        print("hello from the pipeline")
        return frame.tensor
    """
    engine = make_engine(write_pipeline("chatty", source), "chatty", "chatty", None, pool)
    engine.start()
    try:
        engine.process(black(), timeout=30)
        assert wait_for(
            lambda: any(
                e.kind == "log" and "hello from the pipeline" in e.message
                for e in engine.test_events
            ),
            5,
        )
    finally:
        engine.stop()


def test_the_worker_runs_with_its_tuning_and_the_users_environment_wins(write_pipeline, pool):
    from studio.engine.pool import WORKER_ENV, worker_environment

    source = """
    import os
    from studio import VideoOutput, pipeline

    @pipeline(name="env")
    def env(frame, params):
        names = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "OMP_WAIT_POLICY")
        return VideoOutput(frame.tensor, metadata={n: os.environ.get(n) for n in names})
    """
    engine = make_engine(write_pipeline("env_mod", source), "env", "env", None, pool)
    engine.start()
    try:
        out = engine.process(black(), timeout=30)
    finally:
        engine.stop()
    expected = {name: os.environ.get(name, value) for name, value in WORKER_ENV.items()}
    assert out.metadata == expected
    mine = worker_environment({"OMP_WAIT_POLICY": "ACTIVE", "PYTHONPATH": "/x"})
    assert mine["OMP_WAIT_POLICY"] == "ACTIVE"
    assert mine["MALLOC_MMAP_THRESHOLD_"] == WORKER_ENV["MALLOC_MMAP_THRESHOLD_"]
    assert mine["PYTHONPATH"].endswith(os.pathsep + "/x")


SLOW = """
import time
from studio import VideoOutput, pipeline

@pipeline(name="slow")
def slow(frame, params):
    started = time.monotonic()
    time.sleep(0.15)
    return VideoOutput(frame.tensor, metadata={"started": started})
"""


@pytest.mark.parametrize("lookahead", [False, True])
def test_lookahead_keeps_one_more_frame_in_the_worker(write_pipeline, pool, lookahead):
    outputs = []
    engine = make_engine(
        write_pipeline("slow_la_mod", SLOW),
        "slow",
        "slow",
        None,
        pool,
        on_frame=outputs.append,
        lookahead=lookahead,
    )
    engine.start()
    try:
        for i in range(4):  # all at once, while the first runs
            engine.submit(np.full((16, 16, 3), i, np.uint8))
        assert wait_for(engine.idle, 10)
        stats = engine.snapshot()
    finally:
        engine.stop()
    values = [int(o.image[0, 0, 0]) for o in outputs]
    # latest wins: 0 runs, 1..3 replace each other in the one spare slot; with lookahead
    # 1 waits in the worker and only 2 is replaced by 3
    assert values == ([0, 1, 3] if lookahead else [0, 3])
    assert stats.drops == (1 if lookahead else 2)
    starts = [o.metadata["started"] for o in outputs]
    # one at a time, in order: a queued frame never runs beside the one in flight
    assert all(b - a >= 0.15 for a, b in itertools.pairwise(starts)), starts


@pytest.mark.parametrize("lookahead", [False, True])
def test_process_all_returns_every_frame_in_order(write_pipeline, pool, lookahead):
    source = """
    import time
    from studio import pipeline

    @pipeline(name="tick")
    def tick(frame, params):
        time.sleep(0.01)
        return 1 - frame.tensor
    """
    engine = make_engine(
        write_pipeline("tick_mod", source), "tick", "tick", None, pool, lookahead=lookahead
    )
    engine.start()
    try:
        items = ((np.full((24, 32, 3), i, np.uint8), {"pts": 1000 + i}) for i in range(30))
        results = list(engine.process_all(items, timeout=30))
        stats = engine.snapshot()
        again = list(engine.process_all([(black(), {})]))  # reusable, and done with the last
    finally:
        engine.stop()
    assert [r.pts for r in results] == list(range(1000, 1030))
    assert [int(r.image[0, 0, 0]) for r in results] == [255 - i for i in range(30)]
    assert stats.drops == 0 and stats.frames_out == 30
    assert len(again) == 1 and int(again[0].image[0, 0, 0]) == 255


def test_process_all_stops_with_a_clear_error_when_the_worker_dies(write_pipeline, pool):
    source = """
    import os
    from studio import pipeline

    @pipeline(name="dies")
    def dies(frame, params):
        if frame.tensor[0, 0, 0, 0] > 0.5:
            os._exit(3)
        return frame.tensor
    """
    engine = make_engine(
        write_pipeline("dies_mod", source), "dies", "dies", None, pool, lookahead=True
    )
    engine.start()
    seen = []
    try:
        items = ((np.full((8, 8, 3), 0 if i < 3 else 255, np.uint8), {}) for i in range(10))
        with pytest.raises(EngineError) as err:
            for result in engine.process_all(items, timeout=30):
                seen.append(result)
    finally:
        engine.stop()
    assert len(seen) == 3
    assert "dies" in str(err.value)
