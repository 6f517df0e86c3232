"""Named param sets per pipeline, one JSON file per pipeline.

``data_dir()/presets/<pipeline>.json`` holds ``{"version": 1, "presets": {"name": {...}}}``.
Every call reads the file afresh (they are tiny), so edits made outside the app are seen and
two windows cannot drift apart; every change is an atomic write.

A preset file that cannot be used (bad JSON, wrong shape) never stops the app and is never
overwritten: it is set aside as ``<file>.broken-...``, a line is added to
:attr:`PresetStore.problems`, and the pipeline starts again with no presets. A file written
by a newer studio is read but left untouched.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.userfiles import (
    BrokenFileError,
    UserFileError,
    data_dir,
    read_json,
    set_aside,
    write_json_atomic,
)

PRESETS_VERSION = 1
MAX_NAME_LENGTH = 80

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10))}
_RESERVED |= {f"LPT{i}" for i in range(10)}
_BAD_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}  # control chars, lone surrogates, line breaks
_MISSING = object()


class PresetError(Exception):
    """A preset operation was refused; the message is meant for the user."""


def validate_name(name: object) -> str:
    """The preset name, trimmed; :class:`PresetError` says what is wrong with a bad one."""
    if not isinstance(name, str):
        raise PresetError(f"A preset name must be text, not {type(name).__name__}.")
    name = name.strip()
    if not name:
        raise PresetError("A preset name cannot be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise PresetError(
            f"A preset name can have at most {MAX_NAME_LENGTH} characters (this one has"
            f" {len(name)})."
        )
    for char in name:
        if unicodedata.category(char) in _BAD_CATEGORIES:
            raise PresetError(
                f"A preset name cannot contain control characters (found U+{ord(char):04X})."
            )
    return name


def pipeline_file_stem(pipeline: str) -> str:
    """A safe, unique file name stem for a pipeline name.

    Plain lowercase names are kept as they are. Any other name is reduced to safe characters
    and lowercased, plus a short hash of the real name, so ``"a b"``/``"a_b"`` and
    ``"Blur"``/``"blur"`` never share a file, even on case-insensitive file systems.
    """
    if not isinstance(pipeline, str) or not pipeline.strip():
        raise PresetError("A pipeline name is needed to keep presets.")
    safe = _UNSAFE.sub("_", pipeline).strip("._")[:100].lower() or "pipeline"
    if safe == pipeline and safe.split(".")[0].upper() not in _RESERVED:
        return safe
    digest = hashlib.sha1(pipeline.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe}-{digest}"


class PresetStore:
    """Presets of every pipeline, under ``root`` (default ``data_dir()/presets``)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir() / "presets"
        #: One line per file that could not be used, for the app to show (and then clear).
        self.problems: list[str] = []
        self._lock = threading.RLock()

    def path_for(self, pipeline: str) -> Path:
        """The file that holds ``pipeline``'s presets."""
        return self.root / f"{pipeline_file_stem(pipeline)}.json"

    def list(self, pipeline: str) -> list[str]:
        """Preset names of ``pipeline``, sorted (case-insensitively, then exactly)."""
        with self._lock:
            presets, _ = self._read(pipeline)
        return sorted(presets, key=lambda n: (n.casefold(), n))

    def load(self, pipeline: str, name: str) -> dict[str, Any]:
        """The params saved as ``name`` (a fresh dict the caller may change)."""
        name = validate_name(name)
        with self._lock:
            presets, _ = self._read(pipeline)
        if name not in presets:
            raise PresetError(f"No preset named {name!r} for {pipeline!r}.")
        return presets[name]

    def save(self, pipeline: str, name: str, params: Mapping[str, Any]) -> None:
        """Save ``params`` as ``name``, replacing a preset of that name."""
        name = validate_name(name)
        if not isinstance(params, Mapping):
            raise PresetError(f"Preset params must be a mapping, not {type(params).__name__}.")
        with self._lock:
            presets = self._read_for_change(pipeline)
            presets[name] = dict(params)
            self._write(pipeline, presets)

    def rename(self, pipeline: str, old: str, new: str) -> None:
        """Rename preset ``old`` to ``new``; refused if ``old`` is missing or ``new`` taken."""
        old, new = validate_name(old), validate_name(new)
        with self._lock:
            presets = self._read_for_change(pipeline)
            if old not in presets:
                raise PresetError(f"No preset named {old!r} for {pipeline!r}.")
            if new == old:
                return
            if new in presets:
                raise PresetError(f"A preset named {new!r} already exists for {pipeline!r}.")
            presets = {new if key == old else key: value for key, value in presets.items()}
            self._write(pipeline, presets)

    def delete(self, pipeline: str, name: str) -> None:
        """Delete preset ``name``; refused if there is none."""
        name = validate_name(name)
        with self._lock:
            presets = self._read_for_change(pipeline)
            if name not in presets:
                raise PresetError(f"No preset named {name!r} for {pipeline!r}.")
            del presets[name]
            self._write(pipeline, presets)

    def _read_for_change(self, pipeline: str) -> dict[str, dict[str, Any]]:
        presets, writable = self._read(pipeline)
        if not writable:
            raise PresetError(
                f"The presets of {pipeline!r} in {self.path_for(pipeline)} cannot be changed:"
                f" {self.problems[-1] if self.problems else 'the file is not usable'}"
            )
        return presets

    def _read(self, pipeline: str) -> tuple[dict[str, dict[str, Any]], bool]:
        """The presets of ``pipeline`` and whether its file may be written. Never raises
        for a bad file: it is set aside and reported instead."""
        path = self.path_for(pipeline)
        try:
            data = read_json(path, default=_MISSING)
        except BrokenFileError as exc:
            return {}, self._set_aside(path, str(exc))
        except UserFileError as exc:
            self._report(str(exc))
            return {}, False
        if data is _MISSING:
            return {}, True
        shape_error = _shape_error(data)
        if shape_error is not None:
            return {}, self._set_aside(path, f"{path} {shape_error}")
        presets = data["presets"]
        if data["version"] > PRESETS_VERSION:
            self._report(f"{path} was written by a newer studio; its presets are read-only.")
            return presets, False
        return presets, True

    def _set_aside(self, path: Path, reason: str) -> bool:
        """Move a bad file out of the way; ``True`` if the pipeline may start afresh."""
        try:
            moved = set_aside(path)
        except UserFileError as exc:
            self._report(f"{reason} (it could not be set aside either: {exc})")
            return False
        self._report(f"{reason}; it was kept as {moved.name} and the presets start empty.")
        return True

    def _report(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def _write(self, pipeline: str, presets: dict[str, dict[str, Any]]) -> None:
        path = self.path_for(pipeline)
        try:
            write_json_atomic(path, {"version": PRESETS_VERSION, "presets": presets})
        except (TypeError, ValueError) as exc:
            raise PresetError(f"These params cannot be saved as JSON: {exc}") from exc
        except UserFileError as exc:
            raise PresetError(str(exc)) from exc


def _shape_error(data: Any) -> str | None:
    """What is wrong with a parsed preset file, or ``None`` if it has the expected shape."""
    if not isinstance(data, dict):
        kind = "null" if data is None else type(data).__name__
        return f"holds a {kind}, not an object"
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return f"has no valid version (found {version!r})"
    presets = data.get("presets")
    if not isinstance(presets, dict):
        return f'has no "presets" object (found {type(presets).__name__})'
    for name, params in presets.items():
        if not isinstance(params, dict):
            return f"has a preset {name!r} that is not an object ({type(params).__name__})"
    return None
