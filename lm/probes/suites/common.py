"""What the built-in generators share: a seeded word-list builder, items, distance labels and rendering.

A generator makes `Item`s: the words of a line before its critical word, the good and bad forms of that word,
and its conditions. `render` writes an item as a prefix-format Pair in a TextStyle:
    words  mary sees john . john thinks that           good "he", bad ("she",)
    pair   {"prefix": "mary sees john . john thinks that", "good": "he", "bad": "she", "distance": 4, ...}
Distances are counted in words ("." included) from the controller (subject, antecedent, country) to the
critical word, as in the built-in corpus (lm/data/grammar.py).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from lm.data.grammar import GrammarConfig
from lm.probes.records import Pair
from lm.probes.vocab import ProbeVocab, TextStyle

NUMBER = ("sg", "pl")
DISTANCE_BINS = ((1, 3), (4, 6), (7, 9), (10, 12), (13, 16), (17, 20), (21, 24), (25, 32), (33, 48), (49, 10**6))


@dataclass
class Item:
    words: list[str]  # the prefix: every word before the critical one
    good: str
    bad: tuple[str, ...]
    meta: dict = field(default_factory=dict)


MAX_TRIES = 100  # draws of an item before max_distance is declared too short for its construction


def suite_rng(suite: str, vocab: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"lm.probes/{suite}/{vocab}/{int(seed)}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


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


def fitting(make, max_distance: int, construction: str, config: GrammarConfig) -> "Item":
    """The first of up to MAX_TRIES items from make() within max_distance, tagged with its distance bin and
    range (train / test / beyond)."""
    for _ in range(MAX_TRIES):
        item = make()
        d = item.meta["distance"]
        if d <= max_distance:
            item.meta.update(distance_bin=distance_bin(d), range=line_range(item.meta["n_phrases"], d, config))
            return item
    raise ValueError(f"max_distance={max_distance} is too short for {construction} items")


def render(item: Item, style: TextStyle, proper: frozenset = frozenset()) -> Pair:
    forms = style.forms(item.words + [item.good], proper)
    bad = tuple(style.forms(item.words + [b], proper)[-1] for b in item.bad)  # "He" / "She" after a "."
    return Pair(forms[-1], bad, style.join(forms[:-1]), dict(item.meta))


class Builder:
    """Appends words to `w`; noun phrases note their head's index, number and gender in `nouns`."""

    def __init__(
        self,
        vocab: ProbeVocab,
        rng: random.Random,
        adjective_prob: float = 0.15,
        name_prob: float = 0.5,
        plural_prob: float = 0.5,
    ):
        self.v, self.rng = vocab, rng
        self.adjective_prob, self.name_prob, self.plural_prob = adjective_prob, name_prob, plural_prob
        self.things = frozenset(vocab.inanimate)
        self.w: list[str] = []
        self.nouns: list[tuple[int, str, str]] = []  # (index, number, gender m/f/none)

    def pick(self, seq):
        return seq[int(self.rng.random() * len(seq))]

    def word(self, w: str) -> int:
        self.w.append(w)
        return len(self.w) - 1

    def np(self, pairs, num: int, adj: bool | None = None) -> int:
        """ "the [adjective] noun" from (sg, pl) pairs; returns the head's index."""
        pair = self.pick(pairs)
        self.word(self.v.det)
        if adj or (adj is None and self.rng.random() < self.adjective_prob):
            self.word(self.pick(self.v.thing_adjectives if pair in self.things else self.v.adjectives))
        i = self.word(pair[num])
        self.nouns.append((i, NUMBER[num], "none"))
        return i

    def gendered_words(self, gender: str, num: int, allow_name: bool = True) -> list[str]:
        """A name or "the [adjective] king" of the given gender and number (not yet appended)."""
        names = self.v.names.get(gender, ())
        forms = [p[num] for p in self.v.gendered[gender] if p[num]]
        if num == 0 and names and allow_name and (not forms or self.rng.random() < self.name_prob):
            return [self.pick(names)]
        if not forms:
            raise ValueError(f"the {self.v.name} vocabulary has no {NUMBER[num]} noun of gender {gender}")
        adj = [self.pick(self.v.adjectives)] if self.rng.random() < self.adjective_prob else []
        return [self.v.det, *adj, self.pick(forms)]

    def emit(self, words: list[str], num: int, gender: str) -> int:
        """Append a noun phrase whose head is its last word; returns the head's index."""
        self.w.extend(words)
        i = len(self.w) - 1
        self.nouns.append((i, NUMBER[num], gender))
        return i

    def gendered(self, gender: str, num: int) -> int:
        return self.emit(self.gendered_words(gender, num), num, gender)

    def has_plural(self, gender: str) -> bool:
        return any(p[1] for p in self.v.gendered[gender])

    def verb(self, cls: str, num: int) -> int:
        return self.word(self.pick(self.v.verbs[cls])[num])

    def pps(self, n: int, noun) -> None:
        for _ in range(n):
            self.word(self.pick(self.v.prepositions))
            noun()

    def modifiers(self, rc: str | None, n: int, num: int, noun, pp_noun=None) -> None:
        """n phrases after a subject of number `num`: a relative clause first when rc says so, then PPs.
        `noun()` appends an intervening noun phrase and returns its number (0 / 1); `pp_noun` (default
        `noun`) the object of a preposition."""
        pp_noun = pp_noun or noun
        if n and rc == "subj_rc":
            self.word(self.v.that)
            self.verb("transitive", num)
            noun()
            self.pps(n - 1, pp_noun)
        elif n and rc == "obj_rc":
            self.word(self.v.that)
            rc_num = noun()
            self.pps(n - 1, pp_noun)
            self.verb("transitive", rc_num)
        else:
            self.pps(n, pp_noun)

    def between(self, start: int, end: int) -> list[tuple[int, str, str]]:
        return [x for x in self.nouns if start < x[0] < end]
