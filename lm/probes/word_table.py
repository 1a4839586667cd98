"""`task=surprisal`: one row per word of a text file, per checkpoint, as TSV for reading-time analyses.

    ckpt     sentence  word_index  word   surprisal  tokens  oov
    ptb      1         1           the    5.912      1       false
    ptb      1         2           Dogs   NA         1       true      <- not in a word-level vocabulary

`sentence` is the line number in the file (blank lines are skipped, so numbers match the file), `word_index`
counts the sentence's whitespace words from 1, `surprisal` is in bits (lm/probes/surprisal.py), `tokens` is how
many tokens the word took and NA marks a surprisal not computed (R's read.delim and pandas read NA and
true/false as they are).
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

from lm.errors import UserError
from lm.probes.encoding import OOVWarning
from lm.probes.surprisal import SurprisalScorer

COLUMNS = ("ckpt", "sentence", "word_index", "word", "surprisal", "tokens", "oov")


def read_sentences(path: str | Path | None) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line."""
    if not path:
        raise UserError("task=surprisal needs file=PATH: a text file, one sentence a line")
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"no text file at {p}: give file=PATH, one sentence a line")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    out = [(i, line.strip()) for i, line in enumerate(lines, 1) if line.strip()]
    if not out:
        raise UserError(f"{p}: no sentences in it (every line is blank)")
    return out


def word_rows(label: str, scorer: SurprisalScorer, sentences: list[tuple[int, str]]) -> list[dict]:
    """One row per word; out-of-vocabulary words are flagged in the rows (and counted by the caller)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OOVWarning)
        scored = scorer.word_surprisal([text for _, text in sentences])
    return [
        {
            "ckpt": label,
            "sentence": line,
            "word_index": k,
            "word": w.word,
            "surprisal": w.surprisal,
            "tokens": w.n_tokens,
            "oov": w.oov,
        }
        for (line, _), words in zip(sentences, scored)
        for k, w in enumerate(words, 1)
    ]


def _cell(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "NA" if math.isnan(value) else f"{value:.6f}"
    return str(value)


def write_tsv(rows: list[dict], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows([_cell(r[c]) for c in COLUMNS] for r in rows)
    return p


def oov_note(rows: list[dict]) -> str | None:
    words = list(dict.fromkeys(r["word"] for r in rows if r["oov"]))
    if not words:
        return None
    shown = ", ".join(words[:15]) + (" ..." if len(words) > 15 else "")
    return f"{sum(r['oov'] for r in rows)} word(s) not in a model's vocabulary have surprisal NA and oov=true ({shown})"
