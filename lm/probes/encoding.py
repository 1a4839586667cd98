"""Minimal pairs -> token ids: one shared context (primed with <eos>) and one continuation per side.

    prefix pair    "the dogs near the car" + "run" / "runs"
        word       <eos> the dogs near the car | run           <eos> ... car | runs
        char       <eos> t h e ... c a r ␣     | r u n         (the joining space ends the context)
        bpe        <eos> the Ġdogs ... Ġcar    | Ġrun          (byte-level BPE glues the space to the word)
    sentence pair  "the dogs run ." / "the dogs runs ."  ->  <eos> the dogs | run . <eos>  /  runs . <eos>
        the tokens both sides share at the start become the context: they cancel in the comparison, so they
        are read once and not scored.

A prefix and a continuation are joined by one space (none after a prefix ending in "<eos>": a line starts
there, as in PTB-style items "mary smiles<eos>she ..."). The context is the longest of tokens(prefix + " ") and
tokens(prefix) that every side's tokens(prefix + " " + continuation) starts with, so a continuation's score is
log p(continuation | prefix) under the tokenization the model was trained on.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from tokenizers import Tokenizer

from lm.data.tokenizer import EOS, UNK, eos_id
from lm.probes.records import Pair

Ids = tuple[int, ...]


@dataclass(frozen=True)
class Encoded:
    context: Ids  # starts with <eos>
    sides: tuple[Ids, ...]  # continuation of the good side, then of each bad side
    oov: tuple[str, ...] = ()  # critical words the vocabulary lacks (word / char tokenizers)


class OOVWarning(UserWarning):
    """Words a word-level (or character) vocabulary lacks: the model would read them as <unk>."""


def warn_oov(words: Iterable[str], consequence: str, stacklevel: int = 3) -> None:
    """One warning naming the out-of-vocabulary words (the first ten) and what was done about them."""
    found = list(dict.fromkeys(words))
    if found:
        shown = ", ".join(map(repr, found[:10])) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
        warnings.warn(
            f"{len(found)} word(s) not in the model's vocabulary ({shown}): {consequence}",
            OOVWarning,
            stacklevel=stacklevel,
        )


def common_prefix(seqs: list[Ids]) -> int:
    """Length of the longest prefix shared by all sequences."""
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for i in range(n):
        if any(s[i] != first[i] for s in seqs[1:]):
            return i
    return n


def critical_words(good: str, bads: tuple[str, ...]) -> set[str]:
    """Words where the sides differ: all words but those every side shares at the start and at the end."""
    sides = [good.split()] + [b.split() for b in bads]
    head = common_prefix([tuple(s) for s in sides])
    tail = common_prefix([tuple(reversed(s[head:])) for s in sides])
    return {w for s in sides for w in s[head : len(s) - tail]}


def join(prefix: str, continuation: str) -> str:
    """prefix + " " + continuation; no space at a line start (empty prefix, or one ending in <eos>)."""
    return f"{prefix} {continuation}" if prefix and not prefix.endswith(EOS) else prefix + continuation


class PairEncoder:
    """Encodes pairs in bulk with one tokenizer; `end_with_eos` scores a sentence's closing <eos> too."""

    def __init__(self, tokenizer: Tokenizer, end_with_eos: bool = True):
        self.tok, self.eos, self.end_with_eos = tokenizer, eos_id(tokenizer), end_with_eos
        self.unk = tokenizer.token_to_id(UNK)
        self._oov_cache: dict[str, bool] = {}

    def ids(self, texts: list[str]) -> list[Ids]:
        return [tuple(e.ids) for e in self.tok.encode_batch(texts, add_special_tokens=False)]

    def is_oov(self, word: str) -> bool:
        if self.unk is None:  # byte-level BPE spells any text
            return False
        if word not in self._oov_cache:
            self._oov_cache[word] = self.unk in self.tok.encode(word, add_special_tokens=False).ids
        return self._oov_cache[word]

    def oov_words(self, texts: Iterable[str]) -> list[str]:
        """The whitespace words of `texts` that the vocabulary lacks, each once, in order."""
        if self.unk is None:
            return []
        return list(dict.fromkeys(w for t in texts for w in t.split() if self.is_oov(w)))

    def encode(self, pairs: list[Pair]) -> list[Encoded]:
        sentence = [i for i, p in enumerate(pairs) if p.prefix is None]
        prefixed = [i for i, p in enumerate(pairs) if p.prefix is not None]
        out: list[Encoded | None] = [None] * len(pairs)
        for i, enc in zip(sentence, self._sentences([pairs[i] for i in sentence])):
            out[i] = enc
        for i, enc in zip(prefixed, self._prefixed([pairs[i] for i in prefixed])):
            out[i] = enc
        return out

    def _oov(self, pair: Pair) -> tuple[str, ...]:
        words = (
            {*pair.good.split(), *(w for b in pair.bad for w in b.split())}
            if pair.prefix is not None
            else critical_words(pair.good, pair.bad)
        )
        return tuple(sorted(w for w in words if self.is_oov(w)))

    def _sentences(self, pairs: list[Pair]) -> list[Encoded]:
        texts = [t for p in pairs for t in (p.good, *p.bad)]
        ids = iter(self.ids(texts))
        tail = (self.eos,) if self.end_with_eos else ()
        out = []
        for p in pairs:
            sides = [next(ids) + tail for _ in range(1 + len(p.bad))]
            n = common_prefix(sides)
            out.append(Encoded((self.eos,) + sides[0][:n], tuple(s[n:] for s in sides), self._oov(p)))
        return out

    def _prefixed(self, pairs: list[Pair]) -> list[Encoded]:
        texts = []
        for p in pairs:
            texts += [p.prefix + " ", p.prefix] + [join(p.prefix, c) for c in (p.good, *p.bad)]
        ids = iter(self.ids(texts))
        out = []
        for p in pairs:
            spaced, bare = next(ids), next(ids)
            full = [next(ids) for _ in range(1 + len(p.bad))]
            candidates = (spaced, bare) if p.prefix else ((),)
            ctx = next((c for c in candidates if all(f[: len(c)] == c for f in full)), None)
            if ctx is None:  # a tokenizer that merges across the joining space: share what is shared
                ctx = full[0][: common_prefix(full)]
            out.append(Encoded((self.eos,) + ctx, tuple(f[len(ctx) :] for f in full), self._oov(p)))
        return out
