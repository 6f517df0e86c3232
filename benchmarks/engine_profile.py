"""Diagnostic (not part of the budget): where the parent's time goes per engine frame.

cProfile (all threads: Python 3.12 profiles the threads that run while it is enabled) over
``studio.bench.engine_run`` with the identity pipeline, the engine fed so a frame always
waits, as in the engine-overhead benchmark. Reported per frame: the copy into shared memory
(``Engine.submit``), the copy out (``numpy.array`` in the reader thread), the pipe sends, and
the time the reader thread sleeps in ``poll`` waiting for the worker.
``python -m benchmarks.engine_profile``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

from benchmarks.common import Report, infos, keep_big_blocks, module_main, say

#: label -> (text in the profile entry's file, text in its function name, cumulative?)
WANTED = {
    "submit": ("engine.py", "submit", True),
    "_handle": ("engine.py", "_handle", True),
    "array": ("~", "numpy.array", False),
    "copyto": ("~", "copyto", False),
    "poll": ("~", "'poll' of 'select.poll'", False),
    "send": ("~", "posix.write", False),
}


def run(quick: bool, malloc: bool = False) -> Report:
    from studio.bench import engine_run, make_frames
    from studio.engine import Engine

    if malloc:
        keep_big_blocks()  # this process (the copies out) and the worker it starts

    count = 150 if quick else 400
    info = infos("identity")["identity"]
    engine = Engine(info.spec, info.file, device="cpu", hang_timeout=60)
    engine.start()
    report = Report("engine_profile", details={"frames": count, "malloc": malloc})
    try:
        for width, height in ((640, 360), (1280, 720)):
            frames = make_frames(width, height)
            engine_run(engine, frames, 30)
            profile = cProfile.Profile()
            profile.enable()
            result = engine_run(engine, frames, count)
            profile.disable()
            stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
            per_frame: dict[str, float] = {}
            for (file, _line, func), (_cc, _nc, tottime, cumtime, _callers) in stats.items():
                for label, (in_file, in_func, cumulative) in WANTED.items():
                    exact = func == in_func if in_file != "~" else in_func in func
                    if in_file in file and exact:
                        own = cumtime if cumulative else tottime
                        per_frame[label] = per_frame.get(label, 0.0) + own * 1000 / count
            frame_ms = 1000 * result["elapsed"] / result["frames"]
            label = f"identity {width}x{height}"
            report.details[label] = {
                "engine_ms_per_frame": round(frame_ms, 3),
                **{k: round(v, 3) for k, v in sorted(per_frame.items())},
            }
            say(f"  {label}: {report.details[label]}")
            report.add(f"{label} engine time per frame", frame_ms, "ms")
            for key, name in (
                ("submit", "Engine.submit (copy into shared memory)"),
                ("array", "numpy.array (copy out of shared memory)"),
                ("_handle", "reader: handling a result (copy out, dispatch, deliver)"),
                ("poll", "reader: waiting for the worker (poll)"),
            ):
                report.add(f"{label} {name} per frame", per_frame.get(key), "ms")
    finally:
        engine.stop()
    return report


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--malloc", action="store_true", help="what-if: glibc keeps big blocks (both processes)"
    )


if __name__ == "__main__":
    raise SystemExit(module_main(run, options=_options))
