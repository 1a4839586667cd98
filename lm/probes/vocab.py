"""The words the built-in suites are made of, and how they are written for a given model.

Two lexicons of one schema (`lm.data.lexicon.Lexicon`):
- "grammar": the built-in corpus's lexicon (data/grammar/lexicon.json), so the default model can be probed;
  written as the corpus is (lowercase, " . " as a word).
- "english": common English words (data/probes/english.json) for models trained on real text. `restrict`
  keeps the words every model's vocabulary has, and `coverage` says how many those are; `detect_style` picks
  case and sentence breaks from the tokenizer (PTB: lowercase, no "." but <eos>).

Suites are generated as word lists and written out by a `TextStyle`, so two models with different
orthographies are scored on the same items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from tokenizers import Tokenizer

from lm.data.lexicon import Lexicon, load_lexicon
from lm.data.tokenizer import EOS, UNK, kind_of
from lm.errors import UserError
from lm.paths import shipped

ENGLISH_PATH = shipped("data", "probes", "english.json")
VOCABS = ("grammar", "english")
PERIODS = ("sep", "attached", "eos")

_SENTENCES = ("prepositions", "adjectives", "verbs.intransitive", "verbs.transitive")  # what any line needs
_NOUNS = ("animate_nouns", "inanimate_nouns", "verbs.copula")  # agreement lines and recall's filler
NEEDS = {  # word classes each built-in suite draws from
    "agreement": (*_NOUNS, *_SENTENCES, "verbs.complement"),
    "gender": (*_SENTENCES, "verbs.reflexive", "verbs.complement", "people.m", "people.f"),
    "recall": (*_NOUNS, *_SENTENCES, "inanimate_adjectives", "fact_frames", "recall_frames", "names", "languages"),
}


def lacks(vocab: Lexicon, suite: str) -> list[str]:
    """The word classes `suite` needs that `vocab` has nothing in (e.g. after `restrict`)."""

    def size(need: str) -> int:
        kind, _, key = need.partition(".")
        if kind == "verbs":
            return len(vocab.verbs.get(key, ()))
        if kind == "people":
            return len(vocab.names.get(key, ())) + sum(1 for p in vocab.gendered_nouns[key] if p[0])
        if kind == "names":
            return sum(len(v) for v in vocab.names.values())
        if kind == "languages":
            return len(set(vocab.country_language.values())) - 1
        return len(getattr(vocab, kind))

    return [n for n in NEEDS.get(suite, ()) if size(n) < 1]


def load_vocab(name: str) -> Lexicon:
    if name == "grammar":
        return load_lexicon()
    if name == "english":
        return load_lexicon(ENGLISH_PATH, "english")
    raise UserError(f"unknown probe vocabulary {name!r}: use one of {', '.join(VOCABS)}")


def in_vocabulary(tokenizer: Tokenizer) -> Callable[[str], bool]:
    """word -> whether the tokenizer spells it without <unk> (byte-level BPE spells everything)."""
    unk = tokenizer.token_to_id(UNK)
    if unk is None:
        return lambda word: True
    return lambda word: unk not in tokenizer.encode(word, add_special_tokens=False).ids


def coverage(vocab: Lexicon, tokenizer: Tokenizer) -> dict:
    ok = in_vocabulary(tokenizer)
    words = sorted(w for w, f in vocab.words.items() if f.pos != "punctuation")
    missing = [w for w in words if not ok(w)]
    return {
        "vocab": vocab.name,
        "words": len(words),
        "covered": len(words) - len(missing),
        "fraction": (len(words) - len(missing)) / max(len(words), 1),
        "missing": missing,
    }


def restrict(vocab: Lexicon, ok: Callable[[str], bool]) -> Lexicon:
    """The part of `vocab` whose words pass `ok`; a noun or verb stays only with both of its forms."""

    def pairs(ps):
        return tuple(p for p in ps if ok(p[0]) and ok(p[1]))

    m, f = vocab.gendered_nouns["m"], vocab.gendered_nouns["f"]
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
        animate_nouns=pairs(vocab.animate_nouns),
        inanimate_nouns=pairs(vocab.inanimate_nouns),
        gendered_nouns={"m": tuple(k[0] for k in keep), "f": tuple(k[1] for k in keep)},
        names={g: tuple(filter(ok, ns)) for g, ns in vocab.names.items()},
        verbs={k: pairs(v) for k, v in vocab.verbs.items()},
        adjectives=tuple(filter(ok, vocab.adjectives)),
        inanimate_adjectives=tuple(filter(ok, vocab.inanimate_adjectives)),
        prepositions=tuple(filter(ok, vocab.prepositions)),
        fact_frames=tuple(fr for fr in vocab.fact_frames if all(map(ok, fr))),
        recall_frames=tuple(frames[:1]),
        country_language={c: lang for c, lang in vocab.country_language.items() if ok(c) and ok(lang)},
        words={w: f for w, f in vocab.words.items() if ok(w) or f.pos == "punctuation"},
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
