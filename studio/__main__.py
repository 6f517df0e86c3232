"""``python -m studio``: the same as the ``studio`` command."""

from studio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
