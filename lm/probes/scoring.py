"""Scores of sentences, continuations and minimal pairs: the API the probes and scripts use.

    scorer = Scorer(model, tokenizer)                  # precision "auto": bf16 matmuls where the CPU has them
    scorer.sentence_logprobs(["the dogs run ."])       # log p(sentence <eos> | <eos>), natural log
    scorer.continuation_logprobs(["the dogs"], ["run"])  # log p(run | <eos> the dogs)
    scorer.score(pairs)                                # Score(good, bad, correct, oov) per Pair

Every item starts from a fresh state primed with <eos>; a word of several tokens sums their log-probs; a pair is
right when its good side scores strictly higher than every bad side. How the work is batched: lm/probes/engine.py.
A word a word-level vocabulary lacks is read as <unk>: `score` leaves such a pair unscored, the two methods above
score it and raise an OOVWarning naming the words. Surprisal in bits, per token and per word, with those words
flagged: lm/probes/surprisal.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from lm.model.rnnlm import RNNLM
from lm.probes.encoding import Encoded, PairEncoder, warn_oov
from lm.probes.engine import LogProbEngine, Request
from lm.probes.records import Pair


def pair_correct(good: float, bad: list[float] | tuple[float, ...]) -> bool:
    """Right when the good side scores strictly higher than every bad side (a tie is wrong)."""
    if not len(bad):
        raise ValueError("bad must hold at least one score")
    return all(good > b for b in bad)


@dataclass(frozen=True)
class Score:
    good: float
    bad: tuple[float, ...]
    correct: bool | None  # None: not scored, a critical word is out of vocabulary
    oov: tuple[str, ...] = ()

    @property
    def margin(self) -> float | None:
        return None if self.correct is None else self.good - max(self.bad)


class Scorer:
    """Whole sentences, continuations and minimal pairs under one model and tokenizer.

    Whole-sentence scores include the closing <eos> when `end_with_eos` (a corpus line ends with one). For a
    sentence pair, Score.good / .bad leave out the tokens both sides share at the start (equal on both)."""

    def __init__(
        self,
        model: RNNLM,
        tokenizer,
        precision: str = "auto",
        max_tokens: int = 65536,
        end_with_eos: bool = True,
        progress: bool = False,
    ):
        self.encoder = PairEncoder(tokenizer, end_with_eos)
        self.engine = LogProbEngine(model, precision, max_tokens, progress)
        self.eos, self.end_with_eos = self.encoder.eos, end_with_eos

    @property
    def precision(self) -> str:
        return self.engine.precision

    def sentence_logprobs(self, sentences: list[str]) -> list[float]:
        tail = (self.eos,) if self.end_with_eos else ()
        ids = self.encoder.ids(list(sentences))
        warn_oov(
            self.encoder.oov_words(s for s, i in zip(sentences, ids) if self.encoder.unk in i),
            "each is scored as <unk>",
        )
        reqs = [Request((self.eos,), x + tail) for x in ids]
        return self.engine(reqs).tolist()

    def continuation_logprobs(self, prefixes: list[str], continuations: list[str]) -> list[float]:
        """log p(continuation | prefix) per item, the two joined by one space (see lm.probes.encoding)."""
        encoded = self.encode_continuations(prefixes, continuations)
        warn_oov(self.encoder.oov_words([*prefixes, *continuations]), "each is scored or read as <unk>")
        return self.engine([Request(e.context, e.sides[0]) for e in encoded]).tolist()

    def encode_continuations(self, prefixes: list[str], continuations: list[str]) -> list[Encoded]:
        """Context and continuation ids of each item, as a prefix pair's are; Encoded.oov: the continuation's
        out-of-vocabulary words."""
        if len(prefixes) != len(continuations):
            raise ValueError(f"prefixes and continuations differ in length ({len(prefixes)} vs {len(continuations)})")
        return self.encoder.encode([Pair(c.strip(), (c.strip(),), p.strip()) for p, c in zip(prefixes, continuations)])

    def score(self, pairs) -> list[Score]:
        """One Score per Pair; pairs with an out-of-vocabulary critical word are not run."""
        encoded = self.encoder.encode(list(pairs))
        reqs, spans = [], []
        for e in encoded:
            start = len(reqs)
            if not e.oov:
                reqs += [Request(e.context, side) for side in e.sides]
            spans.append((start, len(reqs)))
        lp = self.engine(reqs)
        out = []
        for e, (a, b) in zip(encoded, spans):
            if e.oov:
                out.append(Score(float("nan"), (float("nan"),) * (len(e.sides) - 1), None, e.oov))
            else:
                good, bad = float(lp[a]), tuple(float(x) for x in lp[a + 1 : b])
                out.append(Score(good, bad, pair_correct(good, bad)))
        return out
