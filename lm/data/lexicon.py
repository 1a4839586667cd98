"""Lexicons: the word lists sentences are built from (lm/data/constructions.py) and the features of every word.

One schema, two files: the built-in corpus's `data/grammar/lexicon.json` (`load_lexicon()`), and common English
words for probing models trained on real text, `data/probes/english.json` (lm/probes/vocab.py). A `Lexicon` holds
the word lists and, for every word a sentence can hold, a `Word` with its features:

- nouns: number ("sg"/"pl"), both forms (`sg`, `pl`), gender ("m"/"f" for kinship and role nouns, "none"
  otherwise), `animate`;
- names: number "sg", gender "m"/"f";
- verbs: number ("sg"/"pl") and both forms ("sees"/"see", "is"/"are", "was"/"were"), verb classes;
- pronouns (he/she/they) and reflexives (himself/herself/themselves): number and gender ("none" for plural);
- countries, each with the one language it determines (`country_language`), and the languages.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from lm.errors import UserError
from lm.paths import shipped

LEXICON_PATH = shipped("data", "grammar", "lexicon.json")
POS = (
    "noun",
    "name",
    "verb",
    "pronoun",
    "reflexive",
    "adjective",
    "preposition",
    "country",
    "language",
    "function",
    "punctuation",
)


@dataclass(frozen=True)
class Word:
    form: str
    pos: str  # one of POS
    number: str | None = None  # "sg" | "pl": nouns, names, number-marked verbs, pronouns, reflexives
    gender: str | None = None  # "m" | "f" | "none": nouns, names, pronouns, reflexives
    animate: bool = False
    sg: str | None = None  # the singular and plural forms of the noun or verb this form belongs to
    pl: str | None = None
    classes: tuple[str, ...] = ()  # nouns: animate|inanimate|kinship|role; verbs: intransitive|transitive|...


@dataclass(frozen=True, eq=False)
class Lexicon:
    """Read-only word lists (noun and verb entries are (sg, pl) pairs) and the features of every word."""

    determiner: str
    relativizer: str
    complementizer: str
    conjunction: str
    animate_nouns: tuple[tuple[str, str], ...]  # gender "none"
    inanimate_nouns: tuple[tuple[str, str], ...]
    gendered_nouns: Mapping[str, tuple[tuple[str, str], ...]]  # "m"/"f" -> pairs
    names: Mapping[str, tuple[str, ...]]  # "m"/"f" -> names
    verbs: Mapping[str, tuple[tuple[str, str], ...]]  # class -> pairs; classes as in the json
    adjectives: tuple[str, ...]
    inanimate_adjectives: tuple[str, ...]  # the adjectives that also fit things: "the old house"
    prepositions: tuple[str, ...]
    pronouns: Mapping[str, str]  # "m"/"f"/"pl" -> he/she/they
    reflexives: Mapping[str, str]  # "m"/"f"/"pl" -> himself/herself/themselves
    fact_frames: tuple[tuple[str, ...], ...]  # "grew up in", ...: name + frame + country
    recall_frames: tuple[tuple[str, ...], ...]  # "speaks fluent", then alternatives: name + frame + language
    country_language: Mapping[str, str]
    words: Mapping[str, Word]  # every form a sentence can hold
    digest: str  # of the json file: changes whenever the lexicon does
    name: str = "grammar"  # which word list: "grammar" (the corpus's) or "english"

    @property
    def recall_frame(self) -> tuple[str, ...]:
        return self.recall_frames[0]

    @property
    def proper(self) -> frozenset[str]:
        """The words capitalised in cased text: names, countries and languages."""
        return frozenset(
            [*(n for ns in self.names.values() for n in ns), *self.country_language, *self.country_language.values()]
        )

    @property
    def vocab(self) -> tuple[str, ...]:
        return tuple(sorted(self.words))

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(self.country_language)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.country_language.values())))

    def features(self, word: str) -> Word | None:
        return self.words.get(word)

    def number(self, word: str) -> str | None:
        w = self.words.get(word)
        return w.number if w else None

    def gender(self, word: str) -> str | None:
        w = self.words.get(word)
        return w.gender if w else None

    def other_number(self, word: str) -> str:
        """The other-number form of a noun or verb: dog <-> dogs, sees <-> see, is <-> are."""
        w = self.words[word]
        if w.sg is None or w.sg == w.pl:
            raise ValueError(f"{word!r} has no other-number form")
        return w.pl if word == w.sg else w.sg

    def other_form(self, kind: str, word: str, gender: str | None = None) -> str | None:
        """The wrong form of a target word: a verb's other number (kind "agreement"), or the singular pronoun or
        reflexive of the other gender than `gender` (default: the word's own; None for they / themselves)."""
        if kind == "agreement":
            return self.other_number(word)
        w = self.words[word]
        own = gender or w.gender
        if own not in ("m", "f"):
            return None
        return self.pronoun("f" if own == "m" else "m", "sg", reflexive=w.pos == "reflexive")

    def pronoun(self, gender: str, number: str, reflexive: bool = False) -> str:
        """The pronoun (he/she/they) or reflexive that refers to a subject of this gender and number."""
        table = self.reflexives if reflexive else self.pronouns
        return table["pl" if number == "pl" else gender]


def _pairs(rows) -> tuple[tuple[str, str], ...]:
    return tuple((str(sg), str(pl)) for sg, pl in rows)


def _build(raw: dict, digest: str, name: str) -> Lexicon:
    words: dict[str, Word] = {}

    def add(word: Word) -> None:
        old = words.get(word.form)
        if old is None:
            words[word.form] = word
        elif old.pos == word.pos == "verb" and (old.number, old.sg, old.pl) == (word.number, word.sg, word.pl):
            words[word.form] = Word(**{**old.__dict__, "classes": old.classes + word.classes})
        elif old != word:
            raise UserError(f"lexicon {LEXICON_PATH}: {word.form!r} is listed both as {old.pos} and {word.pos}")

    nouns = raw["nouns"]
    animate, inanimate = _pairs(nouns["animate"]), _pairs(nouns["inanimate"])
    for pairs, cls in ((animate, "animate"), (inanimate, "inanimate")):
        for sg, pl in pairs:
            for form, num in ((sg, "sg"), (pl, "pl")):
                add(Word(form, "noun", num, "none", cls == "animate", sg, pl, (cls,)))
    gendered = {"m": [], "f": []}
    for entry in nouns["gendered"]:
        for g in ("m", "f"):
            sg, pl = entry[g]
            gendered[g].append((sg, pl))
            for form, num in ((sg, "sg"), (pl, "pl")):
                add(Word(form, "noun", num, g, True, sg, pl, (entry["kind"],)))
    names = {g: tuple(raw["names"][g]) for g in ("m", "f")}
    for g, forms in names.items():
        for form in forms:
            add(Word(form, "name", "sg", g, True))

    verbs = {cls: _pairs(rows) for cls, rows in raw["verbs"].items() if cls != "reflexive"}
    for cls, pairs in verbs.items():
        for sg, pl in pairs:
            add(Word(sg, "verb", "sg", None, False, sg, pl, (cls,)))
            add(Word(pl, "verb", "pl", None, False, sg, pl, (cls,)))
    transitive = dict(verbs["transitive"])
    unknown = [v for v in raw["verbs"]["reflexive"] if v not in transitive]
    if unknown:
        raise UserError(f"lexicon {LEXICON_PATH}: reflexive verbs {unknown} are not transitive verbs")
    verbs["reflexive"] = tuple((v, transitive[v]) for v in raw["verbs"]["reflexive"])

    pronouns, reflexives = dict(raw["pronouns"]["subject"]), dict(raw["pronouns"]["reflexive"])
    for table, pos in ((pronouns, "pronoun"), (reflexives, "reflexive")):
        for key, form in table.items():
            add(Word(form, pos, "pl" if key == "pl" else "sg", "none" if key == "pl" else key, True))
    for form in raw["adjectives"]:
        add(Word(form, "adjective"))
    if not set(raw["inanimate_adjectives"]) <= set(raw["adjectives"]):
        raise UserError(f"lexicon {LEXICON_PATH}: inanimate_adjectives must be a subset of adjectives")
    for form in raw["prepositions"]:
        add(Word(form, "preposition"))
    countries = dict(raw["countries"])
    for country, language in countries.items():
        add(Word(country, "country"))
        add(Word(language, "language"))
    for form in raw["punctuation"]:
        add(Word(form, "punctuation"))
    frames = tuple(tuple(f) for f in raw["facts"]["frames"])
    recall = (tuple(raw["facts"]["recall"]), *(tuple(f) for f in raw["facts"].get("recall_alternatives", ())))
    function = [raw["determiner"], raw["relativizer"], raw["complementizer"], raw["conjunction"]]
    for form in function + [x for frame in frames + recall for x in frame]:
        if form not in words:  # frame verbs ("was", "lives", "speaks") keep their verb features
            add(Word(form, "function"))

    ro = MappingProxyType
    return Lexicon(
        determiner=raw["determiner"],
        relativizer=raw["relativizer"],
        complementizer=raw["complementizer"],
        conjunction=raw["conjunction"],
        animate_nouns=animate,
        inanimate_nouns=inanimate,
        gendered_nouns=ro({g: tuple(p) for g, p in gendered.items()}),
        names=ro(names),
        verbs=ro(verbs),
        adjectives=tuple(raw["adjectives"]),
        inanimate_adjectives=tuple(raw["inanimate_adjectives"]),
        prepositions=tuple(raw["prepositions"]),
        pronouns=ro(pronouns),
        reflexives=ro(reflexives),
        fact_frames=frames,
        recall_frames=recall,
        country_language=ro(countries),
        words=ro(words),
        digest=digest,
        name=name,
    )


@functools.lru_cache(maxsize=4)
def load_lexicon(path: str | Path | None = None, name: str = "grammar") -> Lexicon:
    """The grammar's lexicon (data/grammar/lexicon.json unless `path` says otherwise), checked and cached."""
    path = Path(path) if path is not None else LEXICON_PATH
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read the grammar lexicon {path}: {e.strerror}") from None
    try:
        raw = json.loads(data)
        return _build(raw, hashlib.sha256(data).hexdigest()[:12], name)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"grammar lexicon {path} is malformed: {type(e).__name__}: {e}") from None
