"""SyntaxGym prediction formulas: parsed by hand into trees, evaluated on known region surprisals, malformed ones
named by column."""

import re

import pytest

from lm.probes.formula import Num, Op, Ref, evaluate, parse_formula, refs

SURPRISALS = {("match", 7): 1.0, ("mismatch", 7): 3.0, ("a", 1): 2.0, ("a", 2): 0.5, ("b", 1): 1.0, ("b", 2): 1.0}


def test_the_issues_formula_is_two_comparisons_joined_by_and():
    tree = parse_formula("[(7;%match_sing%) < (7;%mismatch_sing%)] & [(7;%match_plural%) < (7;%mismatch_plural%)]")
    assert tree == Op(
        "&",
        Op("<", Ref(7, "match_sing"), Ref(7, "mismatch_sing")),
        Op("<", Ref(7, "match_plural"), Ref(7, "mismatch_plural")),
    )
    assert [r.condition for r in refs(tree)] == ["match_sing", "mismatch_sing", "match_plural", "mismatch_plural"]


def test_arithmetic_binds_tighter_than_comparison_and_runs_left_to_right():
    tree = parse_formula("(1;%a%) - (1;%b%) - 0.5 > (2;%a%)+(2;%b%)")
    assert tree == Op(">", Op("-", Op("-", Ref(1, "a"), Ref(1, "b")), Num(0.5)), Op("+", Ref(2, "a"), Ref(2, "b")))
    assert parse_formula("( 3 ; %sub_no-matrix% ) > -1.5e0") == Op(">", Ref(3, "sub_no-matrix"), Num(-1.5))
    assert parse_formula("(*;%a%) > 0") == Op(">", Ref(None, "a"), Num(0.0))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("(7;%match%) < (7;%mismatch%)", True),
        ("(7;%match%) > (7;%mismatch%)", False),
        ("(7;%match%) = (7;%match%) + 0.0005", True),  # SyntaxGym's tolerance: atol 1e-3
        ("(7;%match%) = (7;%mismatch%)", False),
        ("[(7;%match%) > (7;%mismatch%)] | [(1;%a%) > (1;%b%)]", True),
        ("[(7;%match%) > (7;%mismatch%)] & [(1;%a%) > (1;%b%)]", False),
        ("((1;%a%) - (1;%b%)) > ((2;%a%) - (2;%b%))", True),  # 1 > -0.5
        ("(1;%a%) - (1;%b%) - 0.5 > (2;%a%) + (2;%b%)", False),  # 0.5 > 1.5
        ("(*;%a%) = 2.5", True),  # every region of a condition, summed
        ("(1;%a%) - (1;%b%) > -1", True),
    ],
)
def test_formulas_evaluate_on_known_surprisals(text, expected):
    assert evaluate(parse_formula(text), SURPRISALS) is expected


def test_a_region_without_a_surprisal_leaves_the_prediction_unscored():
    values = SURPRISALS | {("b", 1): float("nan")}
    assert evaluate(parse_formula("(7;%match%) < (7;%mismatch%)"), values) is True
    assert evaluate(parse_formula("(1;%a%) > (1;%b%)"), values) is None
    assert evaluate(parse_formula("(*;%b%) > 0"), values) is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("(1;%a%) <", "expected a region (N;%condition%), a number or a bracket at column 10, found the end"),
        ("(1;%a%) < (1;%b%) < (1;%c%)", "expected & or | between two comparisons (group them with [ ]) at column 19"),
        ("(1;%a%) + (1;%b%)", "a prediction must compare surprisals"),
        ("[(1;%a%) < (1;%b%))", "expected ']' at column 19"),
        ("(1;%a%) & (1;%b%)", "'&' at column 9 needs comparisons on both sides"),
        ("[(1;%a%) < (1;%b%)] < 2", "'<' at column 21 needs surprisals or numbers on both sides"),
        ("__import__('os').system('x') < 1", 'unexpected "__import__(\'" at column 1'),
        ("(1;a) < (1;%b%)", "unexpected ';a) < (1;%b%' at column 3"),
        ("  ", "the formula is empty"),
    ],
)
def test_malformed_formulas_say_where(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_formula(text)
