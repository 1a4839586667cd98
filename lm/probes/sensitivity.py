"""Sensitivity to the controller, apart from a preference for one form: the AUC of signal detection.

A suite's accuracy mixes two things. A model can prefer one form whatever the subject ("he" after every name), or
its choice can follow the subject. Accuracy cannot tell them apart: a model whose he-vs-she log-odds move 2 nats
with the subject's gender, but start 4 nats towards "he", is right on male subjects only, 0.5 overall.

A contrast names the field that decides the right form and its two classes, e.g. subject_number sg / pl. Each
item's margin m = log p(good) - max log p(bad) is turned towards the first class's form:
    s = m   for an item of class a        (good is a's form)
    s = -m  for an item of class b        (good is b's form, so a's form is the bad one)
and the sensitivity is AUC = P(s of an a-item > s of a b-item), ties counting half (Mann-Whitney).
    1.0   every a-item leans further towards a's form than every b-item: the choice follows the controller
    0.5   the controller does not move the choice (whatever its accuracy, which then shows a preference only)
    < 0.5 the choice moves the other way: with attractors, it follows the nearest noun
Bad sides must be the other class's form (one bad side: the agreement and singular-subject gender items).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lm.probes.report import field_value, sort_key
from lm.results.stats import Z95
from lm.results.tables import ALL, accuracy_table

COLUMNS = ("ckpt", "suite", "field", "value", "auc", "lo", "hi", "n_a", "n_b")


@dataclass(frozen=True)
class Contrast:
    field: str  # the item field that decides the right form
    classes: tuple[str, str]  # its two values, a then b
    where: dict = field(default_factory=dict)  # only items with these field values (e.g. singular subjects)
    shown: tuple[str, ...] = ()  # the fields the console table breaks the AUC down by

    def side(self, item: dict) -> int | None:
        """0 for class a, 1 for class b, None for an item outside the contrast or not scored."""
        if item.get("margin") is None or any(item.get(k) != v for k, v in self.where.items()):
            return None
        v = item.get(self.field)
        return self.classes.index(v) if v in self.classes else None


def auc(a: Sequence[float], b: Sequence[float]) -> float:
    """P(x > y) + P(x = y) / 2 for x from a, y from b (nan when either is empty), by ranks: O(n log n)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not len(a) or not len(b):
        return math.nan
    both = np.concatenate([a, b])
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts + 1  # a tie group takes the mean of its ranks
    ranks = (first + (counts - 1) / 2)[inverse]
    return float((ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2) / (len(a) * len(b)))


def auc_interval(value: float, n_a: int, n_b: int, z: float = Z95) -> tuple[float, float]:
    """Hanley & McNeil (1982) normal interval of an AUC, cut to [0, 1]; (nan, nan) without items. Its variance is
    0 at an AUC of exactly 0 or 1, so such an interval has no width: read it as "every pair", not as certainty."""
    if not n_a or not n_b or math.isnan(value):
        return math.nan, math.nan
    q1, q2 = value / (2 - value), 2 * value * value / (1 + value)
    var = (value * (1 - value) + (n_a - 1) * (q1 - value**2) + (n_b - 1) * (q2 - value**2)) / (n_a * n_b)
    half = z * math.sqrt(max(var, 0.0))
    return max(0.0, value - half), min(1.0, value + half)


def sensitivity_by(items: Sequence[dict], contrast: Contrast, fields: Sequence[str] = ()) -> list[dict]:
    """The AUC per combination of the values of `fields` (none: one row over the contrast's items)."""
    fields = tuple(fields)
    groups: dict[tuple, tuple[list, list]] = {}
    for item in items:
        side = contrast.side(item)
        if side is not None:
            s = item["margin"] if side == 0 else -item["margin"]
            groups.setdefault(tuple(field_value(item, f) for f in fields), ([], []))[side].append(s)
    rows = []
    for values in sorted(groups, key=lambda vs: tuple(sort_key(v) for v in vs)):
        a, b = groups[values]
        value = auc(a, b)
        lo, hi = auc_interval(value, len(a), len(b))
        rows.append(
            {
                "field": "+".join(fields) or ALL,
                "value": "+".join(map(str, values)) or ALL,
                "auc": value,
                "lo": lo,
                "hi": hi,
                "n_a": len(a),
                "n_b": len(b),
            }
        )
    return rows


def sensitivity_rows(items: Sequence[dict], contrast: Contrast | None, group_by: Sequence[str]) -> list[dict]:
    """The "all" row, then one block per group_by field other than the contrast's own ([] without a contrast)."""
    if contrast is None:
        return []
    rows = sensitivity_by(items, contrast)
    own = {contrast.field, *contrast.where}  # fields that split the classes, or hold one value only
    for spec in group_by:
        fields = tuple(f for f in spec.split("+") if f)
        if fields and not own & set(fields) and all(any(f in it for it in items) for f in fields):
            rows += sensitivity_by(items, contrast, fields)
    return [r for r in rows if r["n_a"] and r["n_b"]]


def _cell(row: dict | None) -> str:
    return "-" if row is None else f"{row['auc']:.3f} [{row['lo']:.3f},{row['hi']:.3f}] n={row['n_a']}+{row['n_b']}"


def is_shown(row: dict, shown: tuple[str, ...]) -> bool:
    """Whether a row is one a console table or the training callback keeps: overall, or by a `shown` field."""
    return row["field"] == ALL or row["field"] in shown


def table(rows: list[dict], shown: dict[str, tuple[str, ...]]) -> str:
    """The AUC rows of each suite overall and by its `shown` fields (suite -> fields), checkpoints across."""
    picked = [r for r in rows if is_shown(r, shown.get(r["suite"], ()))]
    title = (
        "sensitivity to the subject (AUC: 0.5 the subject does not move the choice, < 0.5 it moves it the wrong way)"
    )
    return title + "\n" + accuracy_table(picked, _cell)
