"""Surprisal in bits, per token, per word, per sentence and per continuation: the API for reading-time and
psycholinguistic work, in the spirit of minicons' IncrementalLMScorer.

    from lm.probes import SurprisalScorer
    s = SurprisalScorer.load("outputs/ptb/<time>")                # a run directory or a .ckpt
    s.word_surprisal(["the keys to the cabinet are here"])        # [[WordSurprisal(word, surprisal, n_tokens, oov)]]
    s.token_surprisal(["the keys"])                               # [[TokenSurprisal(token, surprisal, word)]]
    s.sentence_surprisal(texts, reduction="mean")                 # bits per token; "sum": bits per sentence
    s.continuation_surprisal(["the keys to the cabinet"], ["are"])  # -log2 p(are | the keys to the cabinet)

Surprisal is -log2 p, from the numbers the probes use (lm/probes/engine.py, batched): each text starts from a
fresh state primed with <eos>, as a corpus line does. A word is a whitespace word; its surprisal sums its tokens.
A token belongs to the word whose characters it covers, so a BPE word's leading-space token counts with it (Ġdogs)
while a space that is a token of its own (character models, some BPE) belongs to no word: a word's surprisal
equals the continuation surprisal of that word after the text before it. Sentence scores include the closing
<eos> when `end_with_eos` (the default, as training saw lines end); word and token lists leave spaces out and give
the closing <eos> as a token of no word.

A word the vocabulary lacks (word-level models; a character model's unknown characters) is flagged `oov=True`,
its surprisal is NaN, not the probability of <unk>, and so is any sentence or continuation sum holding it; each
call warns once (OOVWarning) naming those words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lm.data.tokenizer import Span, token_owners, word_spans
from lm.device import resolve_device
from lm.model import checkpoint
from lm.probes.encoding import warn_oov
from lm.probes.engine import Request
from lm.probes.scoring import Scorer

LN2 = math.log(2)
REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True)
class TokenSurprisal:
    token: str
    surprisal: float  # bits
    word: int | None  # index of the whitespace word it belongs to; None: a space, or the closing <eos>


@dataclass(frozen=True)
class WordSurprisal:
    word: str
    surprisal: float  # bits, its tokens summed; NaN when oov
    n_tokens: int
    oov: bool


@dataclass(frozen=True)
class SpanSurprisal:
    bits: np.ndarray  # surprisal of each token in the span
    oov: tuple[str, ...] = ()  # its words the vocabulary lacks


def reduce(bits: np.ndarray, reduction: str) -> float:
    """sum or mean of token surprisals (mean of none: NaN)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    if reduction == "mean":
        return float(bits.mean()) if len(bits) else math.nan
    return float(bits.sum())


def _texts(texts) -> list[str]:
    return [texts] if isinstance(texts, str) else [str(t) for t in texts]


