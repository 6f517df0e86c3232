"""Where the studio keeps its files, and how it writes them without ever losing one.

Folders come from platformdirs (app name ``livepeer-studio``). Setting ``STUDIO_HOME`` moves
all of them under one folder (``$STUDIO_HOME/config``, ``/data``, ``/cache``), so tests, CI
and portable installs never touch the real home folder. The functions only name folders;
:func:`write_json_atomic` creates them when something is first written.

Writes are atomic (temp file in the same folder, fsync, ``os.replace``): a crash or a full
disk leaves either the old file or the new one, never half of each. A file that cannot be
parsed is moved aside by :func:`set_aside` rather than overwritten, so the user can recover it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "livepeer-studio"
HOME_ENV = "STUDIO_HOME"


class UserFileError(Exception):
    """A user file cannot be read or written; the message names the file and the reason."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(message)
        self.path = Path(path)


class BrokenFileError(UserFileError):
    """The file exists but its content is unusable (bad JSON, bad encoding): set it aside."""


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Settings live here (``$STUDIO_HOME/config`` when set)."""
    home = _home()
    if home is not None:
        return home / "config"
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    """User data worth keeping, such as presets (``$STUDIO_HOME/data`` when set)."""
    home = _home()
    if home is not None:
        return home / "data"
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    """Files that can be rebuilt at any time (``$STUDIO_HOME/cache`` when set)."""
    home = _home()
    if home is not None:
        return home / "cache"
    return platformdirs.user_cache_path(APP_NAME, appauthor=False)


def write_json_atomic(path: Path | str, data: Any, *, indent: int | None = 2) -> None:
    """Write ``data`` as JSON to ``path`` so that readers only ever see a whole file.

    Serialisation happens before any file is touched, so a value that cannot be written
    (``TypeError``/``ValueError``, NaN included) leaves the old file as it was. The file is
    created private to the user (mode 0600 on POSIX): settings may hold a stream key.
    Raises :class:`UserFileError` when the folder or the file cannot be written.
    """
    path = Path(path)
    text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
    payload = text.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserFileError(path, f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise UserFileError(path, f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; best effort)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_json(path: Path | str, default: Any = None) -> Any:
    """The parsed content of ``path``, or ``default`` when the file does not exist.

    Raises :class:`BrokenFileError` (a :class:`UserFileError`) naming the file and the
    line/column of the problem when the content is not valid UTF-8 JSON, and a plain
    :class:`UserFileError` when the file exists but cannot be read.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return default
    except OSError as exc:
        raise UserFileError(path, f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BrokenFileError(
            path, f"{path} is not valid UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BrokenFileError(
            path,
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
        ) from exc


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def set_aside(path: Path | str) -> Path:
    """Rename a broken file to ``name.broken-YYYYmmdd-HHMMSS[.N]`` and return the new path.

    The file is kept, never overwritten: an existing name gets the next ``.N`` suffix.
    Raises :class:`UserFileError` when the file cannot be moved.
    """
    path = Path(path)
    base = f"{path.name}.broken-{_stamp()}"
    for n in range(1000):
        target = path.with_name(base if n == 0 else f"{base}.{n}")
        try:
            _move_no_overwrite(path, target)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserFileError(path, f"cannot set {path} aside: {exc.strerror or exc}") from exc
        return target
    raise UserFileError(path, f"cannot set {path} aside: too many broken copies")


def _move_no_overwrite(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, raising ``FileExistsError`` rather than replacing ``dst``."""
    if os.name == "nt":
        os.rename(src, dst)  # refuses an existing target on Windows
        return
    try:
        os.link(src, dst)  # atomic "create unless it exists"
    except FileExistsError:
        raise
    except OSError:
        # No hard links on this file system: check, then rename (a tiny window, no better way).
        if os.path.lexists(dst):
            raise FileExistsError(dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)
