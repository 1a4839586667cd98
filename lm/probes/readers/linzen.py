"""Agreement sets in Linzen et al. (2016)'s layout, as Gulordava et al. (2018) distribute theirs: a .text file
(one tokenized sentence a line, ending in " <eos>") and its .gold (tab-separated, one line per sentence):

    subj_agr_filtered.text   the keys to the cabinet are on the table . <eos>
    subj_agr_filtered.gold   4<TAB>are<TAB>is<TAB>1          target index (0-based), correct, wrong, attractors

Each line is a prefix pair: the words before the target, then the correct form against the wrong one, grouped
by number of attractors. Columns after the fourth are ignored.
"""

from __future__ import annotations

from pathlib import Path

from lm.data.tokenizer import EOS
from lm.errors import UserError
from lm.probes.records import Pair, Suite

GOLD_COLUMNS = "target index (0-based), correct form, wrong form, number of attractors"


def files(path: Path) -> tuple[Path, Path]:
    """(.text, .gold) of a set named by either file or by their common stem."""
    stem = path.with_suffix("") if path.suffix in (".text", ".gold") else path
    text, gold = stem.with_name(stem.name + ".text"), stem.with_name(stem.name + ".gold")
    for p, other in ((text, gold), (gold, text)):
        if not p.is_file():
            raise UserError(
                f"{p} not found: a Linzen-style set is a .text file (one sentence a line) with a .gold "
                f"file beside it ({other.name} needs {p.name})"
            )
    return text, gold


def looks_like(path: Path) -> bool:
    """A .gold file with its .text beside it (a lone .text may be any text)."""
    return path.suffix == ".gold" and path.with_suffix(".text").is_file()


def parse_gold(sentence: str, gold: str, where: str, line: int) -> Pair:
    """The prefix pair of one .text line and its .gold line; UserError naming `where` when they disagree."""
    cols = gold.rstrip("\r\n").split("\t")
    if len(cols) < 4:
        raise UserError(f"{where}: a gold line needs 4 tab-separated columns ({GOLD_COLUMNS}), found {len(cols)}")
    try:
        index, attractors = int(cols[0]), int(cols[3])
    except ValueError:
        raise UserError(
            f"{where}: columns 1 and 4 must be whole numbers ({GOLD_COLUMNS}), got {cols[0]!r} and "
            f"{cols[3]!r}; Gulordava's generated.gold has another layout: read generated.tab"
        ) from None
    good, bad = cols[1].strip(), cols[2].strip()
    words = sentence.split()
    if words and words[-1] == EOS:
        words.pop()
    if not good or not bad:
        raise UserError(f"{where}: the correct and wrong forms (columns 2 and 3) must not be empty")
    if not 0 <= index < len(words):
        raise UserError(
            f"{where}: target index {index} is outside its sentence of {len(words)} words (0-based, {EOS} not counted)"
        )
    if words[index] not in (good, bad):
        raise UserError(
            f"{where}: word {index} of its sentence is {words[index]!r}, neither {good!r} nor {bad!r}: "
            "the index counts the sentence's words from 0"
        )
    return Pair(good, (bad,), " ".join(words[:index]), {"n_attractors": attractors, "line": line}, where)


def _lines(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def read(path: Path, limit: int | None = None) -> Suite:
    text, gold = files(path)
    sentences, golds = _lines(text), _lines(gold)
    if len(sentences) != len(golds):
        raise UserError(
            f"{gold}: {len(golds)} lines for the {len(sentences)} sentences of {text.name}: each "
            "sentence needs one gold line"
        )
    if not sentences:
        raise UserError(f"{text}: empty suite, no sentences in it")
    n = len(sentences) if limit is None else min(limit, len(sentences))
    pairs = [parse_gold(sentences[i], golds[i], f"{gold}:{i + 1}", i + 1) for i in range(n)]
    return Suite(text.stem, pairs, f"{text} + {gold.name}", group_by=("n_attractors",))