class SurprisalScorer:
    """Surprisal under one model; wraps a Scorer, whose encoder and engine the probes share."""

    def __init__(self, scorer: Scorer):
        self.scorer = scorer
        self.tokenizer = scorer.encoder.tok
        self.unk = scorer.encoder.unk

    @classmethod
    def load(
        cls, path, device: str = "cpu", precision: str = "auto", max_tokens: int = 65536, end_with_eos: bool = True
    ) -> SurprisalScorer:
        """From a checkpoint file or run directory (precision="fp32" for exact numbers on any CPU)."""
        loaded = checkpoint.load(path, map_location=resolve_device(device))
        return cls.from_model(loaded.model, loaded.tokenizer, precision, max_tokens, end_with_eos)

    @classmethod
    def from_model(
        cls, model, tokenizer, precision: str = "auto", max_tokens: int = 65536, end_with_eos: bool = True
    ) -> SurprisalScorer:
        return cls(Scorer(model, tokenizer, precision, max_tokens, end_with_eos))

    def _scored(self, texts: list[str], end_with_eos: bool):
        """(encoding, surprisal of each token in bits) per text, the closing <eos> last when end_with_eos."""
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        eos = self.scorer.eos
        tail = (eos,) if end_with_eos else ()
        lps = self.scorer.engine.token_scores([Request((eos,), tuple(e.ids) + tail) for e in encs])
        return [(e, -lp / LN2) for e, lp in zip(encs, lps)]

    def span_surprisals(self, texts: list[str], spans: list[list[Span]]) -> list[list[SpanSurprisal]]:
        """Token surprisals grouped by character spans of each text (words, or SyntaxGym regions)."""
        out = []
        for text, sp, (enc, bits) in zip(texts, spans, self._scored(texts, False)):
            members: list[list[int]] = [[] for _ in sp]
            for t, k in enumerate(token_owners(enc.offsets, sp)):
                if k >= 0:
                    members[k].append(t)
            row = []
            for (a, b), ts in zip(sp, members):
                unk = self.unk is not None and any(enc.ids[t] == self.unk for t in ts)
                oov = (tuple(self.scorer.encoder.oov_words([text[a:b]])) or (text[a:b],)) if unk else ()
                row.append(SpanSurprisal(bits[ts], oov))
            out.append(row)
        return out

    def word_surprisal(self, texts) -> list[list[WordSurprisal]]:
        texts = _texts(texts)
        spans = [word_spans(t) for t in texts]
        out = [
            [
                WordSurprisal(t[a:b], math.nan if s.oov else float(s.bits.sum()), len(s.bits), bool(s.oov))
                for (a, b), s in zip(sp, row)
            ]
            for t, sp, row in zip(texts, spans, self.span_surprisals(texts, spans))
        ]
        warn_oov((w.word for row in out for w in row if w.oov), "their surprisal is NaN, not that of <unk>")
        return out

    def token_surprisal(self, texts) -> list[list[TokenSurprisal]]:
        texts = _texts(texts)
        out = []
        for text, (enc, bits) in zip(texts, self._scored(texts, self.scorer.end_with_eos)):
            owners = token_owners(enc.offsets, word_spans(text))
            names = enc.tokens + [self.tokenizer.id_to_token(self.scorer.eos)] * (len(bits) - len(enc.ids))
            out.append(
                [
                    TokenSurprisal(name, float(b), owners[k] if k < len(owners) and owners[k] >= 0 else None)
                    for k, (name, b) in enumerate(zip(names, bits))
                ]
            )
        warn_oov(self.scorer.encoder.oov_words(texts), "their tokens are <unk>")
        return out

    def sentence_surprisal(self, texts, reduction: str = "sum") -> list[float]:
        """Bits per sentence ("sum") or per token ("mean"), the closing <eos> included when end_with_eos."""
        texts = _texts(texts)
        reduce(np.zeros(0), reduction)  # check the name before scoring
        out, oov = [], []
        for text, (enc, bits) in zip(texts, self._scored(texts, self.scorer.end_with_eos)):
            words = self.scorer.encoder.oov_words([text]) if self.unk in enc.ids else []
            oov += words
            out.append(math.nan if words else reduce(bits, reduction))
        warn_oov(oov, "sentences holding them score NaN")
        return out

    def continuation_surprisal(self, prefixes, continuations, reduction: str = "sum") -> list[float]:
        """-log2 p(continuation | prefix), summed or averaged over the continuation's tokens, as the probes
        score a prefix pair (lm/probes/encoding.py)."""
        prefixes, continuations = _texts(prefixes), _texts(continuations)
        reduce(np.zeros(0), reduction)
        if not all(c.strip() for c in continuations):
            raise ValueError("continuations must be non-empty text")
        encoded = self.scorer.encode_continuations(prefixes, continuations)
        lps = self.scorer.engine.token_scores([Request(e.context, e.sides[0]) for e in encoded])
        out = [math.nan if e.oov else reduce(-lp / LN2, reduction) for e, lp in zip(encoded, lps)]
        warn_oov(
            self.scorer.encoder.oov_words([*prefixes, *continuations]),
            "a continuation holding one scores NaN; in a prefix it is read as <unk>",
        )
        return out
