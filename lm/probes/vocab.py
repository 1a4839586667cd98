"""The words the built-in suites are made of, and how they are written for a given model.

Two vocabularies with one shape (`ProbeVocab`):
- "grammar": the built-in corpus's lexicon (data/grammar/lexicon.json), so the default model can be probed;
  written as the corpus is (lowercase, " . " as a word).
- "english": common English words (data/probes/english.json, same schema as the lexicon) for models trained
  on real text. `restrict` keeps the words every model's vocabulary has, and `coverage` says how many those are;
  `detect_style` picks case and sentence breaks from the tokenizer (PTB: lowercase, no "." but <eos>).

Suites are generated as word lists and written out by a `TextStyle`, so two models with different
orthographies are scored on the same items.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from tokenizers import Tokenizer

from lm.data.lexicon import Lexicon, load_lexicon
from lm.data.tokenizer import EOS, UNK, kind_of
from lm.errors import UserError
from lm.paths import shipped

ENGLISH_PATH = shipped("data", "probes", "english.json")
VOCABS = ("grammar", "english")
PERIODS = ("sep", "attached", "eos")
Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ProbeVocab:
    name: str
    det: str
    that: str
    conj: str
    animate: Pairs  # (sg, pl): agreement subjects and objects, filler subjects
    inanimate: Pairs  # objects of prepositions
    gendered: dict  # "m"/"f" -> ((sg | None, pl | None), ...), aligned: king <-> queen
    names: dict  # "m"/"f" -> names
    verbs: dict  # class -> ((sg, pl), ...): intransitive transitive reflexive complement copula
    adjectives: tuple[str, ...]
    thing_adjectives: tuple[str, ...]
    prepositions: tuple[str, ...]
    pronouns: dict  # "m"/"f"/"pl" -> he/she/they
    reflexives: dict
    fact_frames: tuple[tuple[str, ...], ...]
    recall_frames: tuple[tuple[str, ...], ...]  # alternatives, best first: "speaks fluent", "speaks"
    countries: tuple[tuple[str, str], ...]  # (country, language)
    proper: frozenset = frozenset()  # capitalised in cased text: names, countries, languages

    @property
    def words(self) -> set[str]:
        out = {
            self.det,
            self.that,
            self.conj,
            *self.adjectives,
            *self.prepositions,
            *self.pronouns.values(),
            *self.reflexives.values(),
            *(w for f in self.fact_frames + self.recall_frames for w in f),
        }
        for pairs in (self.animate, self.inanimate, *self.verbs.values(), *self.gendered.values()):
            out.update(w for p in pairs for w in p if w)
        out.update(w for ns in self.names.values() for w in ns)
        out.update(w for cl in self.countries for w in cl)
        return out


NEEDS = {  # word classes each built-in suite draws from
    "agreement": (
        "animate",
        "inanimate",
        "prepositions",
        "adjectives",
        "verbs.intransitive",
        "verbs.transitive",
        "verbs.copula",
        "verbs.complement",
    ),
    "gender": (
        "prepositions",
        "adjectives",
        "verbs.intransitive",
        "verbs.transitive",
        "verbs.reflexive",
        "verbs.complement",
        "people.m",
        "people.f",
    ),
    "recall": (
        "animate",
        "inanimate",
        "prepositions",
        "adjectives",
        "verbs.intransitive",
        "verbs.transitive",
        "verbs.copula",
        "fact_frames",
        "recall_frames",
        "names",
        "languages",
    ),
}


def lacks(vocab: ProbeVocab, suite: str) -> list[str]:
    """The word classes `suite` needs that `vocab` has nothing in (e.g. after `restrict`)."""

    def size(need: str) -> int:
        kind, _, key = need.partition(".")
        if kind == "verbs":
            return len(vocab.verbs.get(key, ()))
        if kind == "people":
            return len(vocab.names.get(key, ())) + sum(1 for p in vocab.gendered[key] if p[0])
        if kind == "names":
            return sum(len(v) for v in vocab.names.values())
        if kind == "languages":
            return len({lang for _, lang in vocab.countries}) - 1
        return len(getattr(vocab, kind))

    return [n for n in NEEDS.get(suite, ()) if size(n) < 1]


def from_lexicon(lex: Lexicon, name: str, recall_frames: Iterable[Iterable[str]] = ()) -> ProbeVocab:
    verbs = {k: tuple(v) for k, v in lex.verbs.items()}
    return ProbeVocab(
        name=name,
        det=lex.determiner,
        that=lex.relativizer,
        conj=lex.conjunction,
        animate=lex.animate_nouns,
        inanimate=lex.inanimate_nouns,
        gendered={g: tuple(pairs) for g, pairs in lex.gendered_nouns.items()},
        names={g: tuple(ns) for g, ns in lex.names.items()},
        verbs=verbs,
        adjectives=lex.adjectives,
        thing_adjectives=lex.inanimate_adjectives,
        prepositions=lex.prepositions,
        pronouns=dict(lex.pronouns),
        reflexives=dict(lex.reflexives),
        fact_frames=lex.fact_frames,
        recall_frames=(lex.recall_frame, *(tuple(f) for f in recall_frames)),
        countries=tuple(lex.country_language.items()),
        proper=frozenset(
            [*(n for ns in lex.names.values() for n in ns), *lex.country_language, *lex.country_language.values()]
        ),
    )


def load_vocab(name: str) -> ProbeVocab:
    if name == "grammar":
        return from_lexicon(load_lexicon(), "grammar")
    if name == "english":
        lex = load_lexicon(ENGLISH_PATH)  # same schema as the grammar's lexicon, checked the same way
        extra = json.loads(ENGLISH_PATH.read_text(encoding="utf-8")).get("facts", {}).get("recall_alternatives", [])
        return from_lexicon(lex, "english", extra)
    raise UserError(f"unknown probe vocabulary {name!r}: use one of {', '.join(VOCABS)}")


def in_vocabulary(tokenizer: Tokenizer) -> Callable[[str], bool]:
    """word -> whether the tokenizer spells it without <unk> (byte-level BPE spells everything)."""
    unk = tokenizer.token_to_id(UNK)
    if unk is None:
        return lambda word: True
    return lambda word: unk not in tokenizer.encode(word, add_special_tokens=False).ids


def coverage(vocab: ProbeVocab, tokenizer: Tokenizer) -> dict:
    ok = in_vocabulary(tokenizer)
    words = sorted(vocab.words)
    missing = [w for w in words if not ok(w)]
    return {
        "vocab": vocab.name,
        "words": len(words),
        "covered": len(words) - len(missing),
        "fraction": (len(words) - len(missing)) / max(len(words), 1),
        "missing": missing,
    }


def restrict(vocab: ProbeVocab, ok: Callable[[str], bool]) -> ProbeVocab:
    """The part of `vocab` whose words pass `ok`; a noun or verb stays only with both of its forms."""

    def pairs(ps):
        return tuple(p for p in ps if ok(p[0]) and ok(p[1]))

    m, f = vocab.gendered["m"], vocab.gendered["f"]
    keep = []
    for (ms, mp), (fs, fp) in zip(m, f):
        sg_ok, pl_ok = ok(ms) and ok(fs), bool(mp and fp) and ok(mp) and ok(fp)
        if sg_ok or pl_ok:
            keep.append(
                ((ms if sg_ok else None, mp if pl_ok else None), (fs if sg_ok else None, fp if pl_ok else None))
            )
    frames = [fr for fr in vocab.recall_frames if all(map(ok, fr))]
    return replace(
        vocab,
        animate=pairs(vocab.animate),
        inanimate=pairs(vocab.inanimate),
        gendered={"m": tuple(k[0] for k in keep), "f": tuple(k[1] for k in keep)},
        names={g: tuple(filter(ok, ns)) for g, ns in vocab.names.items()},
        verbs={k: pairs(v) for k, v in vocab.verbs.items()},
        adjectives=tuple(filter(ok, vocab.adjectives)),
        thing_adjectives=tuple(filter(ok, vocab.thing_adjectives)),
        prepositions=tuple(filter(ok, vocab.prepositions)),
        fact_frames=tuple(fr for fr in vocab.fact_frames if all(map(ok, fr))),
        recall_frames=tuple(frames[:1]),
        countries=tuple(c for c in vocab.countries if ok(c[0]) and ok(c[1])),
    )


@dataclass(frozen=True)
class TextStyle:
    """How a word list is written: lowercase or sentence case, and what ends a sentence:
    "sep" (" . " a word of its own), "attached" ("smiled. He") or "eos" (PTB has no ".": the line ends)."""

    lower: bool = True
    period: str = "sep"

    def forms(self, words: list[str], proper: frozenset = frozenset()) -> list[str]:
        out, start = [], True
        for w in words:
            if w == ".":
                out.append(EOS if self.period == "eos" else ".")
                start = True
                continue
            cap = not self.lower and (start or w in proper)
            out.append(w[:1].upper() + w[1:] if cap else w)
            start = False
        return out

    def join(self, forms: list[str]) -> str:
        text = ""
        for f in forms:
            glue = not text or f == EOS or text.endswith(EOS) or (f == "." and self.period == "attached")
            text += f if glue else " " + f
        return text


CORPUS_STYLE = TextStyle(lower=True, period="sep")


def detect_style(tokenizer: Tokenizer) -> TextStyle:
    """Case and sentence breaks the tokenizer's training text used, read off its vocabulary."""
    vocab = tokenizer.get_vocab()
    kind = kind_of(tokenizer)
    cased = any(t in vocab for t in (("T", "H") if kind == "char" else ("The", "He", "ĠThe", "ĠHe")))
    if kind == "word":
        period = (
            "sep"
            if "." in vocab
            else "attached"
            if any(t in vocab for t in ("him.", "her.", "it.", "them."))
            else "eos"
        )
    elif kind == "char":
        period = "attached" if "." in vocab else "eos"
    else:
        period = "attached"
    return TextStyle(lower=not cased, period=period)
