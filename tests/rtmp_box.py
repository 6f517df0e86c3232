"""A stand-in for the go-livepeer box in tests: nginx-rtmp as the media server, ffmpeg as the AI.

The real box (MediaMTX + gateway + runner) takes a stream published at ``KEY`` and publishes
the processed result at ``KEY-out``. :class:`RtmpServer` runs Debian's nginx with the RTMP
module on a free loopback port, entirely from a temporary directory (no root-owned paths),
and :class:`Relay` plays the pipeline: it reads ``KEY``, applies a known ffmpeg filter and
publishes ``KEY-out``. Both are real processes, started and killed by PID, so the transport
under test talks real RTMP and faults (a server killed mid-stream) are real faults.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")

_CONF = """\
load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
        }}
    }}
}}
"""


def available() -> str | None:
    """Why the RTMP test stack cannot run here, or None when it can."""
    if not Path(NGINX).exists():
        return "nginx is not installed"
    if not RTMP_MODULE.exists():
        return f"the nginx RTMP module is missing ({RTMP_MODULE}; apt install libnginx-mod-rtmp)"
    if not Path(FFMPEG).exists():
        return "ffmpeg is not installed"
    return None


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _kill(proc: subprocess.Popen[bytes], grace: float = 2.0, *, hard: bool = False) -> None:
    """End ``proc`` by its PID: SIGTERM (SIGKILL when ``hard``), then SIGKILL if it lingers;
    always reaped."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)


class RtmpServer:
    """nginx-rtmp on ``127.0.0.1:port`` with one ``live`` application.

    ``start()`` after ``stop()`` reuses the same port (nginx sets SO_REUSEADDR), which is how
    the tests restart "the box" under a connected publisher.
    """

    def __init__(self, port: int | None = None, workdir: str | Path | None = None):
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="studio-rtmp-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{key}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        reason = available()
        if reason:
            raise RuntimeError(reason)
        (self.dir / "temp").mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(_CONF.format(module=RTMP_MODULE, dir=self.dir, port=self.port))
        errlog = self.dir / "error.log"
        self.proc = subprocess.Popen(
            [NGINX, "-p", f"{self.dir}/", "-c", str(conf), "-e", str(errlog)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = errlog.read_text(errors="replace")[-2000:] if errlog.exists() else ""
                raise RuntimeError(f"nginx did not start on port {self.port}:\n{tail}")
            time.sleep(0.05)

    def stop(self, *, hard: bool = False) -> None:
        """Stop nginx (its PID only; ``hard``: SIGKILL, like a crash) and wait until the port
        is free again."""
        if self.proc is not None:
            _kill(self.proc, hard=hard)
            self.proc = None
        deadline = time.monotonic() + 5
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class Relay:
    """The box's part: read ``KEY``, apply ``vf`` (an ffmpeg filter), publish ``KEY-out``.

    ffmpeg exits when its input is not published yet or goes away, so a thread restarts it
    until :meth:`stop`. Timestamps are kept (``-copyts``, one output frame per input frame):
    nginx passes RTMP timestamps through, so the played-back pts are the publisher's, which
    lets the player match them to the publisher's send times.
    """

    def __init__(self, server: RtmpServer, key: str, vf: str = "negate", *, log_dir: Path):
        self.server = server
        self.key = key
        self.vf = vf
        self.log_path = Path(log_dir) / f"relay-{os.getpid()}-{id(self):x}.log"
        self.runs = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def command(self) -> list[str]:
        return [
            FFMPEG,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "warning",
            "-fflags",
            "nobuffer",
            "-analyzeduration",
            "500000",
            "-probesize",
            "65536",
            "-rw_timeout",
            "3000000",
            "-i",
            self.server.url(self.key),
            "-an",
            "-vf",
            self.vf,
            "-copyts",
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "-1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-bf",
            "0",
            "-g",
            "30",
            "-f",
            "flv",
            "-flvflags",
            "no_duration_filesize",
            self.server.url(f"{self.key}-out"),
        ]

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="test-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with open(self.log_path, "ab") as log:
            while not self._stop.is_set():
                with self._lock:
                    if self._stop.is_set():
                        return
                    self._proc = subprocess.Popen(
                        self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log
                    )
                    self.runs += 1
                proc = self._proc
                while proc.poll() is None and not self._stop.wait(0.1):
                    pass
                self._stop.wait(0.3)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._proc is not None:
                _kill(self._proc, grace=0.5)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
