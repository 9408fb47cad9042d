"""Fuzzing the front doors: random text and random expression trees (constants of every size included) for the
parser and the engines, random YAML for the config loader. The only exception allowed is gradtool's own, and
every example must answer within the deadline."""

from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradtool.errors import GradtoolError
from gradtool.expr.objective import load_objective
from gradtool.expr.parser import parse_expression
from gradtool.expr.vocabulary import MATH_FUNCTIONS
from gradtool.grad.analytic import AnalyticEngine
from gradtool.grad.autodiff import AutodiffEngine

FUZZ = settings(
    max_examples=150,
    derandomize=True,  # the same examples on every run: CI stays deterministic
    deadline=timedelta(seconds=5),  # generous on a shared machine; a hang would take minutes
    suppress_health_check=[HealthCheck.too_slow],
)

# ---------------------------------------------------------------- the parser: random text

TOKENS = [
    *"0123456789.eE+-*/^()",
    " ",
    ",",
    "**",
    "x",
    "y",
    "pi",
    "e",
    "1e308",
    "1e-400",
    "10^",
    "^-",
    "(-",
    *MATH_FUNCTIONS,
]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_random_text_parses_or_is_a_parse_error(text):
    try:
        expr, symbols = parse_expression(text)
    except GradtoolError as exc:
        assert "\n" not in str(exc)  # one line, for one `error: ...` line on stderr
        return
    assert expr.free_symbols == set(symbols.values())


# ---------------------------------------------------------------- the parser and the engines: random trees

NUMBERS = st.one_of(
    st.integers(0, 10**6).map(str),
    st.sampled_from(["0", "1", "2", "0.5", "1e308", "1e-300", "1e-400", "pi", "e"]),
    st.tuples(st.sampled_from(["2", "10", "0.5", "9", "(-2)", "(-1)", "e", "pi"]), st.integers(-4000, 4000)).map(
        lambda p: f"{p[0]}^({p[1]})"
    ),
)
LEAVES = st.one_of(NUMBERS, st.sampled_from(["x", "y"]))
ARITY = {name: (2 if counts is None else counts[0]) for name, (_, counts) in MATH_FUNCTIONS.items()}


def _branches(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "^"]), children).map(
        lambda t: f"({t[0]}){t[1]}({t[2]})"
    )
    call = st.sampled_from(sorted(ARITY)).flatmap(
        lambda name: st.lists(children, min_size=ARITY[name], max_size=ARITY[name]).map(
            lambda args: f"{name}({', '.join(args)})"
        )
    )
    return st.one_of(binary, call, children.map(lambda c: f"-({c})"))


TREES = st.recursive(LEAVES, _branches, max_leaves=12)


@FUZZ
@given(TREES)
def test_random_trees_parse_and_evaluate_or_are_a_parse_error(text):
    """A tree that parses is differentiated by both engines without an exception (values may be nan)."""
    try:
        objective = load_objective(text, variables="x,y")
    except GradtoolError:
        return
    point = np.array([0.7, -1.3])
    with np.errstate(all="ignore"):
        for engine in (AnalyticEngine, AutodiffEngine):
            try:
                f, g = engine(objective.expr, objective.symbols).value_and_gradient(point)
            except GradtoolError:  # too deep for SymPy's recursion: a ParseError naming it
                continue
            assert np.shape(g) == (2,)
            assert isinstance(f, float)


# ---------------------------------------------------------------- the config loader: random YAML, random documents

YAML_TOKENS = [
    *["function: ", "task: ", "optimizer: ", "optimizers: ", "name: ", "lr: ", "sweep: ", "steps: ", "x0: "],
    *["schedule: ", "starts: ", "count: ", "at: ", "random: ", "description: ", "output: ", "model: ", "data: "],
    *["x^2", "rosenbrock", "fit", "check-grad", "minimize", "adam", "gd", "step", "mlp:1-2-1", "10^400"],
    *["0.1", "-1", "1e400", "1:30", "0x10", "010", "1_000", "yes", "~", "null", "true", "9" * 400, "[/]"],
    *["\n", "  ", "- ", "[", "]", "{", "}", ", ", ": ", "'", '"', "&a ", "*a", "!!str ", "!foo ", "<<: ", "#"],
]


def _validated(text: str) -> None:
    from gradtool.config import validate
    from gradtool.config.yamlfile import parse_yaml

    try:
        data, where = parse_yaml(text, "fuzz.yaml")
        validate(data, where)  # builds the plan: nothing runs or is written
    except GradtoolError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.yaml")


@FUZZ
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join))
def test_random_yaml_loads_or_is_a_config_error(text):
    _validated(text)


KEYS = ["task", "function", "dim", "variables", "x0", "steps", "tol", "optimizer", "optimizers", "schedule"]
KEYS += ["sweep", "starts", "output", "at", "random", "method", "model", "target", "epochs", "name", "lr", "count"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["x^2", "adam", "gd", "step", "minimize", "fit", "check-grad", "sphere", "-5,5", "x=1"]),
    st.text(max_size=12),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=25,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), DOCUMENTS, max_size=7))
def test_random_documents_validate_or_are_a_config_error(document):
    import yaml

    _validated(yaml.safe_dump(document))
