"""The thin Typer layer: each command declares options, makes one library call and hands it to a reporter.

Command modules register themselves on the one ``app`` when imported; nothing heavy is imported until a
command runs, so ``gradtool --help`` stays fast.
"""

from __future__ import annotations

import sys

from gradtool.cli import configs, derivatives, fit, optimize, plot  # noqa: F401  (registers the commands)
from gradtool.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - outside any command
        sys.exit(130)
