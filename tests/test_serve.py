"""The studio as a box's live runner, end to end with real parts.

The test plays the orchestrator and the gateway: it creates the four trickle channels on a
real trickle server (tests/trickle_server.py), calls ``POST /live-video-to-video`` on the
studio's runner API, streams real MPEG-TS segments in real time, and decodes what comes back
on the output channel. Every frame carries its index as a row of black/white blocks, so each
output frame is matched to the input frame it came from, and the pipeline's effect is checked
on the pixels. One engine (a real worker process) serves every stream of the module.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from livepeer_gateway.channel_reader import ChannelReader
from livepeer_gateway.media_output import MediaOutput
from livepeer_gateway.trickle_subscriber import TrickleSubscriber
from trickle_server import TrickleServer

from studio.discovery import discover
from studio.engine import Engine
from studio.serve import LiveRunner, RunnerEvent, RunnerServer, RunnerStatus

PAINT = '''
"""Set the red channel to `red`; fail or crash on request (for the fault tests)."""
import os
from pydantic import Field
from studio import BaseParams, pipeline

class Paint(BaseParams):
    red: float = Field(1.0, ge=0, le=1)
    fail: bool = False
    crash: bool = False

@pipeline(name="paint", params=Paint)
def paint(frame, params):
    if params.crash:
        os._exit(3)
    if params.fail:
        raise RuntimeError("paint failed on purpose")
    tensor = frame.tensor
    tensor[..., 0] = params.red
    return tensor
'''

NOT_READY = """
from studio import Pipeline, pipeline

@pipeline(name="not-ready")
class NotReady(Pipeline):
    def on_ready(self, **params):
        raise FileNotFoundError("model.safetensors")

    def transform(self, frame, params):
        return frame.tensor
