"""The ``studio`` command: the desktop app, and the headless tools beside it.

Every subcommand exits 0 on success and non-zero with a one-line reason a user can act
on. Heavy imports (torch, Qt) happen inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class CliError(Exception):
    """A failure to report as one line and exit 1."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Livepeer Pipeline Studio: write, preview and stream live video pipelines.",
    )
    _add_app_options(parser)
    parser.set_defaults(func=_cmd_app)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("list", help="list the pipelines discovery finds, broken ones included")
    _add_pipelines_option(p)
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("run", help="run a pipeline headless and write the processed video")
    p.add_argument("name", help="the pipeline's name (see 'studio list')")
    _add_pipelines_option(p)
    p.add_argument("--input", default="testsrc", help="testsrc | testsrc:WxH | FILE | webcam:N")
    p.add_argument("--output", help="MP4 to write (default: NAME.mp4 in this folder)")
    p.add_argument("--frames", type=int, help="frames to process (default: 150, or a file's end)")
    p.add_argument("--size", type=_size, help="input size WxH (test pattern, webcam, file scale)")
    p.add_argument("--params", type=_params_json, default={}, help="params as a JSON object")
    p.add_argument(
        "--realtime",
        action="store_true",
        help="pace the input in real time (a slow pipeline then drops frames)",
    )
    p.add_argument("--loop", action="store_true", help="loop a video file input")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda:N")
    p.add_argument(
        "--hang-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds without a result before the pipeline counts as hung",
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("stream", help="stream to a go-livepeer box and play back its output")
    p.add_argument("name", help="the pipeline (the model id the box is asked for, by default)")
    _add_pipelines_option(p)
    p.add_argument("--box", required=True, metavar="HOST", help="the box's host, e.g. localhost")
    p.add_argument("--rtmp-port", type=int, default=1935, metavar="P")
    p.add_argument("--api-port", type=int, default=5936, metavar="P", help="gateway HTTP API")
    p.add_argument("--stream-key", metavar="K", help="default: a generated one")
    p.add_argument("--stream-id", metavar="ID", help="default: a generated one")
    p.add_argument("--model", metavar="ID", help="model id to ask for (default: NAME)")
    p.add_argument(
        "--send",
        choices=["input", "output"],
        default="input",
        help="input: the box runs the pipeline; output: send the local output (noop)",
    )
    p.add_argument("--ingest-url", metavar="T", help="ingest URL template")
    p.add_argument("--playback-url", metavar="T", help="playback URL template")
    p.add_argument("--input", default="testsrc", help="testsrc | FILE | webcam:N")
    p.add_argument("--size", type=_size, help="sent size WxH (default 1280x720)")
    p.add_argument("--params", type=_params_json, default={}, help="params as a JSON object")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--give-up-after",
        type=float,
        default=20.0,
        metavar="S",
        help="report when nothing comes back for S seconds (default 20)",
    )
    p.add_argument("--record-box", metavar="FILE", help="save what comes back to an MP4")
    p.set_defaults(func=_cmd_stream)

    p = sub.add_parser("bench", help="measure the engine's overhead against a direct loop")
    p.add_argument("names", nargs="*", metavar="NAME", help="pipelines (default: all)")
    _add_pipelines_option(p)
    p.add_argument(
        "--size",
        type=_size,
        action="append",
        metavar="WxH",
        help="frame size (repeatable; default 640x360 and 1280x720)",
    )
    p.add_argument("--frames", type=int, default=120, help="frames per round (default 120)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda:N")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument(
        "--latest-wins",
        action="store_true",
        help="measure the live preview's mode (a frame goes to the worker only when it is "
        "free) instead of offline lookahead",
    )
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("prepare", help="run a pipeline's prepare_models (downloads, builds)")
    p.add_argument("name")
    _add_pipelines_option(p)
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("serve", help="serve a pipeline to a go-livepeer box as its live runner")
    p.add_argument("name", help="the pipeline's name (the model_id the orchestrator asks for)")
    _add_pipelines_option(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for an orchestrator in Docker)",
    )
    p.add_argument("--port", type=int, default=8900, help="port (default 8900, as ai-runner)")
    p.add_argument("--params", type=_params_json, default={}, help="params as a JSON object")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda:N")
    p.set_defaults(func=_cmd_serve)
    return parser


def _add_pipelines_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pipelines",
        action="append",
        default=[],
        metavar="DIR",
        help="another folder of pipelines (repeatable)",
    )


def _add_app_options(parser: argparse.ArgumentParser) -> None:
    _add_pipelines_option(parser)
    parser.add_argument("--pipeline", metavar="NAME", help="select this pipeline on start")
    parser.add_argument("--input", metavar="SOURCE", help="testsrc | FILE | webcam:N")
    parser.add_argument("--params", type=_params_json, help="params as a JSON object")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WxH, e.g. 1280x720") from None
    if w < 2 or h < 2:
        raise argparse.ArgumentTypeError(f"{text!r} is too small")
    return w, h


def _params_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"invalid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            "params must be a JSON object, e.g. '{\"threshold\": 0.2}'"
        )
    return value


