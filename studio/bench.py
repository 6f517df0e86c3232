"""``studio bench``: what the studio adds to a pipeline's own cost, as a ratio.

For each pipeline and size, two loops run on the same frames, side by side in one run
(these machines are noisy; absolute times drift, ratios hold):

* direct: a tight loop in a child process doing only what any host must do: uint8 frame to
  the input tensor, the transform, the output back to uint8; it runs with the worker's
  environment and priority, so the two loops differ only by what the engine adds;
* engine: the same frames through :class:`~studio.engine.Engine` (worker process, shared
  memory, stats), fed so that the next frame is always waiting in the worker (lookahead,
  as ``studio run`` on a file does); ``--latest-wins`` measures the live preview's mode
  instead, where a frame goes to the worker only when it is free.

Rounds alternate (direct, engine, direct, engine...) and the ratio is taken per round, so
a slow patch of the machine hits both sides. User code runs only in child processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_SIZES = [(640, 360), (1280, 720)]


@dataclass
class BenchResult:
    pipeline: str
    size: str
    device: str
    frames: int
    direct_fps: float
    engine_fps: float
    ratio: float
    direct_ms_p50: float
    latency_p50_ms: float
    latency_p95_ms: float
    pipeline_ms_p50: float
    drops: int
    rounds: list[float]
    #: CPU per frame (ms, every thread): the direct loop's process; the engine's worker and
    #: its parent (the caller's process: copies in and out, messages). None where unknown.
    direct_cpu_ms: float | None = None
    worker_cpu_ms: float | None = None
    parent_cpu_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def make_frames(width: int, height: int, count: int = 8) -> list[np.ndarray]:
    """Distinct test-pattern frames, generated once and reused by both loops."""
    from studio.sources import TestPattern

    with TestPattern(width, height, realtime=False) as pattern:
        return [pattern.read().image for _ in range(count)]


# -- the direct loop (child side) -------------------------------------------------------------


def direct_child() -> None:
    """``python -m studio.bench``: load a pipeline, then time loops asked for on stdin."""
    from studio.engine.worker import _yield_to_the_app

    _yield_to_the_app()  # the worker's priority: the two loops differ only in the engine
    request = json.loads(sys.stdin.readline())
    asyncio.run(_direct_serve(request))


async def _direct_serve(request: dict[str, Any]) -> None:
    import inspect

    from studio.frames import VideoFrame, output_tensor, to_input_tensor, to_uint8_image
    from studio.runtime import PipelineRuntime, device_label
    from studio.spec import PipelineSpec

    runtime = PipelineRuntime(
        PipelineSpec.from_dict(request["spec"]), request["file"], request["device"]
    )
    await runtime.start(request.get("params") or None)
    transform, params = runtime._transform, runtime.params
    is_async = inspect.iscoroutinefunction(transform)
    cuda = runtime.device.type == "cuda"
    _reply({"device": device_label(runtime.device)})
    for line in sys.stdin:
        job = json.loads(line)
        frames = make_frames(job["width"], job["height"])
        times: list[float] = []
        cpu = time.process_time()
        began = time.perf_counter()
        for i in range(job["frames"]):
            t0 = time.perf_counter()
            frame = VideoFrame(to_input_tensor(frames[i % len(frames)], runtime.device), i * 3000)
            result = transform(frame, params)
            if is_async:
                result = await result
            to_uint8_image(output_tensor(result, runtime.name))
            if cuda:
                import torch

                torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - began
        _reply({"elapsed": elapsed, "times": times, "cpu": time.process_time() - cpu})
    await runtime.stop()


def _reply(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


class _Direct:
    """The parent's handle on a direct-loop child."""

    def __init__(self, info: Any, device: str, params: dict[str, Any]):
        from studio.engine.pool import worker_environment

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "studio.bench"],
            env=worker_environment(os.environ),  # the worker's malloc and OpenMP settings
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        request = {
            "spec": info.spec.to_dict(),
            "file": info.file,
            "device": device,
            "params": params,
        }
        self.device = self._ask(request)["device"]

    def run(self, width: int, height: int, frames: int) -> dict[str, Any]:
        return self._ask({"width": width, "height": height, "frames": frames})

    def _ask(self, data: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(data) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the direct benchmark process failed (see its error above)")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(10)


# -- the engine loop --------------------------------------------------------------------------


def engine_run(engine: Any, frames: list[np.ndarray], count: int) -> dict[str, Any]:
    """Feed ``count`` frames so the engine always holds as many as it can without dropping
    one (the next one waits in the worker, with lookahead); time them all.

    Only each result's timings are kept, not its image: the direct loop drops its output
    too, and keeping hundreds of frames would make every copy out of shared memory land in
    fresh pages (~2 ms a 1280x720 frame) that the app, which keeps the latest, never pays.
    """
    done = threading.Event()
    timings: list[tuple[float, float]] = []
    sent = 0
    lock = threading.Lock()

    def feed() -> None:
        nonlocal sent
        with lock:
            if sent < count:
                image = frames[sent % len(frames)]
                sent += 1
                engine.submit(image, pts=sent * 3000)

    def on_frame(out: Any) -> None:
        timings.append((out.latency_ms, out.pipeline_ms))
        if len(timings) >= count:
            done.set()
        else:
            feed()

    engine.on_frame = on_frame
    before = engine.snapshot()
    worker_cpu = process_cpu_seconds(engine.worker_pid)
    cpu = time.process_time()
    began = time.perf_counter()
    for _ in range(3 if engine.lookahead else 2):
        feed()
    if not done.wait(600):
        raise RuntimeError("the engine stopped answering during the benchmark")
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu
    worker_after = process_cpu_seconds(engine.worker_pid)
    engine.on_frame = None
    while not engine.idle():
        time.sleep(0.01)
    after = engine.snapshot()
    return {
        "elapsed": elapsed,
        "frames": len(timings),
        "latency": [t[0] for t in timings],
        "pipeline": [t[1] for t in timings],
        "drops": after.drops - before.drops,
        "failed": after.failed - before.failed,
        "parent_cpu": cpu,
        "worker_cpu": None
        if worker_cpu is None or worker_after is None
        else worker_after - worker_cpu,
    }


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), where /proc has it."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench(
    infos: list[Any],
    sizes: list[tuple[int, int]],
    frames: int = 120,
    rounds: int = 2,
    device: str = "auto",
    params: dict[str, Any] | None = None,
    say: Any = print,
    lookahead: bool = True,
) -> list[BenchResult]:
    """Benchmark each pipeline at each size; see the module docstring."""
    from studio.engine import Engine
    from studio.engine.stats import percentile

    results = []
    for info in infos:
        say(f"{info.name}: starting the direct loop and the engine ...")
        direct = _Direct(info, device, params or {})
        engine = Engine(
            info.spec,
            info.file,
            params=params,
            device=device,
            hang_timeout=60,
            lookahead=lookahead,
        )
        engine.start()
        try:
            for width, height in sizes:
                frame_set = make_frames(width, height)
                warm = max(10, frames // 10)
                direct.run(width, height, warm)
                engine_run(engine, frame_set, warm)
                ratios, d_fps, e_fps, d_times, lat, pipe, drops = [], [], [], [], [], [], 0
                cpu: dict[str, list[float]] = {"direct": [], "worker": [], "parent": []}
                for _ in range(rounds):
                    d = direct.run(width, height, frames)
                    e = engine_run(engine, frame_set, frames)
                    d_fps.append(frames / d["elapsed"])
                    e_fps.append(e["frames"] / e["elapsed"])
                    ratios.append(e_fps[-1] / d_fps[-1])
                    d_times += d["times"]
                    lat += e["latency"]
                    pipe += e["pipeline"]
                    drops += e["drops"]
                    cpu["direct"].append(d["cpu"] * 1000 / frames)
                    cpu["parent"].append(e["parent_cpu"] * 1000 / e["frames"])
                    if e["worker_cpu"] is not None:
                        cpu["worker"].append(e["worker_cpu"] * 1000 / e["frames"])
                result = BenchResult(
                    pipeline=info.name,
                    size=f"{width}x{height}",
                    device=direct.device,
                    frames=frames * rounds,
                    direct_fps=round(statistics.median(d_fps), 2),
                    engine_fps=round(statistics.median(e_fps), 2),
                    ratio=round(statistics.median(ratios), 3),
                    direct_ms_p50=round(percentile(d_times, 50), 2),
                    latency_p50_ms=round(percentile(lat, 50), 2),
                    latency_p95_ms=round(percentile(lat, 95), 2),
                    pipeline_ms_p50=round(percentile(pipe, 50), 2),
                    drops=drops,
                    rounds=[round(r, 3) for r in ratios],
                    **{
                        f"{k}_cpu_ms": round(statistics.median(v), 2) if v else None
                        for k, v in cpu.items()
                    },
                )
                say(format_row(result))
                results.append(result)
        finally:
            engine.stop()
            direct.close()
    return results


HEADER = (
    f"{'pipeline':<14} {'size':>9} {'device':>6} {'direct fps':>10} {'engine fps':>10} "
    f"{'ratio':>6} {'lat p50':>8} {'lat p95':>8} {'drops':>5}"
)


def format_row(r: BenchResult) -> str:
    return (
        f"{r.pipeline:<14} {r.size:>9} {r.device[:6]:>6} {r.direct_fps:>10.1f} "
        f"{r.engine_fps:>10.1f} {r.ratio:>6.3f} {r.latency_p50_ms:>7.1f}m "
        f"{r.latency_p95_ms:>7.1f}m {r.drops:>5}"
    )


if __name__ == "__main__":
    direct_child()
