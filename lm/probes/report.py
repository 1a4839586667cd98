"""Accuracy by condition, with 95% Wilson intervals, as rows (tables and files: lm/results).

A scored item is a dict: its record's metadata plus "correct" (True / False, or None when a critical word was
out of vocabulary and the item was not scored). `accuracy_by(items, fields)` groups them by the values of
`fields`; a result row is

    {"field": "construction", "value": "pp", "n": 180, "correct": 171, "acc": 0.95, "lo": 0.907, "hi": 0.974,
     "n_oov": 0}

and the evaluation adds "ckpt" and "suite" to it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence

from lm.results.stats import wilson_interval
from lm.results.tables import ALL

CSV_COLUMNS = ("ckpt", "suite", "field", "value", "acc", "lo", "hi", "n", "correct", "n_oov")


def sort_key(value):
    """Sort numbers as numbers, before strings; None last."""
    if isinstance(value, bool) or value is None:
        return (2, str(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value))


def field_value(item: dict, field: str):
    v = item.get(field)
    return json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v


def accuracy_by(items: Iterable[dict], fields: Sequence[str] | str = ()) -> list[dict]:
    """Accuracy per combination of the values of `fields` (none: one row over all items)."""
    if isinstance(fields, str):
        fields = (fields,)
    fields = tuple(fields)
    groups: dict[tuple, list[int]] = {}
    for item in items:
        if "correct" not in item:
            raise ValueError("items must carry 'correct' (True, False or None for out-of-vocabulary)")
        g = groups.setdefault(tuple(field_value(item, f) for f in fields), [0, 0, 0])  # n, correct, oov
        if item["correct"] is None:
            g[2] += 1
        else:
            g[0] += 1
            g[1] += bool(item["correct"])
    rows = []
    for values in sorted(groups, key=lambda vs: tuple(sort_key(v) for v in vs)):
        n, k, oov = groups[values]
        lo, hi = wilson_interval(k, n)
        rows.append(
            {
                "field": "+".join(fields) or ALL,
                "value": "+".join(map(str, values)) or ALL,
                "n": n,
                "correct": k,
                "acc": k / n if n else math.nan,
                "lo": lo,
                "hi": hi,
                "n_oov": oov,
            }
        )
    return rows


def suite_summary(suite, correct: Sequence[bool | None], oov_words: Counter, seconds: float, precision: str) -> dict:
    """One suite under one checkpoint: items ("pairs"), how many were scored and right, accuracy with its
    interval, the commonest out-of-vocabulary words, speed, precision, and the suite's notes."""
    scored = sum(c is not None for c in correct)
    right = sum(bool(c) for c in correct)
    lo, hi = wilson_interval(right, scored)
    return {
        "suite": suite.name,
        "source": suite.source,
        "pairs": len(correct),
        "scored": scored,
        "n_oov": len(correct) - scored,
        "oov_words": [w for w, _ in oov_words.most_common(10)],
        "acc": right / scored if scored else math.nan,
        "lo": lo,
        "hi": hi,
        "seconds": seconds,
        "pairs_per_s": len(correct) / max(seconds, 1e-9),
        "precision": precision,
    } | suite.notes


def guess_fields(items: list[dict], max_values: int = 12) -> tuple[str, ...]:
    """Metadata fields worth a table: 2..max_values distinct scalar values, fewer values than items."""
    fields: dict[str, set] = {}
    for item in items:
        for k, v in item.items():
            if k != "correct" and (v is None or isinstance(v, (str, int, float, bool))):
                fields.setdefault(k, set()).add(v)
    n = len(items)
    return tuple(k for k, vs in fields.items() if 2 <= len(vs) <= max_values and len(vs) < n)


def suite_rows(items: list[dict], group_by: Sequence[str]) -> list[dict]:
    """The "all" row, then one block per entry of group_by ("a+b" crosses two fields)."""
    rows = accuracy_by(items)
    for spec in group_by:
        fields = tuple(f for f in spec.split("+") if f)
        if fields and all(any(f in it for it in items) for f in fields):
            rows += accuracy_by(items, fields)
    return rows