# -- commands ---------------------------------------------------------------------------------


def _cmd_app(args: argparse.Namespace) -> int:
    try:
        from studio.ui.app import run_app
    except ImportError as exc:
        raise CliError(f"the desktop app cannot start: {exc}") from None
    return run_app(args)


def _cmd_list(args: argparse.Namespace) -> int:
    from studio.discovery import discover

    infos = discover(args.pipelines, cache=True)
    if args.json:
        print(json.dumps([info.to_json() for info in infos], indent=2))
        return 0
    good = [i for i in infos if i.error is None]
    bad = [i for i in infos if i.error is not None]
    width = max((len(i.name or "") for i in good), default=4)
    for info in good:
        doc = (info.doc or "").strip().splitlines()
        flag = "  [name conflict]" if info.conflict else ""
        print(f"{info.name:<{width}}  {doc[0] if doc else ''}{flag}")
        print(f"{'':<{width}}  {info.file}:{info.line}  ({info.origin})")
    if bad:
        print(f"\n{len(bad)} file(s) could not be loaded:")
        for info in bad:
            print(f"  {info.error}")
    if not infos:
        print("no pipelines found")
    return 0


def _find(name: str, folders: list[str]) -> Any:
    from studio.discovery import discover

    infos = discover(folders, cache=True)
    matches = [i for i in infos if i.name == name and i.error is None]
    if not matches:
        known = ", ".join(sorted({i.name for i in infos if i.name})) or "none"
        broken = sum(1 for i in infos if i.error)
        hint = f"; {broken} file(s) failed to load (see 'studio list')" if broken else ""
        raise CliError(f"unknown pipeline {name!r}; available: {known}{hint}")
    if len(matches) > 1:
        files = ", ".join(str(m.file) for m in matches)
        raise CliError(f"pipeline name {name!r} is defined more than once ({files}); rename one")
    return matches[0]


def _cmd_run(args: argparse.Namespace) -> int:
    from studio.engine import Engine, EngineError
    from studio.media import Mp4Writer
    from studio.sources import SourceError, open_source

    info = _find(args.name, args.pipelines)
    try:
        source = open_source(args.input, size=args.size, realtime=args.realtime, loop=args.loop)
    except SourceError as exc:
        raise CliError(f"cannot read input: {exc}") from None
    is_file = not (args.input.startswith("testsrc") or args.input.startswith("webcam"))
    limit = args.frames if args.frames is not None else (None if is_file and not args.loop else 150)
    output = Path(args.output or f"{info.name}.mp4")
    engine = Engine(
        info.spec,
        info.file,
        params=args.params,
        device=args.device,
        hang_timeout=args.hang_timeout,
        lookahead=not args.realtime,  # offline: the worker never waits for the next frame
    )
    _say(f"starting {info.name} ({info.file}) ...")
    try:
        engine.start()
    except EngineError as exc:
        source.close()
        raise CliError(f"pipeline {info.name!r} failed to start: {exc}") from None
    _say(f"running on {engine.info.get('device_label')}; input {source.description}")
    try:
        writer = Mp4Writer(output, fps=source.fps or 30.0)
    except Exception as exc:
        engine.stop()
        source.close()
        raise CliError(str(exc)) from None
    try:
        runner = _realtime_run if args.realtime else _offline_run
        processed = runner(engine, source, writer, limit)
    finally:
        source.close()
        writer.close()
        engine.stop()
    stats = engine.snapshot()
    fault = next((e for e in engine.events if e.kind in ("crashed", "hung")), None)
    if fault is not None:
        raise CliError(f"pipeline {info.name!r} stopped: {fault.message}")
    print(f"wrote {writer.frames_written} frames to {output}")
    print(
        json.dumps(
            {"pipeline": info.name, "frames": len(processed), **_run_figures(processed, stats)}
        )
    )
    if stats.failed:
        errors = [e for e in engine.events if e.kind == "transform_error"]
        print(
            f"{stats.failed} frame(s) failed in transform and passed through unchanged; "
            f"first error: {errors[0].message if errors else '?'}"
        )
    return 0


def _offline_run(engine: Any, source: Any, writer: Any, limit: int | None) -> list[Any]:
    """Every frame through the pipeline in order, none dropped; reading the next frame and
    encoding the last result overlap the pipeline's work."""
    from studio.engine import EngineError

    def frames() -> Iterator[tuple[Any, dict[str, Any]]]:
        count = 0
        while limit is None or count < limit:
            frame = source.read()
            if frame is None:
                return
            count += 1
            yield (
                frame.image,
                {
                    "pts": frame.pts,
                    "time_base": frame.time_base,
                    "t_capture": frame.t_capture,
                },
            )

    results = []
    ticker = _Ticker(engine, limit)
    with contextlib.suppress(EngineError):  # a fault is reported from engine.events
        for out in engine.process_all(frames()):
            writer.write(out.image, float(out.pts * out.time_base))
            results.append(out)
            ticker.tick(len(results))
    return results


