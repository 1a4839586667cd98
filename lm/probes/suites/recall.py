"""Long-range recall: a fact, filler, and the word the fact determines ("I grew up in France ... I speak fluent
*French*").

    john grew up in france . the old dog near the cars sleeps . ... john speaks fluent [french | german ...]

The good side is the country's language; the bad sides are the languages of every other country (a language
two countries share is never a bad side), so chance is 1 / (number of languages). The filler is a run of
sentences without names, pronouns or countries, of a given length in words. Fields: filler (words),
distance (words from the country to the language: filler + 5 with "speaks fluent"), distance_bin, frame,
range (filler inside the built-in corpus's train / test filler range, or beyond).
The lines are the corpus's own recall lines (lm/data/constructions.py), cut before the language.
"""

from __future__ import annotations

from lm.data.grammar import GrammarConfig
from lm.data.lexicon import Lexicon
from lm.probes.suites.common import WordPair, constructions, cut, distance_bin, range_label

FILLERS = (0, 4, 8, 12, 16, 24, 32, 40, 48, 64)
GROUP_BY = ("filler", "range", "frame")


def generate(
    vocab: Lexicon,
    n_items: int,
    seed: int = 0,
    fillers: tuple[int, ...] = FILLERS,
    config: GrammarConfig | None = None,
) -> list[WordPair]:
    """n_items items, cycling through the filler lengths; same seed, same items."""
    if n_items < 0 or not fillers or any(f < 0 or 0 < f < 4 for f in fillers):
        raise ValueError(f"n_items >= 0 and fillers of 0 or >= 4 words needed, got {n_items}, {fillers}")
    languages = set(vocab.country_language.values())
    if len(languages) < 2 or not vocab.recall_frames or not vocab.fact_frames:
        raise ValueError(f"the {vocab.name} vocabulary lacks countries with two languages or the fact frames")
    config = config or GrammarConfig()
    c = constructions("recall", vocab, seed)
    items = []
    for i in range(n_items):
        line = c.line("recall", filler=fillers[i % len(fillers)])
        m = line.meta
        meta = {
            "filler": m["filler"],
            "distance": m["distance"],
            "frame": m["construction"].replace("_", " "),
            "distance_bin": distance_bin(m["distance"]),
            "range": range_label(m["filler"], config.filler_train, config.filler_test),
        }
        items.append(cut(line, tuple(sorted(languages - {m["language"]})), meta))
    return items
