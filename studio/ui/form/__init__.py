"""The params form: ``schema`` reads a params JSON schema (no Qt), ``form`` shows it.

``ParamsForm`` loads on first use (PEP 562), so ``studio.ui.form.schema`` can be imported
and tested without Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.ui.form.form import ParamsForm

__all__ = ["ParamsForm"]


def __getattr__(name: str) -> Any:
    if name == "ParamsForm":
        from studio.ui.form.form import ParamsForm

        return ParamsForm
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