def _realtime_run(engine: Any, source: Any, writer: Any, limit: int | None) -> list[Any]:
    """The source at its own pace; a slow pipeline drops frames, as in the app."""
    from studio.engine import EngineState
    from studio.sources import SourcePump

    results: list[Any] = []
    done = threading.Event()
    lock = threading.Lock()

    def on_frame(out: Any) -> None:
        with lock:
            results.append(out)
            writer.write(out.image, float(out.pts * out.time_base))

    engine.on_frame = on_frame

    def sink(frame: Any) -> None:
        engine.submit(
            frame.image, pts=frame.pts, time_base=frame.time_base, t_capture=frame.t_capture
        )
        if limit is not None and pump.frames + 1 >= limit:
            done.set()

    pump = SourcePump(source, sink, on_error=lambda exc: done.set(), on_end=done.set)
    pump.start()
    ticker = _Ticker(engine, limit)
    while not done.wait(0.1):
        if engine.state is EngineState.FAILED:
            break
        ticker.tick(pump.frames)
    pump.stop()
    deadline = time.monotonic() + engine.hang_timeout
    while not engine.idle() and engine.state is not EngineState.FAILED:
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    engine.on_frame = None
    if pump.error is not None:
        _say(f"input failed: {pump.error}")
    return results


class _Ticker:
    """A progress line on stderr about once a second."""

    def __init__(self, engine: Any, limit: int | None):
        self.engine, self.limit, self.last = engine, limit, time.monotonic()

    def tick(self, count: int) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            total = f"/{self.limit}" if self.limit else ""
            _say(f"frame {count}{total}  {self.engine.snapshot().summary()}")


def _run_figures(results: list[Any], stats: Any) -> dict[str, Any]:
    from studio.engine.stats import percentile

    pipeline = [r.pipeline_ms for r in results]
    latency = [r.latency_ms for r in results]
    span = results[-1].t_output - results[0].t_capture if len(results) > 1 else 0.0
    return {
        "fps": round((len(results) - 1) / span, 2) if span > 0 else 0.0,
        "pipeline_ms_p50": round(percentile(pipeline, 50), 2),
        "pipeline_ms_p95": round(percentile(pipeline, 95), 2),
        "latency_ms_p50": round(percentile(latency, 50), 2),
        "latency_ms_p95": round(percentile(latency, 95), 2),
        "drops": stats.drops,
        "failed": stats.failed,
        "device": stats.device,
    }


def _cmd_stream(args: argparse.Namespace) -> int:
    from studio.live.headless import run_stream

    return run_stream(args, _find)


def _cmd_bench(args: argparse.Namespace) -> int:
    from studio.bench import DEFAULT_SIZES, HEADER, bench
    from studio.discovery import discover

    if args.frames < 1 or args.rounds < 1:
        raise CliError("--frames and --rounds must be at least 1")
    if args.names:
        infos = [_find(name, args.pipelines) for name in args.names]
    else:
        infos = [i for i in discover(args.pipelines, cache=True) if i.ok and not i.conflict]
        if not infos:
            raise CliError("no pipelines to benchmark")
    print(HEADER, flush=True)
    try:
        results = bench(
            infos,
            args.size or DEFAULT_SIZES,
            frames=args.frames,
            rounds=args.rounds,
            device=args.device,
            say=lambda t: print(t, flush=True) if not t.endswith("...") else _say(t),
            lookahead=not args.latest_wins,
        )
    except Exception as exc:
        raise CliError(f"benchmark failed: {exc}") from None
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")
        _say(f"wrote {args.json}")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    import subprocess

    info = _find(args.name, args.pipelines)
    _say(f"preparing {info.name} ({info.file}) ...")
    code = (
        "import sys, json\n"
        "from studio.runtime import prepare_pipeline\n"
        "sys.exit(prepare_pipeline(json.loads(sys.argv[1]), sys.argv[2] or None))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(info.spec.to_dict()), info.file or ""],
        stdin=subprocess.DEVNULL,
    )
    began = time.monotonic()
    while True:
        try:
            status = child.wait(timeout=5.0)
            break
        except subprocess.TimeoutExpired:
            _say(f"... still preparing {info.name} ({time.monotonic() - began:.0f} s)")
    if status != 0:
        raise CliError(f"prepare_models of {info.name!r} failed (exit {status}); see above")
    _say(f"{info.name} prepared in {time.monotonic() - began:.1f} s")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from studio.serve import LiveRunner, RunnerError, RunnerServer

    info = _find(args.name, args.pipelines)

    def show(event: Any) -> None:
        _say(f"[{event.kind}] {event.message}")

    async def serve() -> None:
        runner = LiveRunner(info, params=args.params, device=args.device, on_event=show)
        server = RunnerServer(runner, host=args.host, port=args.port)
        try:
            await server.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise CliError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
        try:
            _say(f"starting {info.name} ({info.file}) ...")
            try:
                await runner.start()
            except RunnerError as exc:
                raise CliError(str(exc)) from None
            _say(f"serving {info.name} on {server.url} (model_id {info.name!r}); Ctrl+C stops")
            await asyncio.Event().wait()
        finally:
            await server.stop()
            await runner.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        _say("stopped")
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
