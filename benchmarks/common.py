"""What every benchmark shares: its report format, a module entry point, /proc readers.

Each benchmark is a module with ``run(quick: bool) -> Report``; ``python -m benchmarks.NAME``
runs one on its own and ``python -m benchmarks`` runs them all, each in a fresh process so a
Qt application, a worker pool or a crash in one cannot colour the next one's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PIPELINES = Path(__file__).resolve().parent / "pipelines"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Figure:
    """One number with its target: ``met`` is None when the figure has no target."""

    name: str
    value: float | None
    unit: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Report:
    """A benchmark's figures plus whatever detail explains them (written to results.json)."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def add(
        self,
        name: str,
        value: float | None,
        unit: str = "",
        *,
        at_most: float | None = None,
        at_least: float | None = None,
        note: str = "",
    ) -> Figure:
        """Record a figure; ``at_most``/``at_least`` make it a target that is met or not."""
        target, met = "", None
        if value is not None and at_most is not None:
            target, met = f"<= {at_most:g}{unit and ' ' + unit}", value <= at_most
        elif value is not None and at_least is not None:
            target, met = f">= {at_least:g}{unit and ' ' + unit}", value >= at_least
        figure = Figure(name, None if value is None else round(value, 3), unit, target, met, note)
        self.figures.append(figure)
        return figure

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def say(text: str) -> None:
    """Progress on stderr, so that stdout stays free for whoever parses it."""
    print(text, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, the same definition the engine's stats use."""
    from studio.engine.stats import percentile as engine_percentile

    return engine_percentile(list(values), q)


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident set size of ``pid`` in MiB (VmRSS), None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int | str = "self", tid: int | None = None) -> float | None:
    """User + system CPU seconds of a process (all its threads) or of one of its threads."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu(pid: int | str = "self") -> dict[str, float]:
    """CPU seconds per thread name of a process (threads sharing a name are summed).

    For this process, Python threads go by their ``threading`` name (Python 3.12 does not
    name OS threads, so they would all read ``python``); others by their OS name.
    """
    import threading

    own = {t.native_id: t.name for t in threading.enumerate()} if pid == "self" else {}
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = own.get(int(task.name)) or (task / "comm").read_text().strip()
        except OSError:
            continue
        seconds = cpu_seconds(pid, int(task.name))
        if seconds is not None:
            out[name] = out.get(name, 0.0) + seconds
    return out


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_home() -> str:
    """A throw-away STUDIO_HOME, so caches and settings never touch the real home folder."""
    import tempfile

    if "STUDIO_HOME" not in os.environ:
        os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="studio-bench-home-")
    return os.environ["STUDIO_HOME"]


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / CLK_TCK, total / CLK_TCK


def cpu_busy(seconds: float = 2.0) -> float:
    """Fraction of all CPUs busy over ``seconds`` (from /proc/stat), whoever keeps them busy."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def wait_quiet(max_busy: float = 0.35, timeout: float = 120.0) -> float:
    """Wait (up to ``timeout``) for the machine to be mostly idle; the busy fraction seen.

    On a shared machine other jobs come and go: starting a benchmark in a quiet moment
    makes its figures less of a lottery, and the fraction is kept with them.
    """
    deadline = time.monotonic() + timeout
    busy = cpu_busy()
    while busy > max_busy and time.monotonic() < deadline:
        busy = cpu_busy()
    return round(busy, 2)


def keep_big_blocks(mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20) -> bool:
    """What-if: tell glibc malloc to serve blocks under ``mmap_threshold`` from its heap and
    keep freed memory up to ``trim_threshold``, in this process (``mallopt``) and in the
    processes it starts (the environment). False where glibc is not there."""
    import ctypes
    import ctypes.util

    os.environ["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    os.environ["MALLOC_TRIM_THRESHOLD_"] = str(trim_threshold)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(
            libc.mallopt(m_mmap_threshold, mmap_threshold)
            and libc.mallopt(m_trim_threshold, trim_threshold)
        )
    except (OSError, AttributeError):
        return False


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def infos(*names: str, extra: bool = True) -> dict[str, Any]:
    """Discovered PipelineInfo by name: the bundled pipelines plus ``benchmarks/pipelines``."""
    from studio.discovery import discover

    found = discover([str(PIPELINES)] if extra else [], cache=False, entry_points=False)
    by_name = {i.name: i for i in found if i.ok}
    missing = [n for n in names if n not in by_name]
    if missing:
        errors = "; ".join(i.error or "" for i in found if not i.ok)
        raise RuntimeError(f"pipelines not found: {missing} {errors}")
    return by_name


def write_green_shift_copy(folder: Path, rev: int) -> Path:
    """A copy of the bundled green-shift that tags each frame with ``rev`` (for reloads)."""
    source = (ROOT / "pipelines" / "green_shift.py").read_text()
    source = source.replace(
        "from studio import BaseParams, VideoFrame, pipeline",
        "from studio import BaseParams, VideoFrame, VideoOutput, pipeline",
    )
    source = source.replace("SHIFT = 0.3", f"SHIFT = 0.3\nREV = {rev}")
    source = source.replace(
        "    return tensor\n", '    return VideoOutput(tensor, metadata={"rev": REV})\n'
    )
    source = source.replace("-> torch.Tensor:", "-> VideoOutput:")
    path = folder / "green_shift_copy.py"
    path.write_text(source)
    return path


def module_main(
    run: Callable[..., Report],
    argv: list[str] | None = None,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """``python -m benchmarks.NAME [--quick] [--out FILE]``: run one, print its figures.

    ``options`` adds a benchmark's own flags (experiments); their values reach ``run`` as
    keyword arguments.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--out", help="write the report as JSON here")
    if options is not None:
        options(parser)
    args = vars(parser.parse_args(argv))
    quick, out = args.pop("quick"), args.pop("out")
    began = time.monotonic()
    report = run(quick, **args)
    report.seconds = round(time.monotonic() - began, 1)
    for f in report.figures:
        mark = {True: "met", False: "MISSED", None: ""}[f.met]
        say(f"  {report.name}: {f.name} = {f.value} {f.unit}  {f.target}  {mark}  {f.note}")
    for note in report.notes:
        say(f"  {report.name}: note: {note}")
    if out:
        Path(out).write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0
