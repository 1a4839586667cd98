"""Gulordava et al. (2018)'s colorless green agreement set, `generated.tab`, read as it comes: tab-separated with
a header, two rows per item (the correct form, then the wrong one), CSV-style quotes around fields that hold `"`:

    pattern  constr_id  sent_id  correct_number  form  class    type       prefix           n_attr ... sent
    L__NOUN_VERB_VERB  12  2  plur  use   correct  generated  Administrative ...  1  ...
    L__NOUN_VERB_VERB  12  2  plur  uses  wrong    generated  Administrative ...  1  ...

Each item is a prefix pair: `form` of the correct row against the wrong row's, after `prefix`; results group by
number of attractors, pattern and type (original sentences against their nonce, "generated", variants). The
file writes words its authors' model lacked as <unk> in `prefix`: they are put back from `sent`.
"""

from __future__ import annotations

import csv
from pathlib import Path

from lm.data.tokenizer import UNK
from lm.errors import UserError
from lm.probes.records import Pair, Suite

NEEDED = ("pattern", "constr_id", "sent_id", "form", "class", "type", "prefix", "n_attr")
KEY = ("pattern", "constr_id", "sent_id")
META = ("correct_number", "punct", "len_context", "len_prefix")


def looks_like(path: Path) -> bool:
    """A .tab file whose header has the columns an item needs."""
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline().rstrip("\r\n").split("\t")
    except (OSError, UnicodeDecodeError):
        return False
    return all(c in header for c in NEEDED)


def restore_unk(prefix: str, sent: str) -> str:
    """`prefix` with each <unk> replaced by the word at its place in `sent`, when the other words agree."""
    words, full = prefix.split(), sent.split()
    if UNK not in words or len(full) < len(words) or any(w not in (UNK, s) for w, s in zip(words, full)):
        return prefix
    return " ".join(full[: len(words)])


def _value(text: str):
    """Whole numbers and True / False as such, anything else as written."""
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        return text


def _item(rows: list[tuple[int, dict]], path: Path) -> Pair:
    where = f"{path}:{rows[0][0]}"
    classes = [r["class"] for _, r in rows]
    if classes.count("correct") != 1 or "wrong" not in classes or set(classes) - {"correct", "wrong"}:
        raise UserError(
            f"{where}: item {'/'.join(rows[0][1][k] for k in KEY)} has rows of class "
            f"{', '.join(classes)}; it needs one 'correct' row and at least one 'wrong' row"
        )
    good = next(r for _, r in rows if r["class"] == "correct")
    if any(r["prefix"] != good["prefix"] for _, r in rows):
        raise UserError(f"{where}: the rows of item {'/'.join(good[k] for k in KEY)} have different prefixes")
    try:
        attractors = int(good["n_attr"])
    except ValueError:
        raise UserError(f"{where}: n_attr must be a whole number, got {good['n_attr']!r}") from None
    meta = {
        "pattern": good["pattern"],
        "constr_id": _value(good["constr_id"]),
        "sent_id": _value(good["sent_id"]),
        "type": good["type"],
        "n_attractors": attractors,
    } | {k: _value(good[k]) for k in META if k in good}
    prefix = restore_unk(good["prefix"], good.get("sent") or "")
    return Pair(good["form"], tuple(r["form"] for _, r in rows if r["class"] == "wrong"), prefix, meta, where)


def read(path: Path, limit: int | None = None) -> Suite:
    items: dict[tuple, list[tuple[int, dict]]] = {}
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            missing = [c for c in NEEDED if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(
                    f"{path}: the header lacks column(s) {', '.join(missing)}; generated.tab starts with "
                    "pattern constr_id sent_id correct_number form class type prefix n_attr ... sent"
                )
            for row in reader:
                if any(row.get(c) is None for c in NEEDED):
                    raise UserError(f"{path}:{reader.line_num}: the row has fewer columns than the header")
                key = tuple(row[k] for k in KEY)
                if key not in items and limit is not None and len(items) >= limit:
                    break
                items.setdefault(key, []).append((reader.line_num, row))
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not items:
        raise UserError(f"{path}: empty suite, no rows after the header")
    # every language's file is generated.tab: English/generated.tab -> generated_English
    name = f"{path.stem}_{path.parent.name}" if path.stem == "generated" and path.parent.name else path.stem
    return Suite(
        name, [_item(rows, path) for rows in items.values()], str(path), group_by=("n_attractors", "pattern", "type")
    )