"""

FPS = 15
GOP = 2 * FPS  # one segment per 2 s GOP, as the gateway cuts them
WIDTH, HEIGHT = 320, 240
BACKGROUND = (50, 100, 150)
BITS = 10
SEGMENTS = 12
SETTLE = 5  # frames of a segment a change sent at its end may still reach
FIGURES: dict[str, Any] = {}


# -- the test clip ----------------------------------------------------------------------------


@dataclass
class Segment:
    """One input segment: its MPEG-TS bytes cut at frame boundaries, to stream at frame pace."""

    number: int
    chunks: list[bytes]

    @property
    def first(self) -> int:
        return self.number * GOP


def make_clip() -> list[Segment]:
    """Segments of a 320x240 clip: solid colour, a moving square, the frame index in blocks.

    libx264 with no B-frames and a 2 s GOP, each GOP its own MPEG-TS segment (PAT/PMT first),
    timestamps running on across segments in 1/90000.
    """
    segments = []
    for number in range(SEGMENTS):
        buffer = io.BytesIO()
        container = av.open(
            buffer, "w", format="mpegts", options={"flush_packets": "1", "max_delay": "0"}
        )
        stream = container.add_stream(
            "libx264",
            rate=FPS,
            options={"bf": "0", "tune": "zerolatency", "preset": "ultrafast", "crf": "18"},
        )
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        chunks, offset = [], 0
        for k in range(GOP):
            index = number * GOP + k
            frame = av.VideoFrame.from_ndarray(picture(index), format="rgb24")
            frame.pts, frame.time_base = index * (90_000 // FPS), Fraction(1, 90_000)
            for packet in stream.encode(frame):
                container.mux(packet)
            chunks.append(buffer.getvalue()[offset:])
            offset = len(buffer.getvalue())
        for packet in stream.encode(None):
            container.mux(packet)
        container.close()
        chunks[-1] += buffer.getvalue()[offset:]
        segments.append(Segment(number, chunks))
    return segments


def picture(index: int) -> np.ndarray:
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = BACKGROUND
    x = 16 + (index * 4) % (WIDTH - 48)
    image[192:224, x : x + 32] = (200, 200, 60)
    for bit in range(BITS):
        on = (index >> bit) & 1
        image[16:32, 16 + 16 * bit : 32 + 16 * bit] = (50, 255, 255) if on else (50, 0, 0)
    return image


def read_index(image: np.ndarray) -> int:
    index = 0
    for bit in range(BITS):
        x = 20 + 16 * bit
        if image[20:28, x : x + 8, 1].mean() > 128:
            index |= 1 << bit
    return index


def colour(image: np.ndarray) -> tuple[float, float, float]:
    """Mean RGB of a patch of plain background."""
    patch = image[80:170, 100:300].reshape(-1, 3).astype(np.float64)
    r, g, b = patch.mean(axis=0)
    return float(r), float(g), float(b)


# -- the runner, on its own loop in a thread (the "plain asyncio loop" case) -------------------


class ServedRunner:
    def __init__(self, runner: LiveRunner) -> None:
        self.runner = runner
        self.server = RunnerServer(runner, port=0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.server.start())
        self.call(runner.start(), timeout=120)

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def status(self) -> RunnerStatus:
        async def snapshot() -> RunnerStatus:
            return self.runner.status()

        return self.call(snapshot())

    def close(self) -> None:
        self.call(self.server.stop())
        self.call(self.runner.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def trickle():
    with TrickleServer() as server:
        yield server


@pytest.fixture(scope="module")
def paint_info(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve-pipelines")
    (folder / "paint.py").write_text(textwrap.dedent(PAINT))
    infos = [i for i in discover([folder], bundled=False, entry_points=False) if i.ok]
    assert [i.name for i in infos] == ["paint"]
    return infos[0]


@pytest.fixture(scope="module")
def served(paint_info, pool):
    events: list[RunnerEvent] = []

    def factory(spec: Any, file: Any, **options: Any) -> Engine:
        return Engine(spec, file, pool=pool, **options)

    runner = LiveRunner(paint_info, device="cpu", on_event=events.append, engine_factory=factory)
    served = ServedRunner(runner)
    served.events = events  # type: ignore[attr-defined]
    yield served
    served.close()


@pytest.fixture(scope="module")
def clip() -> list[Segment]:
    return make_clip()


# -- the orchestrator's side ----------------------------------------------------------------


@dataclass
class Seen:
    index: int
    at: float
    rgb: tuple[float, float, float]


@dataclass
class Stream:
    """One job's channels and what the test saw on them."""

    name: str
    trickle: TrickleServer
    sent: dict[int, float] = field(default_factory=dict)
    posted: dict[int, float] = field(default_factory=dict)
    out_segments: dict[int, tuple[float, bytes]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    control_seq: int = 0
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def url(self, suffix: str = "") -> str:
        return self.trickle.url(self.name + suffix)

    def body(self, **extra: Any) -> dict[str, Any]:
        return {
            "subscribe_url": self.url(),
            "publish_url": self.url("-out"),
            "control_url": self.url("-control"),
            "events_url": self.url("-events"),
            "model_id": "paint",
            "params": {},
            "gateway_request_id": f"req-{self.name}",
            "manifest_id": "manifest",
            "stream_id": self.name,
        } | extra

    def in_segment(self, number: int) -> list[Seen]:
        return [s for s in self.seen if s.index // GOP == number]

    def settled(self, number: int) -> list[Seen]:
        """A segment's frames but its last few: the decoder still holds those (MPEG-TS ends
        a frame when the next one starts) when a change sent between segments lands."""
        return [s for s in self.in_segment(number) if s.index % GOP < GOP - SETTLE]

    def states(self) -> list[str]:
        return [e["event"]["state"] for e in self.events]


class Orchestrator:
    """Creates channels, starts jobs on the runner, streams input, watches output and events."""

    def __init__(self, trickle: TrickleServer, runner_url: str) -> None:
        self.trickle = trickle
        self.runner_url = runner_url
        self.session = aiohttp.ClientSession()
        self.streams: list[Stream] = []

    async def __aenter__(self) -> Orchestrator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for stream in self.streams:
            for task in stream.tasks:
                task.cancel()
            await asyncio.gather(*stream.tasks, return_exceptions=True)
            for suffix in ("", "-out", "-control", "-events"):
                self.trickle.delete(stream.name + suffix)
        await self.session.close()

    def new_stream(self, name: str) -> Stream:
        stream = Stream(name, self.trickle)
        self.trickle.create(name)
        self.trickle.create(name + "-out")
        self.trickle.create(name + "-control", "application/json")
        self.trickle.create(name + "-events", "application/json")
        stream.tasks.append(asyncio.create_task(self._watch_output(stream)))
        stream.tasks.append(asyncio.create_task(self._watch_events(stream)))
        stream.tasks.append(asyncio.create_task(self._watch_segments(stream)))
        self.streams.append(stream)
        return stream

    async def start(self, stream: Stream, **extra: Any) -> None:
        async with self.session.post(
            self.runner_url + "/live-video-to-video", json=stream.body(**extra)
        ) as response:
            assert response.status == 200, await response.text()

    async def publish(
        self, stream: Stream, seq: int, segment: Segment, origin: float | None = None
    ) -> None:
        """POST one segment, each frame's bytes at its time from ``origin`` (None: at once)."""

        async def body():
            for k, chunk in enumerate(segment.chunks):
                index = segment.first + k
                if origin is not None:
                    delay = origin + index / FPS - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                stream.sent[index] = time.monotonic()
                yield chunk

        async with self.session.post(
            f"{stream.url()}/{seq}", data=body(), headers={"Content-Type": "video/mp2t"}
        ) as response:
            assert response.status == 200
        stream.posted[segment.number] = time.monotonic()

    async def control(self, stream: Stream, message: dict[str, Any] | bytes) -> None:
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        url = f"{stream.url('-control')}/{stream.control_seq}"
        stream.control_seq += 1
        async with self.session.post(url, data=data) as response:
            assert response.status == 200

    async def _watch_output(self, stream: Stream) -> None:
        media = MediaOutput(stream.url("-out"), start_seq=0)
        try:
            async for item in media.frames():
                if item.kind == "video":
                    image = item.frame.to_ndarray(format="rgb24")
                    stream.seen.append(Seen(read_index(image), time.monotonic(), colour(image)))
        finally:
            await media.close()

    async def _watch_segments(self, stream: Stream) -> None:
        """When each output segment starts and ends, as a second subscriber sees it."""
        async with TrickleSubscriber(stream.url("-out"), start_seq=0) as subscriber:
            while (segment := await subscriber.next()) is not None:
                reader = segment.make_reader()
                data = bytearray()
                while chunk := await reader.read():
                    data.extend(chunk)
                stream.out_segments[segment.seq()] = (time.monotonic(), bytes(data))
                await segment.close()

    async def _watch_events(self, stream: Stream) -> None:
        async for event in ChannelReader(stream.url("-events"))(start_seq=0):
            stream.events.append(event)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


def reds(stream: Stream) -> str:
    """index:red of every output frame: the story of a failed check."""
    return " ".join(f"{s.index}:{round(s.rgb[0])}" for s in stream.seen)


def near(value: float, target: float, tolerance: float = 14.0) -> bool:
    return abs(value - target) <= tolerance


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


# -- tests --------------------------------------------------------------------------------------


def test_health_and_refused_requests(served, trickle):
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(served.url + "/health") as response:
                assert await response.json() == {"status": "IDLE"}
            body = Stream("never", trickle).body(model_id="not-paint")
            endpoint = served.url + "/live-video-to-video"
            async with session.post(endpoint, json=body) as response:
                assert response.status == 400
                message = (await response.json())["detail"]["msg"]
                assert "paint" in message and "not-paint" in message
            async with session.post(endpoint, json={"model_id": "paint"}) as response:
                assert response.status == 400
                assert "subscribe_url" in (await response.json())["detail"]["msg"]
            async with session.post(endpoint, data=b"{oops") as response:
                assert response.status == 400

    run(scenario())
    assert served.status().state == "OFFLINE"
    assert [e.kind for e in served.events].count("refused") == 2


def test_stream_applies_pipeline_params_and_survives_faults(served, trickle, clip):
    """Pixels carry the pipeline's effect; control params change it; bad JSON is ignored;
    a raising pipeline passes frames through and reports ERROR; a 404 input ends cleanly."""

    async def scenario() -> Stream:
        async with Orchestrator(trickle, served.url) as orch:
            stream = orch.new_stream("job1")
            await orch.start(stream, params={"red": 1.0})
            origin = time.monotonic()
            for number in range(8):
                if number == 2:
                    await orch.control(stream, b"{this is not json")
                    await orch.control(stream, {"keep": "alive"})
                    await orch.control(stream, {"red": 0.0})
                elif number == 4:
                    await orch.control(stream, {"fail": True})
                elif number == 6:
                    await orch.control(stream, {"fail": False})
                await orch.publish(stream, number, clip[number], origin)
            await until(lambda: len(stream.in_segment(7)) >= GOP - 5, 15, "segment 7 out")
            status = served.status()
            assert status.stream_id == "job1" and status.since is not None
            assert status.fps_in > 0 and status.frames_out > 0
            trickle.delete("job1")  # the gateway went away: the input answers 404
            await until(lambda: "OFFLINE" in stream.states(), 15, "an OFFLINE event")
            await until(lambda: not trickle.exists("job1-out"), 10, "the output closed")
            return stream

    stream = run(scenario())
    for seen in stream.seen:  # only red is ever touched
        assert near(seen.rgb[1], 100) and near(seen.rgb[2], 150), seen
    # a change sent at a segment's start shows within that segment: check the next one
    assert all(near(s.rgb[0], 255) for s in stream.settled(0)), reds(stream)
    assert all(near(s.rgb[0], 0) for s in stream.settled(3)), reds(stream)  # after bad JSON
    assert all(near(s.rgb[0], 50) for s in stream.settled(5)), reds(stream)  # passed through
    assert all(near(s.rgb[0], 0) for s in stream.settled(7)), reds(stream)  # recovered
    assert sorted({s.index // GOP for s in stream.seen}) == list(range(8))

    statuses = [e["event"] for e in stream.events]
    assert all(e["type"] == "status" and e["pipeline"] == "paint" for e in statuses)
    online = [e for e in statuses if e["state"] == "ONLINE"]
    assert online and max(e["input_status"]["fps"] for e in online) > 5
    assert max(e["inference_status"]["fps"] for e in online) > 5
    errors = [e for e in statuses if e["state"] == "ERROR"]
    assert errors and "paint failed on purpose" in errors[0]["inference_status"]["last_error"]
    assert statuses[-1]["state"] == "OFFLINE"
    assert served.status().state == "OFFLINE"
    FIGURES["latency"] = latency_figures(stream)
    FIGURES["latency"]["engine_latency_ms"] = round(served.runner.engine.snapshot().latency_ms, 1)
    FIGURES["latency"]["states"] = [k for k, _ in itertools.groupby(stream.states())]
    print("\nserve latency:", json.dumps(FIGURES["latency"], indent=1))


def test_new_request_replaces_stream_and_input_jumps_after_470(served, trickle, clip):
    async def scenario() -> tuple[Stream, Stream, RunnerStatus]:
        async with Orchestrator(trickle, served.url) as orch:
            first = orch.new_stream("job2")
            await orch.start(first, params={"red": 0.5})
            origin = time.monotonic()
            for number in range(2):
                await orch.publish(first, number, clip[number], origin)
            await until(lambda: len(first.in_segment(1)) > GOP // 2, 10, "job2 output")

            second = orch.new_stream("job3")
            await orch.start(second)  # replaces job2: its channels are closed
            await until(lambda: "OFFLINE" in first.states(), 10, "job2 OFFLINE")
            await until(lambda: not trickle.exists("job2-out"), 10, "job2 output closed")

            origin = time.monotonic()
            for number in range(2):
                await orch.publish(second, number, clip[number], origin)
            await until(lambda: len(second.in_segment(1)) > GOP // 2, 10, "job3 output")
            trickle.stall("job3", True)  # the runner's next GET arrives late...
            for number in range(2, 10):  # ...after 8 segments: 3 and 4 left the window
                await orch.publish(second, number, clip[number])
            trickle.stall("job3", False)
            origin = time.monotonic() - 10 * GOP / FPS
            for number in range(10, 12):
                await orch.publish(second, number, clip[number], origin)
            await until(lambda: len(second.in_segment(11)) >= GOP - 5, 15, "segment 11 out")
            status = served.status()
            trickle.delete("job3")
            await until(lambda: "OFFLINE" in second.states(), 15, "job3 OFFLINE")
            return first, second, status

    first, second, status = run(scenario())
    assert all(near(s.rgb[0], 128) for s in first.seen), reds(first)  # the request's params
    assert all(near(s.rgb[0], 255) for s in second.in_segment(1)), reds(second)  # not 0.5
    segments = {s.index // GOP for s in second.seen}
    assert {0, 1, 10, 11} <= segments
    assert not segments & set(range(3, 10))  # skipped, never decoded
    assert status.input_skips >= 1 and status.stream_id == "job3"
    assert [e.kind for e in served.events].count("ended") >= 2


def test_engine_crash_passes_frames_through_and_restarts(served, trickle, clip):
    async def scenario() -> Stream:
        async with Orchestrator(trickle, served.url) as orch:
            stream = orch.new_stream("job4")
            await orch.start(stream)
            origin = time.monotonic()
            publishing = asyncio.create_task(publish_all(orch, stream, clip[:6], origin))
            await until(lambda: len(stream.in_segment(0)) > 5, 10, "job4 output")
            crashes = count_crashes(served.events)
            await orch.control(stream, {"crash": True})
            await until(lambda: count_crashes(served.events) > crashes, 10, "the crash")
            await orch.control(stream, {"crash": False})  # the restart loads with this
            await publishing
            await until(lambda: len(stream.in_segment(5)) >= GOP - 5, 15, "segment 5 out")
            trickle.delete("job4")
            await until(lambda: "OFFLINE" in stream.states(), 15, "job4 OFFLINE")
            return stream

    stream = run(scenario())
    reds = [s.rgb[0] for s in sorted(stream.seen, key=lambda s: s.index)]
    assert any(near(r, 50) for r in reds), "frames passed through while the pipeline was down"
    assert all(near(s.rgb[0], 255) for s in stream.in_segment(5)), reds(stream)
    assert served.status().restarts >= 1
    assert any(e.kind == "engine" and "restarting" in e.message for e in served.events)
    statuses = [e["event"] for e in stream.events]
    assert any(
        e["state"] == "ERROR" and "exited with code 3" in (e["inference_status"]["last_error"])
        for e in statuses
    )


def count_crashes(events: list[RunnerEvent]) -> int:
    return sum("exited with code 3" in e.message for e in events)


async def publish_all(orch: Orchestrator, stream: Stream, segments: list[Segment], origin: float):
    for segment in segments:
        await orch.publish(stream, segment.number, segment, origin)


def test_cli_serve_exits_with_a_reason_when_it_cannot_start(paint_info, tmp_path, capsys):
    from studio.cli import main

    folder = str(Path(paint_info.file).parent)
    assert main(["serve", "nope", "--pipelines", folder]) == 1
    assert "unknown pipeline 'nope'" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "paint", "--pipelines", folder, "--port", str(port)]) == 1
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
    (tmp_path / "not_ready.py").write_text(textwrap.dedent(NOT_READY))
    argv = ["serve", "not-ready", "--pipelines", str(tmp_path), "--port", "0", "--device", "cpu"]
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("studio: pipeline 'not-ready' failed to start: ") and "on_ready" in last


def test_cli_serve_runs_until_interrupted(paint_info):
    folder = str(Path(paint_info.file).parent)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen(
        [
            *(sys.executable, "-m", "studio", "serve", "paint", "--pipelines", folder),
            *("--port", str(port), "--device", "cpu", "--params", '{"red": 0.25}'),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = []
        assert child.stderr is not None
        for line in child.stderr:
            lines.append(line)
            if "serving paint" in line:
                break
        assert any("serving paint" in line for line in lines), "".join(lines)

        async def health() -> dict[str, Any]:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/health") as response,
            ):
                return await response.json()

        assert run(health()) == {"status": "IDLE"}
        child.send_signal(signal.SIGINT)
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# -- figures ------------------------------------------------------------------------------------


def latency_figures(stream: Stream) -> dict[str, Any]:
    """Added latency, measured at the gateway's side of the trickle server.

    per frame: from the moment the frame's bytes were sent on the input channel to the moment
    the same frame (found by its index) was decoded from the output channel. per segment: from
    the first byte of input segment N to the first decoded output frame of segment N; and from
    the end of input segment N's POST to the end of the output segment that holds N's last
    frame (it closes when the next keyframe is encoded). The SDK keeps an output segment open
    for at least 1 s of wall-clock time, so a burst at the start makes the first one longer.
    """
    frame_ms = [(s.at - stream.sent[s.index]) * 1000 for s in stream.seen if s.index in stream.sent]
    steady = sorted(
        (s.at - stream.sent[s.index]) * 1000
        for s in stream.seen
        if s.index in stream.sent and s.index >= GOP
    )
    segment_ms = []
    for number in range(8):
        out = stream.in_segment(number)
        first = number * GOP
        if out and first in stream.sent:
            segment_ms.append((min(s.at for s in out) - stream.sent[first]) * 1000)
    figures = {
        "frames_matched": len(frame_ms),
        "frame_ms_p50": round(statistics.median(frame_ms), 1),
        "frame_ms_p95": round(sorted(frame_ms)[int(0.95 * (len(frame_ms) - 1))], 1),
        "frame_ms_max": round(max(frame_ms), 1),
        "after_first_segment_ms_p50": round(statistics.median(steady), 1),
        "after_first_segment_ms_p95": round(steady[int(0.95 * (len(steady) - 1))], 1),
        "segment_first_frame_ms": [round(v, 1) for v in segment_ms],
    }
    complete = {}
    for seq, (ended, data) in sorted(stream.out_segments.items())[:-1]:  # the last: cut by stop
        with av.open(io.BytesIO(data)) as container:
            last = max(read_index(f.to_ndarray(format="rgb24")) for f in container.decode(video=0))
        if last // GOP in stream.posted:
            complete[f"out {seq} (in {last // GOP})"] = round(
                (ended - stream.posted[last // GOP]) * 1000, 1
            )
    figures["segment_complete_ms"] = complete
    return figures
