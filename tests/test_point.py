"""Variable order and points: natural order, --vars, and clear errors for wrong points."""

import pytest

from gradtool.errors import PointError
from gradtool.expr.objective import load_objective
from gradtool.expr.point import natural_key, order_variables, parse_box, parse_point

XY = ["x", "y"]


# ---------------------------------------------------------------- variable order


def test_natural_order_puts_x2_before_x10():
    assert order_variables({"x10", "x2", "x1", "y", "x20"}) == ["x1", "x2", "x10", "x20", "y"]


def test_natural_order_is_alphabetical_for_plain_names():
    assert order_variables(["theta", "beta", "alpha", "b10", "b9"]) == ["alpha", "b9", "b10", "beta", "theta"]


def test_natural_key_compares_numbers_as_numbers():
    assert sorted(["a100", "a20", "a3"], key=natural_key) == ["a3", "a20", "a100"]


def test_expression_variables_come_out_in_natural_order():
    assert load_objective("x10 + x2*x1 + y").variables == ["x1", "x2", "x10", "y"]


def test_vars_option_sets_the_order():
    assert order_variables({"x", "y", "z"}, "z, x ,y") == ["z", "x", "y"]
    assert load_objective("x + 2*y", variables="y,x").variables == ["y", "x"]


def test_vars_option_may_add_unused_variables():
    assert load_objective("x^2", variables="x,t").variables == ["x", "t"]


def test_vars_option_missing_a_variable_is_an_error_listing_the_expression_variables():
    with pytest.raises(PointError, match=r"^variables: misses z \(the expression uses x, y, z\)$"):
        order_variables({"x", "y", "z"}, "x,y")


@pytest.mark.parametrize(("given", "words"), [("x,x,y", "'x' listed twice"), ("x,,y", "empty name")])
def test_vars_option_with_duplicates_or_blanks_is_an_error(given, words):
    with pytest.raises(PointError, match=words):
        order_variables({"x", "y"}, given)


# ---------------------------------------------------------------- points


@pytest.mark.parametrize(
    "text",
    ["x=1,y=2", "y=2,x=1", " x = 1 , y = 2 ", "1,2", "1.0, 2e0", "x=+1,y=0.2e1"],
)
def test_point_text_forms_give_values_in_variable_order(text):
    assert parse_point(text, XY) == [1.0, 2.0]


def test_point_as_list_or_mapping():
    assert parse_point([1, 2.5], XY) == [1.0, 2.5]
    assert parse_point({"y": 3, "x": -1}, XY) == [-1.0, 3.0]


def test_negative_and_tiny_values():
    assert parse_point("x=-1.5,y=-1e-300", XY) == [-1.5, -1e-300]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x=1", "point misses y"),
        ("x=1,y=2,z=3", "unknown variable 'z'"),
        ("x=1,yy=2", "unknown variable 'yy'"),
        ("X=1,y=2", "unknown variable 'X'"),
        ("1", "point has 1 value,"),
        ("1,2,3", "point has 3 values"),
    ],
)
def test_missing_extra_or_misspelled_variable_lists_the_expected_ones(text, words):
    with pytest.raises(PointError) as info:
        parse_point(text, XY)
    message = str(info.value)
    assert words in message
    assert "expected x, y" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x=abc,y=1", "'abc' is not a number"),
        ("x=nan,y=1", "not a finite number"),
        ("x=1,y=inf", "not a finite number"),
        ("1,1e999", "not a finite number"),
        ("x=1,x=2", "'x' given twice"),
        ("x=1,2", "mixes named and positional"),
        ("", "empty value"),
        ("1,,2", "empty value"),
        ("x=__import__('os'),y=1", "not a number"),
    ],
)
def test_malformed_points_are_point_errors(text, words):
    with pytest.raises(PointError, match=words):
        parse_point(text, XY)


def test_expected_list_is_abbreviated_for_many_variables():
    names = [f"x{i}" for i in range(1, 21)]
    with pytest.raises(PointError) as info:
        parse_point("1,2", names)
    message = str(info.value)
    assert "x1" in message and "x20" in message and "20 variables" in message
    assert "x10" not in message


def test_objective_point_uses_the_objective_order():
    obj = load_objective("a*b", variables="b,a")
    assert obj.point("a=1,b=2") == [2.0, 1.0]
    assert obj.point("1,2") == [1.0, 2.0]


# ---------------------------------------------------------------- boxes


def test_box_parses_lo_hi():
    assert parse_box("-5,5") == (-5.0, 5.0)
    assert parse_box([0, 1]) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [("5,-5", "LO < HI"), ("1,1", "LO < HI"), ("1", "LO,HI"), ("1,2,3", "LO,HI"), ("a,b", "not a number")],
)
def test_bad_boxes_are_point_errors(text, words):
    with pytest.raises(PointError, match=words):
        parse_box(text)


# ---------------------------------------------------------------- objectives


def test_named_function_objective_has_its_own_variables_and_start():
    obj = load_objective("rosenbrock", dim=4)
    assert obj.variables == ["x1", "x2", "x3", "x4"]
    assert obj.named is not None and len(obj.start()) == 4


def test_dim_is_refused_for_a_typed_expression():
    with pytest.raises(PointError, match="^dim: applies to named"):
        load_objective("x^2 + y^2", dim=3)


def test_vars_for_a_named_function_must_be_its_variables():
    assert load_objective("booth", variables="y,x").variables == ["y", "x"]
    with pytest.raises(PointError):
        load_objective("booth", variables="x,y,z")


def test_typed_expression_starts_at_zero():
    assert load_objective("x^2 + y").start() == [0.0, 0.0]
