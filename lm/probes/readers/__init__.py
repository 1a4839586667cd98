"""Suite files in the field's formats, read as they come; the reader is chosen by the file's shape, or named by a
prefix (`syntaxgym:path`):

    jsonl:      pairs.jsonl, blimp/data/      minimal pairs, ours and BLiMP's (lm/probes/records.py)
    syntaxgym:  number_prep.json              SyntaxGym test suites: regions and prediction formulas
    linzen:     subj_agr_filtered.text/.gold  Linzen et al. (2016) agreement sets (also as a stem, without suffix)
    gulordava:  English/generated.tab         Gulordava et al. (2018) colorless green sets

A file's shape is its suffix (.jsonl .json .text .gold .tab) and, for other names, its first line. A directory
gives one suite per file of a known shape in it, sorted by name (a prefix: every file of that reader's suffixes).
"""

from __future__ import annotations

from pathlib import Path

from lm.errors import UserError
from lm.probes.readers import gulordava, linzen, syntaxgym
from lm.probes.records import read_jsonl

READERS = {"jsonl": read_jsonl, "syntaxgym": syntaxgym.read, "linzen": linzen.read, "gulordava": gulordava.read}
SUFFIXES = {".jsonl": "jsonl", ".json": "syntaxgym", ".text": "linzen", ".gold": "linzen", ".tab": "gulordava"}
IN_DIRECTORY = {
    "jsonl": lambda p: True,
    "syntaxgym": syntaxgym.looks_like,
    "linzen": linzen.looks_like,
    "gulordava": gulordava.looks_like,
}


def split_prefix(spec: str) -> tuple[str | None, str]:
    """("syntaxgym", "path") from "syntaxgym:path"; (None, spec) without a known prefix."""
    name, sep, rest = spec.partition(":")
    return (name, rest) if sep and name in READERS else (None, spec)


def sniff(path: Path) -> str:
    """The reader for a file whose suffix says nothing: a JSON object with items -> syntaxgym, a tab-separated
    header with Gulordava's columns -> gulordava, anything else -> jsonl (whose errors then say what is wrong)."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError):
        return "jsonl"
    if first.lstrip().startswith("{") and syntaxgym.looks_like(path):
        return "syntaxgym"
    return "gulordava" if "\t" in first and gulordava.looks_like(path) else "jsonl"


def detect(path: Path) -> str:
    return SUFFIXES.get(path.suffix) or sniff(path)


def exists(reader: str | None, path: Path) -> bool:
    """Whether `path` names something to read (a Linzen set may be named by its stem)."""
    if path.exists():
        return True
    return reader in (None, "linzen") and path.with_name(path.name + ".gold").is_file()


def entry_reader(f: Path, reader: str | None) -> str | None:
    """The reader for a file in a directory, None to pass it by: a named reader takes every file of its suffixes,
    otherwise a file must look like its format (other JSON or TSV files are common beside suites). A .text is read
    through its .gold."""
    kind = SUFFIXES.get(f.suffix)
    if kind is None or f.suffix == ".text" or (reader is not None and kind != reader):
        return None
    return kind if reader is not None or IN_DIRECTORY[kind](f) else None


def read_directory(path: Path, reader: str | None, limit: int | None) -> list:
    found = []
    for f in sorted(p for p in path.iterdir() if p.is_file()):
        kind = entry_reader(f, reader)
        if kind:
            found.append(READERS[kind](f, limit=limit))
    if not found:
        what = f"{reader} files" if reader else "suite files (*.jsonl, SyntaxGym *.json, *.text + *.gold, *.tab)"
        raise UserError(f"{path}: empty suite directory, no {what} in it")
    return found


def read_suites(spec: str, limit: int | None = None) -> list | None:
    """The suites `spec` names (lm.probes.records.Suite or lm.probes.regions.RegionSuite); None when there is
    no file or directory there."""
    reader, rest = split_prefix(spec)
    path = Path(rest).expanduser()
    if not exists(reader, path):
        return None
    if not path.exists():  # a Linzen set named by its stem
        reader = "linzen"
    if path.is_dir():
        return read_directory(path, reader, limit)
    return [READERS[reader or detect(path)](path, limit=limit)]
