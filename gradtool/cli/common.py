"""The Typer app, shared options and error handling: GradtoolError -> one stderr line and its exit code."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
from typing import Annotated

import typer

from gradtool import __version__
from gradtool.errors import GradtoolError
from gradtool.params import ParamError

SETTINGS = dict(
    name="gradtool",
    help="Derivatives and gradient descent: safe expressions, three gradient engines, optimizers.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: Rich's help formatter alone costs ~0.12 s of start-up
)
app = typer.Typer(**SETTINGS)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gradtool {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """gradtool: see README.md for every command, option and convention."""


def fail(message: str, code: int = 2):
    """Print ``error: message`` on stderr and exit with ``code`` (no traceback)."""
    message = message.replace("\r", "\\r").replace("\n", "\\n")  # one line, even when a value has newlines
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def handled(func):
    """Turn GradtoolError into one stderr line and its exit code; Ctrl-C (or SIGTERM) into ``interrupted``
    and 130 (143); a broken pipe on stdout into a quiet exit 141; a failed write to stdout into one line."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            if kwargs.get("no_cache"):  # the commands that declare --no-cache: off here and in worker processes
                from gradtool.cache import disable

                disable()
            if "budget" in kwargs:  # the commands that declare --budget: every symbolic step gets it
                from gradtool.budget import within

                with within(kwargs["budget"]):
                    return func(*args, **kwargs)
            return func(*args, **kwargs)
        except ParamError as exc:  # a parameter's error in command-line terms: --beta1: ...
            from gradtool.cli.choices import cli_message

            fail(cli_message(exc), exc.exit_code)
        except GradtoolError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            from gradtool.interrupt import received

            typer.echo("interrupted" if received() is None else "terminated", err=True)
            raise typer.Exit(130) from None  # the console script turns it into 128 + the signal's number
        except BrokenPipeError:  # the reader of stdout has gone (`gradtool ... | head -1`): stop, as Unix tools do
            silence_stdout()
            raise typer.Exit(BROKEN_PIPE) from None
        except OSError as exc:
            if exc.errno not in WRITE_ERRORS:
                raise
            silence_stdout()
            fail(f"cannot write to stdout: {exc.strerror}")

    return wrapper


BROKEN_PIPE = 141  # 128 + SIGPIPE: the status a shell reports for a Unix tool whose reader went away
WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered for it is not written (and does not fail
    again with "Exception ignored" when Python exits)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a file (a test runner's buffer)
        pass


def claim_outputs(json: bool, reads: list[tuple[str, str | None]] = (), **writes: str | None) -> bool:
    """Check a command's output options before anything runs (``fit(save=..., plot=...)`` names them
    ``--save``, ``--plot``): none is an input, no two are the same file, at most one is ``-``; ``--json``
    and an output on stdout exclude each other. True when an output is stdout (the report then goes to
    stderr, see :func:`report_stream`)."""
    if all(path is None for path in writes.values()):
        return False  # nothing to write: nothing to check (and gradtool.io not imported)
    from gradtool.io import STDOUT, check_outputs

    labelled = [(f"--{name.replace('_', '-')}", path) for name, path in writes.items()]
    check_outputs(labelled, reads)
    on_stdout = [label for label, path in labelled if path == STDOUT]
    if on_stdout and json:
        from gradtool.errors import ConfigError

        raise ConfigError(f"--json and {on_stdout[0]} - both want stdout; write one of them to a file")
    return bool(on_stdout)


def save_plot(figure, path: str, **options) -> None:
    """Write a figure (see :func:`gradtool.plot.save_figure`) and say where on stderr; a picture written to
    stdout (``-``) speaks for itself."""
    from gradtool.io import STDOUT
    from gradtool.plot import save_figure

    save_figure(figure, path, **options)
    if path != STDOUT:
        typer.echo(f"wrote {path}", err=True)


def report_stream(to_stderr: bool):
    """Print the report (tables, summaries) on stderr while an output is written to stdout."""
    return contextlib.redirect_stdout(sys.stderr) if to_stderr else contextlib.nullcontext()


# Options shared by several commands
Vars = Annotated[
    str | None,
    typer.Option("--vars", help="Variable order, e.g. x,y,z (default: natural alphabetical order, x2 before x10)."),
]
Dim = Annotated[int | None, typer.Option("--dim", help="Dimension of an n-D named test function (default 2).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")]
Expr = Annotated[
    str,
    typer.Argument(help='An expression such as "x^2 + 3*y^2", or a named test function (see `gradtool functions`).'),
]
PlotFile = Annotated[
    str | None,
    typer.Option(
        "--plot", help="Also draw a picture into this file: .png, .svg or .pdf (needs matplotlib; see docs/plots.md)."
    ),
]

Budget = Annotated[
    float,
    typer.Option(
        "--budget",
        help="Seconds each symbolic step (SymPy's derivatives, Hessian, simplification, printing) may take; "
        "past it the command falls back (unsimplified form, autodiff) with a note, or stops with an error.",
    ),
]
BUDGET_DEFAULT = 5.0  # = gradtool.budget.DEFAULT_SECONDS (not imported here: --help stays light)
NoCache = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Neither read nor write the compile cache: SymPy derives and compiles everything afresh "
        "(as GRADTOOL_CACHE=0 does; see README 'The compile cache').",
    ),
]

# An expression may start with a minus sign ("-x^2 + 1"): pass unknown "-..." words on as the argument,
# where the parser judges them, instead of failing as an unknown option.
EXPRESSION_FIRST = {"ignore_unknown_options": True}
