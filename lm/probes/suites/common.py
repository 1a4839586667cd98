"""What the built-in suites share: the corpus's constructions with a suite's seed, items, distance labels and
rendering.

A suite draws lines with the built-in corpus's own constructions (lm/data/constructions.py), forcing the choices
it balances, and cuts each at its target: a `WordPair` holds the words before the critical word, its good and bad
forms and the item's conditions. `render` writes one as a prefix-format Pair in a TextStyle:
    words  mary sees john . john thinks that           good "he", bad ("she",)
    pair   {"prefix": "mary sees john . john thinks that", "good": "he", "bad": "she", "distance": 4, ...}
Distances are counted in words ("." included) from the controller (subject, antecedent, country) to the
critical word, as in the built-in corpus (lm/data/grammar.py).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from lm.data.constructions import Constructions
from lm.data.grammar import GrammarConfig, Line
from lm.data.lexicon import Lexicon
from lm.probes.records import Pair
from lm.probes.vocab import TextStyle

DISTANCE_BINS = ((1, 3), (4, 6), (7, 9), (10, 12), (13, 16), (17, 20), (21, 24), (25, 32), (33, 48), (49, 10**6))


def group_by(*fields: str) -> tuple[str, ...]:
    """The conditions a suite's report breaks accuracy down by: its own fields between the shared ones."""
    return ("construction", *fields, "distance_bin", "range", "construction+range")


@dataclass
class WordPair:
    words: list[str]  # the prefix: every word before the critical one
    good: str
    bad: tuple[str, ...]
    meta: dict = field(default_factory=dict)


def suite_rng(suite: str, vocab: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"lm.probes/{suite}/{vocab}/{int(seed)}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def constructions(suite: str, lex: Lexicon, seed: int, max_phrases: int = 4, max_distance: int = 24) -> Constructions:
    """The corpus's constructions with the corpus's default probabilities (so that a suite's items do not depend
    on the model's training config), up to max_phrases phrases and max_distance words, drawn from the suite's
    own random stream."""
    cfg = GrammarConfig(phrases_test=(0, max_phrases), distance_test=(1, max_distance))
    return Constructions(lex, cfg, "test", suite_rng(suite, lex.name, seed))


def draw(c: Constructions, kind: str, max_distance: int, **forced) -> Line:
    line = c.line(kind, **forced)
    if line is None:
        what = forced.get("construction", kind)
        raise ValueError(f"max_distance={max_distance} is too short for {what} items")
    return line


def item_meta(line: Line, extra: tuple[str, ...], **fields) -> dict:
    """An item's conditions: the line's construction and `extra` fields, then `fields`, its phrases and distance."""
    m = line.meta
    own = {k: m[k] for k in extra}
    return {"construction": m["construction"], **own, **fields, "n_phrases": m["n_phrases"], "distance": m["distance"]}


def cut(line: Line, bad: tuple[str, ...], meta: dict) -> WordPair:
    """The line up to its target word."""
    words, t = line.text.split(), line.meta["target"]
    return WordPair(words[:t], words[t], bad, meta)


def distance_bin(distance: int) -> str:
    for lo, hi in DISTANCE_BINS:
        if lo <= distance <= hi:
            return f"{lo:02d}-{hi:02d}" if hi < 10**6 else f"{lo:02d}+"
    return "00"


def range_label(value: int, train: tuple[int, int], test: tuple[int, int]) -> str:
    """ "train" inside the training split's range, "test" inside the test split's, else "beyond"."""
    if train[0] <= value <= train[1]:
        return "train"
    return "test" if test[0] <= value <= test[1] else "beyond"


def worst(*labels: str) -> str:
    order = ("train", "test", "beyond")
    return max(labels, key=order.index)


def line_range(n_phrases: int, distance: int, config: GrammarConfig) -> str:
    """Where an agreement or gender item sits against the corpus's phrase and distance ranges."""
    return worst(
        range_label(n_phrases, config.phrases_train, config.phrases_test),
        range_label(distance, config.distance_train, config.distance_test),
    )


def generate(
    suite: str,
    item,
    vocab: Lexicon,
    n_items: int,
    seed: int = 0,
    max_phrases: int = 4,
    max_distance: int = 24,
    config: GrammarConfig | None = None,
) -> list[WordPair]:
    """n_items items of an agreement-like suite: `item(i, c, max_distance)` makes the i-th from the suite's
    constructions `c`; each is tagged with its distance bin and range (train / test / beyond) against `config`,
    the model's corpus. Same seed, same items."""
    if n_items < 0 or max_phrases < 1 or max_distance < 1:
        raise ValueError(
            f"n_items >= 0, max_phrases >= 1 and max_distance >= 1 needed, got {n_items}, {max_phrases}, {max_distance}"
        )
    config = config or GrammarConfig()
    c = constructions(suite, vocab, seed, max_phrases, max_distance)
    items = []
    for i in range(n_items):
        it = item(i, c, max_distance)
        d = it.meta["distance"]
        it.meta.update(distance_bin=distance_bin(d), range=line_range(it.meta["n_phrases"], d, config))
        items.append(it)
    return items


def render(item: WordPair, style: TextStyle, proper: frozenset = frozenset()) -> Pair:
    forms = style.forms(item.words + [item.good], proper)
    bad = tuple(style.forms(item.words + [b], proper)[-1] for b in item.bad)  # "He" / "She" after a "."
    return Pair(forms[-1], bad, style.join(forms[:-1]), dict(item.meta))
