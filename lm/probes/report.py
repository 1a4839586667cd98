"""Accuracy by condition, with 95% Wilson intervals, as rows, tables, CSV and JSON.

A scored item is a dict: its record's metadata plus "correct" (True / False, or None when a critical word was
out of vocabulary and the item was not scored). `accuracy_by(items, fields)` groups them by the values of
`fields`; a result row is

    {"field": "construction", "value": "pp", "n": 180, "correct": 171, "acc": 0.95, "lo": 0.907, "hi": 0.974,
     "n_oov": 0}

and the evaluation adds "ckpt" and "suite" to it.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

Z95 = 1.959963984540054
ALL = "all"
CSV_COLUMNS = ("ckpt", "suite", "field", "value", "acc", "lo", "hi", "n", "correct", "n_oov")


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (sound near 0 and 1, unlike p +- z*se)."""
    if n < 0 or not 0 <= correct <= n:
        raise ValueError(f"correct must be in [0, n] with n >= 0, got correct={correct}, n={n}")
    if n == 0:
        return math.nan, math.nan
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _key(value):
    """Sort numbers as numbers, before strings; None last."""
    if isinstance(value, bool) or value is None:
        return (2, str(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value))


def _value(item: dict, field: str):
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
        g = groups.setdefault(tuple(_value(item, f) for f in fields), [0, 0, 0])  # n, correct, oov
        if item["correct"] is None:
            g[2] += 1
        else:
            g[0] += 1
            g[1] += bool(item["correct"])
    rows = []
    for values in sorted(groups, key=lambda vs: tuple(_key(v) for v in vs)):
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


def _cell(row: dict | None) -> str:
    if row is None or not row["n"]:
        return "-" if row is None else f"  n/a  n=0 oov={row['n_oov']}"
    oov = f" oov={row['n_oov']}" if row["n_oov"] else ""
    return f"{row['acc']:.3f} [{row['lo']:.3f},{row['hi']:.3f}] n={row['n']}{oov}"


def format_table(rows: list[dict]) -> str:
    """Suites and conditions down, checkpoints across: "acc [lo,hi] n=..." per cell."""
    ckpts = list(dict.fromkeys(r["ckpt"] for r in rows))
    keys = list(dict.fromkeys((r["suite"], r["field"], r["value"]) for r in rows))
    cell = {(r["ckpt"], r["suite"], r["field"], r["value"]): r for r in rows}
    conds = [ALL if f == ALL else f"{f}={v}" for _, f, v in keys]
    w_suite = max([5] + [len(s) for s, _, _ in keys])
    w_cond = max([9] + [len(c) for c in conds])
    body = [[_cell(cell.get((c, *k))) for c in ckpts] for k in keys]
    widths = [max([len(c)] + [len(b[i]) for b in body]) for i, c in enumerate(ckpts)]
    head = f"{'suite':<{w_suite}}  {'condition':<{w_cond}}  " + "  ".join(f"{c:<{w}}" for c, w in zip(ckpts, widths))
    lines = [head, "-" * len(head)]
    previous = None
    for (suite, _, _), cond, cells in zip(keys, conds, body):
        shown = suite if suite != previous else ""
        previous = suite
        lines.append(f"{shown:<{w_suite}}  {cond:<{w_cond}}  " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)))
    return "\n".join(lines)


def write_csv(rows: list[dict], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return p


def write_json(obj, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=1, default=_jsonable, allow_nan=False) + "\n", encoding="utf-8")
    return p


def _jsonable(obj):
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def clean_nans(obj):
    """NaN -> None, recursively, so the JSON is strict."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: clean_nans(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_nans(v) for v in obj]
    return obj
