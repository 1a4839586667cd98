"""SyntaxGym test suites (JSON), read as they come: one RegionSuite (lm/probes/regions.py) per file.

    {"meta": {"name": "number_prep", "metric": "sum"},
     "region_meta": {"1": "Subject", "2": "Prep", "3": "Verb"},
     "predictions": [{"type": "formula", "formula": "(3;%match%) < (3;%mismatch%)"}],
     "items": [{"item_number": 1, "conditions": [
         {"condition_name": "match", "regions": [{"region_number": 1, "content": "The author"}, ...]}, ...]}]}

Every formula is parsed (lm/probes/formula.py) and its conditions and regions checked against every item when
the file is read, so a typo is one line naming the prediction, not a KeyError halfway through scoring.
"""

from __future__ import annotations

import json
from pathlib import Path

from lm.errors import UserError
from lm.probes import formula
from lm.probes.regions import METRICS, Condition, Prediction, RegionItem, RegionSuite


def looks_like(path: Path) -> bool:
    """A .json file holding an object with "items" and "predictions" (directories hold other JSON too)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and "items" in data and "predictions" in data


def read(path: Path, limit: int | None = None) -> RegionSuite:
    data = _load(path)
    meta = data.get("meta") or {}
    metric = meta.get("metric", "sum") if isinstance(meta, dict) else "sum"
    if metric not in METRICS:
        raise UserError(f"{path}: meta.metric {metric!r} is not a SyntaxGym metric; use one of {', '.join(METRICS)}")
    names = _region_names(data.get("region_meta") or {}, path)
    items = [_item(obj, path, i) for i, obj in enumerate(data["items"][:limit] if limit else data["items"], 1)]
    if not items:
        raise UserError(f"{path}: empty suite, no items in it")
    if not isinstance(data["predictions"], list) or not data["predictions"]:
        raise UserError(f'{path}: "predictions" must list at least one {{"type": "formula", "formula": ...}}')
    predictions = [_prediction(p, path, i) for i, p in enumerate(data["predictions"])]
    for i, p in enumerate(predictions):
        _check_refs(p, i, items, names, path)
    name = meta.get("name") if isinstance(meta, dict) and isinstance(meta.get("name"), str) else path.stem
    return RegionSuite(name, items, predictions, metric, names, str(path), notes={"metric": metric})


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); a SyntaxGym suite is JSON") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list) or "predictions" not in data:
        found = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
        raise UserError(
            f'{path}: not a SyntaxGym suite, which needs "items" (a list) and "predictions" '
            f"(found: {found or 'nothing'})"
        )
    return data


def _region_names(region_meta, path: Path) -> dict[int, str]:
    try:
        return {int(k): str(v) for k, v in dict(region_meta).items()}
    except (TypeError, ValueError):
        raise UserError(f'{path}: region_meta must map region numbers to names, e.g. {{"1": "Subject"}}') from None


def _item(obj, path: Path, index: int) -> RegionItem:
    number = obj.get("item_number", index) if isinstance(obj, dict) else index
    where = f"{path}: item {number}"
    if not isinstance(obj, dict) or not isinstance(obj.get("conditions"), list) or not obj["conditions"]:
        raise UserError(f'{where}: an item needs "conditions", a non-empty list')
    conditions = tuple(_condition(c, where) for c in obj["conditions"])
    seen = [c.name for c in conditions]
    if len(set(seen)) < len(seen):
        raise UserError(f"{where}: condition names repeat ({', '.join(seen)})")
    return RegionItem(number, conditions, where)


def _condition(obj, where: str) -> Condition:
    name = obj.get("condition_name") if isinstance(obj, dict) else None
    if not isinstance(name, str) or not name or not isinstance(obj.get("regions"), list):
        raise UserError(f'{where}: a condition needs "condition_name" and "regions", a list')
    regions = []
    for r in obj["regions"]:
        number = r.get("region_number") if isinstance(r, dict) else None
        number = int(number) if isinstance(number, str) and number.strip().isdigit() else number  # "3" as 3
        content = r.get("content") if isinstance(r, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(content, str):
            raise UserError(
                f'{where}, condition {name!r}: each region needs an integer "region_number" and a '
                f'string "content" ("" for an empty region), got {r!r}'
            )
        regions.append((number, content))
    if len({n for n, _ in regions}) < len(regions):
        raise UserError(f"{where}, condition {name!r}: region numbers repeat")
    return Condition(name, tuple(regions))


def _prediction(obj, path: Path, index: int) -> Prediction:
    text = obj if isinstance(obj, str) else obj.get("formula") if isinstance(obj, dict) else None
    kind = obj.get("type", "formula") if isinstance(obj, dict) else "formula"
    if kind != "formula" or not isinstance(text, str):
        raise UserError(f'{path}: prediction {index} must be {{"type": "formula", "formula": "..."}}, got {obj!r}')
    try:
        return Prediction(text, formula.parse_formula(text))
    except ValueError as e:
        raise UserError(f"{path}: prediction {index} {text!r}: {e}") from None


def _check_refs(p: Prediction, index: int, items: list[RegionItem], names: dict[int, str], path: Path) -> None:
    """Every condition and region the formula reads exists in the suite and in every item."""
    every = set().union(*({c.name for c in it.conditions} for it in items))
    for ref in formula.refs(p.tree):
        where = f"{path}: prediction {index} {p.text!r}"
        if ref.condition not in every:
            raise UserError(
                f"{where}: unknown condition {ref.condition!r} (the items have: {', '.join(sorted(every))})"
            )
        if ref.region is not None and names and ref.region not in names:
            raise UserError(
                f"{where}: unknown region {ref.region} of {ref.condition!r} (region_meta numbers: "
                f"{', '.join(map(str, sorted(names)))})"
            )
        for it in items:
            cond = next((c for c in it.conditions if c.name == ref.condition), None)
            if cond is None:
                raise UserError(f"{where}: item {it.number} has no condition {ref.condition!r}")
            if ref.region is not None and ref.region not in {n for n, _ in cond.regions}:
                raise UserError(
                    f"{where}: unknown region {ref.region} of {ref.condition!r} in item {it.number} "
                    f"(its regions: {', '.join(str(n) for n, _ in cond.regions)})"
                )
