"""The app's remembered state: one JSON file, ``config_dir()/settings.json``.

Loading never fails. A missing file gives defaults; a file that is not a JSON object is set
aside (kept as ``settings.json.broken-...``) and defaults are used; a value that does not fit
(``"device": "gpu"``) is dropped while the rest of the file is kept. Each case leaves a
one-line :attr:`Settings.problem` for the app to show. Keys this version does not know are
ignored. Saving is atomic, so a crash never leaves half a settings file.

The stream key is kept in the file (the user typed it once) but is a ``SecretStr`` in
memory, so it shows as ``**********`` in reprs, logs and tracebacks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
)

from studio.userfiles import (
    BrokenFileError,
    UserFileError,
    config_dir,
    read_json,
    set_aside,
    write_json_atomic,
)

SETTINGS_FILE = "settings.json"
SETTINGS_VERSION = 1

PreviewLayout = Literal["side-by-side", "single"]
Device = Literal["auto", "cpu", "cuda"]


def settings_path() -> Path:
    """Where settings live by default (follows ``STUDIO_HOME``)."""
    return config_dir() / SETTINGS_FILE


def _folder_key(folder: str) -> str:
    return os.path.normcase(folder)


def _norm_folder(folder: str | os.PathLike[str]) -> str:
    """One spelling per folder (``~`` expanded, absolute, no ``..``) so duplicates are seen."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.fspath(folder))))


