"""SyntaxGym prediction formulas: parsed by hand (never `eval`) and evaluated on region surprisals.

    [(7;%match_sing%) < (7;%mismatch_sing%)] & [(7;%match_plural%) < (7;%mismatch_plural%)]
    ((5;%sub_no-matrix%) - (5;%no-sub_no-matrix%)) > ((5;%sub_matrix%) - (5;%no-sub_matrix%))

`(N;%cond%)` is the surprisal of region N of condition `cond` (`(*;%cond%)`: all its regions summed); numbers
are literals. From loosest to tightest, as in syntaxgym-core's prediction.py:

    & |        both, either (one level, left to right)
    < > =      compare two sums; `=` is np.isclose(rtol=1e-5, atol=1e-3), SyntaxGym's tolerance
    + -        add, subtract (left to right)
    ( ) [ ]    group

A formula must end in a comparison (a prediction is true or false). A referenced region whose surprisal is NaN
(an out-of-vocabulary word in it) makes the prediction None: not scored.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass

EQUALITY_RTOL, EQUALITY_ATOL = 1e-5, 1e-3
TOKEN = re.compile(
    r"""\s*(?:
    (?P<ref>\(\s*(?P<region>\d+|\*)\s*;\s*%(?P<cond>[^%]+)%\s*\))
  | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<op>[&|<>=+-])
  | (?P<open>[(\[])
  | (?P<close>[)\]])
)""",
    re.VERBOSE,
)
LEVELS = (("&", "|"), ("<", ">", "="), ("+", "-"))  # loosest first
CLOSING = {"(": ")", "[": "]"}


@dataclass(frozen=True)
class Ref:
    region: int | None  # None: every region of the condition
    condition: str


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Op:
    op: str
    left: object
    right: object


def tokenize(text: str) -> list[tuple[str, object, int]]:
    """(kind, value, column) per token; ValueError at the first character that starts none."""
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"unexpected {text[pos:].strip()[:12]!r} at column {pos + 1}")
        col = m.start(m.lastgroup) + 1
        if m.group("ref"):
            region = m.group("region")
            out.append(("ref", Ref(None if region == "*" else int(region), m.group("cond").strip()), col))
        elif m.group("num"):
            out.append(("num", Num(float(m.group("num"))), col))
        else:
            out.append((m.lastgroup, m.group(m.lastgroup), col))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over LEVELS; comparisons do not chain (a < b < c is an error, as it is ambiguous)."""

    def __init__(self, text: str):
        self.text, self.tokens, self.i = text, tokenize(text), 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", None, len(self.text) + 1)

    def fail(self, what: str):
        kind, _, col = self.peek()
        found = "the end" if kind == "end" else repr(self.text[col - 1 : col + 11])
        raise ValueError(f"expected {what} at column {col}, found {found}")

    def parse(self):
        node = self.level(0)
        if self.peek()[0] != "end":
            self.fail("an operator or the end")
        if not is_bool(node):
            raise ValueError("a prediction must compare surprisals, e.g. (2;%good%) < (2;%bad%)")
        return node

    def level(self, depth: int):
        if depth == len(LEVELS):
            return self.atom()
        left = self.level(depth + 1)
        while self.peek()[0] == "op" and self.peek()[1] in LEVELS[depth]:
            _, op, col = self.peek()
            self.i += 1
            right = self.level(depth + 1)
            left = _typed(Op(op, left, right), col)
            if depth == 1 and self.peek()[0] == "op" and self.peek()[1] in LEVELS[1]:
                self.fail("& or | between two comparisons (group them with [ ])")
        return left

    def atom(self):
        kind, value, _ = self.peek()
        if kind in ("ref", "num"):
            self.i += 1
            return value
        if (
            kind == "op"
            and value == "-"
            and self.tokens[self.i + 1 : self.i + 2]
            and self.tokens[self.i + 1][0] == "num"
        ):
            self.i += 2
            return Num(-self.tokens[self.i - 1][1].value)
        if kind == "open":
            self.i += 1
            node = self.level(0)
            if self.peek()[0] != "close" or self.peek()[1] != CLOSING[value]:
                self.fail(f"{CLOSING[value]!r}")
            self.i += 1
            return node
        self.fail("a region (N;%condition%), a number or a bracket")


def is_bool(node) -> bool:
    return isinstance(node, Op) and node.op in "&|<>="


def _typed(node: Op, col: int) -> Op:
    """& | join true/false values; < > = + - work on numbers."""
    want_bool = node.op in "&|"
    for side in (node.left, node.right):
        if is_bool(side) != want_bool:
            need = "comparisons" if want_bool else "surprisals or numbers"
            raise ValueError(f"{node.op!r} at column {col} needs {need} on both sides")
    return node


def parse_formula(text: str):
    """The formula as a tree of Ref, Num and Op; ValueError saying where it is malformed."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the formula is empty")
    return _Parser(text).parse()


def refs(node) -> list[Ref]:
    """Every region reference in the formula, left to right."""
    if isinstance(node, Ref):
        return [node]
    if isinstance(node, Op):
        return refs(node.left) + refs(node.right)
    return []


def evaluate(node, values: Mapping[tuple[str, int], float]) -> bool | None:
    """The prediction on one item: values[(condition, region_number)] are its region surprisals.
    None when a region it reads is NaN."""
    if any(_value(r, values) != _value(r, values) for r in refs(node)):  # NaN != NaN
        return None
    return bool(_eval(node, values))


def _value(ref: Ref, values: Mapping[tuple[str, int], float]) -> float:
    if ref.region is None:
        return math.fsum(v for (c, _), v in values.items() if c == ref.condition)
    return values[ref.condition, ref.region]


def is_close(a: float, b: float) -> bool:
    """np.isclose(a, b, rtol, atol), SyntaxGym's `=`: |a - b| <= atol + rtol * |b|."""
    return abs(a - b) <= EQUALITY_ATOL + EQUALITY_RTOL * abs(b)


OPS = {
    "&": operator.and_,
    "|": operator.or_,
    "<": operator.lt,
    ">": operator.gt,
    "=": is_close,
    "+": operator.add,
    "-": operator.sub,
}


def _eval(node, values):
    if isinstance(node, Ref):
        return _value(node, values)
    if isinstance(node, Num):
        return node.value
    return OPS[node.op](_eval(node.left, values), _eval(node.right, values))
