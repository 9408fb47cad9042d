"""The Typer app, shared options and error handling: GradtoolError -> one stderr line and its exit code."""

from __future__ import annotations

import functools
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
    """Turn GradtoolError into one stderr line and its exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ParamError as exc:  # a parameter's error in command-line terms: --beta1: ...
            from gradtool.cli.choices import cli_message

            fail(cli_message(exc), exc.exit_code)
        except GradtoolError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


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

# An expression may start with a minus sign ("-x^2 + 1"): pass unknown "-..." words on as the argument,
# where the parser judges them, instead of failing as an unknown option.
EXPRESSION_FIRST = {"ignore_unknown_options": True}
