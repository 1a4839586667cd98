"""Result files: CSV tables and strict JSON (NaN and inf written as null)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path


def clean(x):
    """JSON-safe: NaN and inf become None, tuples and sets lists, numpy scalars Python numbers, paths strings."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set)):
        return [clean(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(obj, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(clean(obj), indent=1, default=str, allow_nan=False) + "\n", encoding="utf-8")
    return p


def write_csv(rows: Sequence[dict], path: str | Path, columns: Sequence[str] | None = None) -> Path:
    """columns: these, in this order, keys outside them left out (default: every key, in first-seen order)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    cols = list(columns or dict.fromkeys(k for r in rows for k in r))
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return p


def append_csv(rows: Sequence[dict], path: str | Path, columns: Sequence[str]) -> None:
    """Rows at the end of a CSV file (a curve growing during training), its header first when the file is new."""
    if not rows:
        return
    p = Path(path)
    new = not p.exists()
    with open(p, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerows(rows)


def read_csv(path: str | Path) -> list[dict]:
    """A CSV file's rows as dicts of strings; [] when there is no file."""
    p = Path(path)
    if not p.exists():
        return []
    with open(p, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
