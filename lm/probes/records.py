"""Minimal-pair records: one JSON object per line, in either of two shapes.

    {"sentence_good": "the dogs run .", "sentence_bad": "the dogs runs .", ...}   whole sentences compared
    {"prefix": "the dogs near the car", "good": "run", "bad": "runs", ...}        continuations of one prefix

BLiMP's own files (`data/*.jsonl`) are of the first shape and load as they are. `bad` (or `sentence_bad`) may
also be a list: the item is right only when `good` beats every one of them (the recall suite scores a language
against the languages of all other countries). Every other field is metadata that results can be grouped by.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lm.errors import UserError
from lm.probes.sensitivity import Contrast

SENTENCE_FIELDS = ("sentence_good", "sentence_bad")
PREFIX_FIELDS = ("prefix", "good", "bad")
SHAPES = '{"sentence_good", "sentence_bad"} or {"prefix", "good", "bad"}'


@dataclass(frozen=True)
class Pair:
    """good vs bad (one or more), whole sentences when prefix is None, else continuations of prefix."""

    good: str
    bad: tuple[str, ...]
    prefix: str | None = None
    meta: dict = field(default_factory=dict)
    where: str = ""  # "file:line" the record came from, for messages

    @property
    def kind(self) -> str:
        return "sentence" if self.prefix is None else "prefix"

    def record(self) -> dict:
        """The JSON object this pair reads back from (a single bad stays a string)."""
        bad = self.bad[0] if len(self.bad) == 1 else list(self.bad)
        if self.prefix is None:
            core = {"sentence_good": self.good, "sentence_bad": bad}
        else:
            core = {"prefix": self.prefix, "good": self.good, "bad": bad}
        return core | self.meta


@dataclass
class Suite:
    name: str
    pairs: list[Pair]
    source: str = ""  # a file, a directory entry, "builtin" or "hub:..."
    group_by: tuple[str, ...] | None = None  # the fields its table shows by default; None: guessed
    notes: dict = field(default_factory=dict)  # e.g. vocabulary and coverage of a built-in suite
    contrast: Contrast | None = None  # the field that decides the right form, for the sensitivity (AUC)


def _text(value, name: str, where: str) -> str:
    if not isinstance(value, str):
        raise UserError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    return value


def _alternatives(value, name: str, where: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    out = tuple(_text(v, name, where).strip() for v in values)
    if not out or not all(out):
        raise UserError(f"{where}: field {name!r} is empty")
    return out


def parse_record(obj, where: str) -> Pair:
    """A Pair from one decoded JSON value; UserError naming `where` ("file:line") when it is not a record."""
    if not isinstance(obj, dict):
        raise UserError(f"{where}: a record must be a JSON object with {SHAPES}, got {type(obj).__name__}")
    if all(k in obj for k in SENTENCE_FIELDS):
        good = _text(obj["sentence_good"], "sentence_good", where).strip()
        if not good:
            raise UserError(f"{where}: field 'sentence_good' is empty")
        bad = _alternatives(obj["sentence_bad"], "sentence_bad", where)
        meta = {k: v for k, v in obj.items() if k not in SENTENCE_FIELDS}
        return Pair(good, bad, None, meta, where)
    if all(k in obj for k in PREFIX_FIELDS):
        prefix = _text(obj["prefix"], "prefix", where).strip()
        good = _alternatives(obj["good"], "good", where)
        if len(good) != 1:
            raise UserError(f"{where}: field 'good' must be one string")
        bad = _alternatives(obj["bad"], "bad", where)
        meta = {k: v for k, v in obj.items() if k not in PREFIX_FIELDS}
        return Pair(good[0], bad, prefix, meta, where)
    keys = ", ".join(sorted(obj)) or "none"
    raise UserError(f"{where}: a record needs the fields {SHAPES} (found: {keys})")


def parse_lines(lines: Iterable[str], source: str, limit: int | None = None) -> list[Pair]:
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        pairs.append(parse_record(obj, where))
        if limit is not None and len(pairs) >= limit:
            break
    return pairs


def read_jsonl(path: str | Path, name: str | None = None, limit: int | None = None) -> Suite:
    """One suite from a JSONL file (named after the file unless `name`); UserError if it holds no pairs."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(
            f"no minimal-pair file at {p}: give a .jsonl file, a directory of them, or a built-in suite name"
        )
    try:
        with open(p, encoding="utf-8") as f:
            pairs = parse_lines(f, str(p), limit)
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start}); a suite is a JSONL file") from None
    if not pairs:
        raise UserError(f"{p}: empty suite, no records in it; each line needs {SHAPES}")
    return Suite(name or p.stem, pairs, str(p))


def read_dir(path: str | Path, limit: int | None = None) -> list[Suite]:
    """One suite per *.jsonl file of a directory (BLiMP's data/ folder: 67 suites), sorted by name."""
    p = Path(path).expanduser()
    files = sorted(p.glob("*.jsonl"))
    if not files:
        raise UserError(f"{p}: empty suite directory, no *.jsonl files in it")
    return [read_jsonl(f, limit=limit) for f in files]
