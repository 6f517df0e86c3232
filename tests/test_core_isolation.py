"""The core runs with Qt absent, and ``import studio`` stays cheap."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CORE = [
    "studio",
    "studio.decorator",
    "studio.runtime",
    "studio.engine",
    "studio.discovery",
    "studio.sources",
    "studio.media",
    "studio.session",
    "studio.settings",
    "studio.presets",
    "studio.watch",
    "studio.rolling",
    "studio.cli",
    "studio.bench",
    "studio.ui.form.schema",
]


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_the_core_imports_and_runs_with_qt_blocked():
    result = run(f"""
        import importlib.abc, sys

        class NoQt(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("PySide6", "shiboken6", "qasync"):
                    raise ImportError(f"Qt is blocked here: {{name}}")

        sys.meta_path.insert(0, NoQt())
        import importlib
        for name in {CORE!r}:
            importlib.import_module(name)
        from studio.cli import main
        sys.exit(main(["list", "--json"]))
    """)
    assert result.returncode == 0, result.stderr
    assert '"green-shift"' in result.stdout


def test_importing_studio_loads_neither_torch_nor_pydantic_nor_qt():
    result = run("""
        import sys, studio
        heavy = [m for m in ("torch", "pydantic", "PySide6", "numpy") if m in sys.modules]
        print(heavy)
        from studio import pipeline, BaseParams  # the exports still work on first use
        print("pydantic" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "True"]
