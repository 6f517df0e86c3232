"""PipelineInfo: what discovery learned about one pipeline, or about one file that failed.

It is plain data (no user objects), so it crosses the process boundary as JSON and the app
can list, filter and show pipelines without importing any user code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.spec import PipelineSpec


@dataclass
class PipelineInfo:
    """One discovered pipeline, or one target (file, package, entry point) that failed.

    ``error`` is one line, ``"path/file.py:12: SyntaxError: invalid syntax"`` style, for a
    list or a status bar; ``traceback`` holds the full text for a "details" view. An entry
    with an error may still carry ``name`` and ``spec`` when the pipeline itself was found
    but cannot be used (e.g. its params model has no JSON schema).
    """

    name: str | None
    spec: PipelineSpec | None
    file: str | None
    line: int | None
    doc: str
    params_schema: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    origin: str = "folder"
    conflict: bool = False

    @property
    def ok(self) -> bool:
        """True for a usable pipeline (no error)."""
        return self.error is None and self.spec is not None

    @classmethod
    def failure(
        cls,
        error: str,
        *,
        file: str | None = None,
        line: int | None = None,
        traceback: str | None = None,
        origin: str = "folder",
        spec: PipelineSpec | None = None,
    ) -> PipelineInfo:
        """An error entry; ``spec`` (and so ``name``) only when the pipeline was found."""
        return cls(
            name=spec.name if spec is not None else None,
            spec=spec,
            file=file,
            line=line,
            doc="",
            error=error,
            traceback=traceback,
            origin=origin,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec.to_dict() if self.spec is not None else None,
            "file": self.file,
            "line": self.line,
            "doc": self.doc,
            "params_schema": self.params_schema,
            "defaults": self.defaults,
            "error": self.error,
            "traceback": self.traceback,
            "origin": self.origin,
            "conflict": self.conflict,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PipelineInfo:
        spec = data.get("spec")
        return cls(
            name=data.get("name"),
            spec=PipelineSpec.from_dict(spec) if spec else None,
            file=data.get("file"),
            line=data.get("line"),
            doc=data.get("doc") or "",
            params_schema=dict(data.get("params_schema") or {}),
            defaults=dict(data.get("defaults") or {}),
            error=data.get("error"),
            traceback=data.get("traceback"),
            origin=data.get("origin") or "folder",
            conflict=bool(data.get("conflict", False)),
        )
