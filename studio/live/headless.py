"""``studio stream``: go live without a window, printing what happens.

The same parts as the app's "Go live": a preview session (source, and the engine when the
local output is what is sent), a live session to the box, and the box's output recorded to
a file when asked. Exit 0 once the stream went live; 1 with the reason when it could not.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from typing import Any


def run_stream(args: Any, find: Any) -> int:
    """Run ``studio stream`` (``find(name, folders)`` resolves the pipeline); an exit code."""
    from studio.live.config import (
        DEFAULT_INGEST_TEMPLATE,
        DEFAULT_PLAYBACK_TEMPLATE,
        LiveConfig,
        LiveConfigError,
    )
    from studio.live.session import LiveSession
    from studio.session import PreviewSession
    from studio.sources import SourceError

    info = find(args.name, args.pipelines)
    fields: dict[str, Any] = {
        "host": args.box,
        "rtmp_port": args.rtmp_port,
        "api_port": args.api_port,
        "model": args.model or info.name,
        "send": args.send,
        "ingest_template": args.ingest_url or DEFAULT_INGEST_TEMPLATE,
        "playback_template": args.playback_url or DEFAULT_PLAYBACK_TEMPLATE,
        "give_up_after": args.give_up_after,
    }
    if args.size:
        fields["width"], fields["height"] = args.size
    config = replace(LiveConfig(), **fields)
    if args.stream_key:
        config = replace(config, stream_key=args.stream_key)
    if args.stream_id:
        config = replace(config, stream_id=args.stream_id)
    try:
        config.validate()
    except LiveConfigError as exc:
        return _fail(str(exc))

    preview = PreviewSession(hang_timeout=30.0)
    try:
        preview.set_source(
            args.input or "testsrc", size=(config.width, config.height), fps=config.fps
        )
    except SourceError as exc:
        return _fail(f"cannot read input: {exc}")
    if config.send == "output":
        engine = preview.set_pipeline(info, args.params or None)
        engine.on_event = _engine_printer(engine.on_event)
    done = threading.Event()
    last = {"state": ""}

    def on_event(event: Any) -> None:
        if event.kind == "state":
            state = event.data["state"]
            if event.message != last["state"]:
                last["state"] = event.message
                _say(f"[{time.strftime('%H:%M:%S')}] {event.message}")
            if state == "failed":
                done.set()
        elif event.kind == "params" and not event.data.get("ok"):
            _say(f"params: {event.message}")
        elif event.kind == "status" and event.data.get("error"):
            _say(f"status: {event.message}")

    live = LiveSession(
        config,
        preview,
        params=lambda: args.params or {},
        on_event=on_event,
        record_box=args.record_box,
    )
    _say(
        f"streaming {info.name} ({config.send}) to {config.host}:{config.rtmp_port}, "
        f"stream id {config.stream_id}" + (f", for {args.duration:g} s" if args.duration else "")
    )
    try:
        live.start()
        deadline = time.monotonic() + args.duration if args.duration else None
        while not done.wait(0.5):
            if deadline is not None and time.monotonic() >= deadline:
                break
            _report(live)
    except KeyboardInterrupt:
        _say("interrupted")
    finally:
        failed_reason = live.failure
        figures = live.figures()
        live.stop()
        preview.close()
    if failed_reason or not live.went_live:
        return _fail(failed_reason or "the stream never went live")
    _say(
        "figures: "
        + ", ".join(
            f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in figures.items()
            if v is not None
        )
    )
    if args.record_box:
        _say(f"the box's output was saved to {args.record_box}")
    return 0


def _report(live: Any) -> None:
    now = time.monotonic()
    if now - getattr(live, "_last_report", 0.0) < 5.0:
        return
    live._last_report = now
    f = live.figures()
    delay = f.get("delay_ms")
    _say(
        f"  sent {f.get('sent_fps', 0):.1f} fps (encode {f.get('encode_cpu_ms', 0):.1f} ms cpu), "
        f"box {f.get('box_fps', 0):.1f} fps"
        + (f", round trip {delay:.0f} ms" if delay is not None else "")
    )


def _engine_printer(previous: Any) -> Any:
    def on_event(event: Any) -> None:
        if event.kind in ("load_error", "crashed", "hung", "transform_error"):
            _say(f"pipeline: {event.message}")
        if previous is not None:
            previous(event)

    return on_event


def _fail(reason: str) -> int:
    print(f"studio: {reason}", file=sys.stderr, flush=True)
    return 1


def _say(text: str) -> None:
    print(text, flush=True)
