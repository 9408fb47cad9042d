"""The thin Typer layer: each command declares options, makes one library call and hands it to a reporter.

Command modules register themselves on the one ``app`` when imported; nothing heavy is imported until a
command runs, so ``gradtool --help`` stays fast. ``app`` (every command) is assembled on first use; the console
script imports only the module of the command it runs (its option declarations cost ~10 ms across all).
"""

from __future__ import annotations

import importlib
import sys

import typer

from gradtool.cli import common

# Each command -> the module that declares it, in the order `gradtool --help` lists them (from derivatives to
# descent to data to pictures).
COMMANDS: dict[str, str] = {
    "grad": "derivatives",
    "graph": "graph",
    "check-grad": "derivatives",
    "functions": "derivatives",
    "minimize": "optimize",
    "optimizers": "optimize",
    "compare": "configs",
    "run": "configs",
    "lr-find": "configs",
    "schema": "configs",
    "fit": "fit",
    "predict": "fit",
    "plot": "plot",
}
ORDER = list(COMMANDS)

__all__ = ["app", "main"]


def command_name(command) -> str:
    return command.name or command.callback.__name__.replace("_", "-")


def __getattr__(name: str):
    """``app``: every command module imported (each registers its commands), the commands in ORDER."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for module in dict.fromkeys(COMMANDS.values()):
        importlib.import_module(f"gradtool.cli.{module}")
    common.app.registered_commands.sort(key=lambda c: ORDER.index(command_name(c)))
    return common.app


def only(name: str) -> typer.Typer:
    """The app with just the command ``name``: Typer builds every command's parser before running one,
    ~0.1 s for all of gradtool's; the console script imports and builds only the one it runs."""
    importlib.import_module(f"gradtool.cli.{COMMANDS[name]}")
    single = typer.Typer(**common.SETTINGS)
    single.registered_callback = common.app.registered_callback
    single.registered_commands = [c for c in common.app.registered_commands if command_name(c) == name]
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
    try:
        target = only(first) if first in COMMANDS else __getattr__("app")  # imports: a stop may come here
        code = target(standalone_mode=False)
    except KeyboardInterrupt:  # before a command runs (its own handler says it inside one)
        from gradtool.interrupt import received

        sys.stderr.write("interrupted\n" if received() is None else "terminated\n")
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