class LiveSettings(BaseModel):
    """Streaming to a Livepeer box: where it is and which stream to publish."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    host: str = "localhost"
    rtmp_port: int = Field(1935, ge=1, le=65535)
    api_port: int = Field(5936, ge=1, le=65535)  # the gateway's HTTP API (live updates, status)
    stream_id: str = ""
    stream_key: SecretStr = SecretStr("")
    send: Literal["input", "output"] = "input"
    ingest_template: str = ""  # empty: the box's own URL layout
    playback_template: str = ""
    width: int = Field(1280, ge=16, le=7680)
    height: int = Field(720, ge=16, le=4320)
    fps: float = Field(30.0, gt=0, le=240)
    bitrate: int = Field(1_000_000, ge=10_000)

    @field_serializer("stream_key", when_used="json")
    def _reveal_key(self, value: SecretStr) -> str:
        """The file keeps the real key; only JSON dumps (what :meth:`Settings.save` writes)
        reveal it, never repr/str."""
        return value.get_secret_value()


class Settings(BaseModel):
    """Everything the app remembers between runs. Assignments are validated."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    window_geometry: str = ""  # QWidget.saveGeometry(), base64
    window_state: str = ""  # QMainWindow.saveState(), base64
    splitter_sizes: dict[str, list[int]] = Field(default_factory=dict)  # splitter name -> sizes
    pipeline_folders: list[str] = Field(default_factory=list)
    last_pipeline: str | None = None
    last_source: str = "testsrc"  # "testsrc", "webcam:0", or a video file path
    last_params: dict[str, dict[str, Any]] = Field(default_factory=dict)  # pipeline -> params
    preview_layout: PreviewLayout = "side-by-side"
    hot_reload: bool = True
    device: Device = "auto"
    live: LiveSettings = Field(default_factory=LiveSettings)

    _path: Path | None = PrivateAttr(default=None)
    _problem: str | None = PrivateAttr(default=None)

    @field_validator("pipeline_folders")
    @classmethod
    def _dedupe_folders(cls, folders: list[str]) -> list[str]:
        seen: set[str] = set()
        result = []
        for folder in folders:
            if not folder.strip():
                continue
            norm = _norm_folder(folder)
            if _folder_key(norm) not in seen:
                seen.add(_folder_key(norm))
                result.append(norm)
        return result

    @property
    def path(self) -> Path:
        """The file :meth:`save` writes (the default location unless loaded from elsewhere)."""
        return self._path if self._path is not None else settings_path()

    @property
    def problem(self) -> str | None:
        """Why the file could not be used as it was, for the app to show; ``None`` if fine."""
        return self._problem

    @classmethod
    def load(cls, path: Path | str | None = None) -> Self:
        """Settings from ``path`` (default: :func:`settings_path`). Never raises."""
        path = Path(path) if path is not None else settings_path()
        problem: str | None = None
        try:
            data = read_json(path, default={})
        except BrokenFileError as exc:
            data, problem = {}, f"Settings were reset: {exc}{_aside(path)}"
        except UserFileError as exc:
            data, problem = {}, f"Settings were reset: {exc}"
        if not isinstance(data, dict):
            kind = "null" if data is None else type(data).__name__
            data, problem = {}, f"Settings were reset: {path} holds a {kind}, not an object"
            problem += _aside(path)
        settings, dropped = cls._validate_keeping_good(data)
        if dropped:
            problem = f"Some settings in {path} were ignored: {'; '.join(dropped)}"
        settings._path = path
        settings._problem = problem
        return settings

    @classmethod
    def _validate_keeping_good(cls, data: dict[str, Any]) -> tuple[Self, list[str]]:
        """Validate, dropping each value that does not fit rather than the whole file."""
        dropped: list[str] = []
        for _ in range(50):
            try:
                return cls.model_validate(data), dropped
            except ValidationError as exc:
                for error in exc.errors(include_url=False):
                    where = _drop(data, error["loc"])
                    if where is not None:
                        dropped.append(f"{where}: {error['msg']}")
        return cls(), dropped

    def save(self, path: Path | str | None = None) -> None:
        """Write the settings atomically. Raises :class:`UserFileError` if it cannot."""
        if path is not None:
            self._path = Path(path)
        write_json_atomic(self.path, {"version": SETTINGS_VERSION, **self.model_dump(mode="json")})

    def add_folder(self, folder: str | os.PathLike[str]) -> bool:
        """Remember a pipeline folder; ``False`` if it was already there."""
        norm = _norm_folder(folder)
        if any(_folder_key(f) == _folder_key(norm) for f in self.pipeline_folders):
            return False
        self.pipeline_folders = [*self.pipeline_folders, norm]
        return True

    def remove_folder(self, folder: str | os.PathLike[str]) -> bool:
        """Forget a pipeline folder; ``False`` if it was not there."""
        key = _folder_key(_norm_folder(folder))
        kept = [f for f in self.pipeline_folders if _folder_key(f) != key]
        if len(kept) == len(self.pipeline_folders):
            return False
        self.pipeline_folders = kept
        return True

    def params_for(self, pipeline: str) -> dict[str, Any]:
        """The params last used with ``pipeline`` (a copy; empty if none)."""
        return dict(self.last_params.get(pipeline, {}))

    def remember_params(self, pipeline: str, params: dict[str, Any]) -> None:
        """Keep ``params`` as the last ones used with ``pipeline``."""
        self.last_params = {**self.last_params, pipeline: dict(params)}


def _aside(path: Path) -> str:
    """Set a broken settings file aside; the text to append to the problem message."""
    try:
        moved = set_aside(path)
    except UserFileError as exc:
        return f" (could not keep a copy: {exc})"
    return f" (kept as {moved.name})"


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> str | None:
    """Delete the value an error points at (a whole top-level list, a single dict entry).

    Returns the dotted name of what was dropped, or ``None`` if nothing was left to drop.
    """
    container: Any = data
    keys: list[str] = []
    for part in loc[:2]:
        if not isinstance(part, str) or not isinstance(container, dict) or part not in container:
            break
        keys.append(part)
        if not isinstance(container[part], dict):
            break
        container = container[part]
    if not keys:
        return None
    parent: Any = data
    for key in keys[:-1]:
        parent = parent[key]
    del parent[keys[-1]]
    return ".".join(keys)
