"""The one exception family gradtool raises for bad input; the CLI maps it to one stderr line."""


class GradtoolError(Exception):
    """Base class: a user-facing error with a one-line message and an exit code."""

    exit_code = 2


class ParseError(GradtoolError):
    """The expression text is not in the whitelisted expression language."""


class PointError(GradtoolError):
    """A point (``x=1,y=2`` or ``1,2``) does not match the expression's variables."""


class ConfigError(GradtoolError):
    """A configuration file or option value is invalid."""


class DataError(GradtoolError):
    """A data file cannot be used (missing column, non-numeric cell, ...)."""
