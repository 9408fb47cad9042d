"""The thin Typer layer: each command declares options, makes one library call and hands it to a reporter.

Command modules register themselves on the one ``app`` when imported; nothing heavy is imported until a
command runs, so ``gradtool --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from gradtool.cli.common import SETTINGS, app


def command_name(command) -> str:
    return command.name or command.callback.__name__.replace("_", "-")


for _module in ("derivatives", "graph", "optimize", "configs", "fit", "plot"):
    importlib.import_module(f"gradtool.cli.{_module}")

# `gradtool --help` lists the commands in this order (from derivatives to descent to data to pictures).
ORDER = ["grad", "graph", "check-grad", "functions", "minimize", "optimizers", "compare", "run", "lr-find", "schema"]
ORDER += ["fit", "predict", "plot"]
app.registered_commands.sort(key=lambda c: ORDER.index(command_name(c)))

__all__ = ["app", "main"]


def only(name: str) -> typer.Typer:
    """The app with just the command ``name``: Typer builds every command's parser before running one,
    ~0.1 s for all of gradtool's; the console script builds only the one it runs."""
    single = typer.Typer(**SETTINGS)
    single.registered_callback = app.registered_callback
    single.registered_commands = [c for c in app.registered_commands if command_name(c) == name]
    return single


def main() -> None:
    """Console-script entry point: usage errors become one ``error: ...`` line and exit 2; SIGTERM stops a
    command as Ctrl-C does, with exit 143; stdout is flushed here, so that a full disk is one error line
    and a closed pipe a quiet exit 141 (never a traceback or Python's "Exception ignored")."""
    from gradtool.interrupt import received, terminate_as_interrupt

    with terminate_as_interrupt():
        code = _run()
        code = _flush_stdout(code)
    if received() is not None and code == 130:
        code = 128 + received()
    sys.exit(code)


def _run() -> int:
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    target = only(first) if first in ORDER else app
    try:
        code = target(standalone_mode=False)
    except KeyboardInterrupt:  # pragma: no cover - outside any command
        return 130
    except Exception as exc:
        # Typer's vendored Click raises UsageError & co.; duck-typed so that nothing imports Click itself
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stdout.write(exc.format_message() + "\n")
        else:
            hint = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            sys.stderr.write(f"error: {' '.join(exc.format_message().split())}{hint}\n")
        return exc.exit_code
    return code if isinstance(code, int) else 0


def _flush_stdout(code: int) -> int:
    from gradtool.cli.common import BROKEN_PIPE, silence_stdout

    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return BROKEN_PIPE
    except OSError as exc:
        silence_stdout()
        if code != 2:  # else the command has already said what went wrong, in one line
            sys.stderr.write(f"error: cannot write to stdout: {exc.strerror}\n")
        return 2
    return code
