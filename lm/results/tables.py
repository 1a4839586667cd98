"""Text tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence

ALL = "all"  # the row of a whole suite, beside its rows by condition


def _number(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}" if abs(v) < 1e-3 and v != 0 else f"{v:.3f}"
    return str(v)


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Rows as an aligned text table; columns default to every key, in first-seen order."""
    if not rows:
        return "(no rows)"
    cols = list(columns or dict.fromkeys(k for r in rows for k in r))
    cells = [[_number(r.get(c, "")) for c in cols] for r in rows]
    width = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda xs: "  ".join(x.rjust(w) for x, w in zip(xs, width))  # noqa: E731
    return "\n".join([line(cols)] + [line(row) for row in cells])


def _accuracy(row: dict | None) -> str:
    if row is None or not row["n"]:
        return "-" if row is None else f"  n/a  n=0 oov={row['n_oov']}"
    oov = f" oov={row['n_oov']}" if row["n_oov"] else ""
    return f"{row['acc']:.3f} [{row['lo']:.3f},{row['hi']:.3f}] n={row['n']}{oov}"


def accuracy_table(rows: list[dict], cell=_accuracy) -> str:
    """Accuracy rows (ckpt, suite, field, value, acc, lo, hi, n, n_oov): suites and conditions down, checkpoints
    across, "acc [lo,hi] n=..." per cell (or what `cell` makes of a row of another measure)."""
    ckpts = list(dict.fromkeys(r["ckpt"] for r in rows))
    keys = list(dict.fromkeys((r["suite"], r["field"], r["value"]) for r in rows))
    by_key = {(r["ckpt"], r["suite"], r["field"], r["value"]): r for r in rows}
    conds = [ALL if f == ALL else f"{f}={v}" for _, f, v in keys]
    w_suite = max([5] + [len(s) for s, _, _ in keys])
    w_cond = max([9] + [len(c) for c in conds])
    body = [[cell(by_key.get((c, *k))) for c in ckpts] for k in keys]
    widths = [max([len(c)] + [len(b[i]) for b in body]) for i, c in enumerate(ckpts)]
    head = f"{'suite':<{w_suite}}  {'condition':<{w_cond}}  " + "  ".join(f"{c:<{w}}" for c, w in zip(ckpts, widths))
    lines = [head, "-" * len(head)]
    previous = None
    for (suite, _, _), cond, cells in zip(keys, conds, body):
        shown = suite if suite != previous else ""
        previous = suite
        lines.append(f"{shown:<{w_suite}}  {cond:<{w_cond}}  " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)))
    return "\n".join(lines)
