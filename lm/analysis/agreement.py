"""Agreement accuracy: log p(good target | context) > log p(bad target | context), from any feature function.

A feature function maps tokens (B, T) to the decoder's inputs (B, T, D): the fused kernel (`model.features`), or
the explicit cell with some units removed (lm.analysis.ablation). Only the positions that predict a scored token
are decoded, so a 10k-word vocabulary costs (items, V) and not (items, T, V): the probes' engine does that part
(lm.probes.engine.at_positions), with the model's own log p (adaptive softmax or fp32 cross-entropy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lm.analysis.items import Item
from lm.model.cells import explicit_features
from lm.probes.engine import Decoder, at_positions
from lm.results.stats import wilson_interval

Features = Callable[[torch.Tensor], torch.Tensor]  # tokens (B, T) -> (B, T, D)


def fused_features(model) -> Features:
    return lambda tokens: model.features(tokens)[0]


def explicit(model, unit_mask: torch.Tensor | None = None) -> Features:
    return lambda tokens: explicit_features(model, tokens, unit_mask=unit_mask).out


@dataclass
class ScoreBatch:
    """Rows to run and the positions to score. P scored positions; margin[item] = sum of sign * log p."""

    tokens: torch.Tensor  # (R, T) right-padded: a causal model's outputs before the padding are exact
    rows: torch.Tensor  # (P,) row of each scored position
    cols: torch.Tensor  # (P,) position whose output predicts the scored token
    targets: torch.Tensor  # (P,)
    item: torch.Tensor  # (P,) which item the position counts for
    sign: torch.Tensor  # (P,) +1 good side, -1 bad side
    n_items: int

    def repeat(self, k: int) -> "ScoreBatch":
        """k copies one after another (copy j holds rows j*R.. and items j*n..), e.g. one per ablated unit."""
        r, p = self.tokens.shape[0], self.rows.shape[0]
        offs = torch.arange(k).repeat_interleave(p)
        return ScoreBatch(
            self.tokens.repeat(k, 1),
            self.rows.repeat(k) + offs * r,
            self.cols.repeat(k),
            self.targets.repeat(k),
            self.item.repeat(k) + offs * self.n_items,
            self.sign.repeat(k),
            self.n_items * k,
        )


def pad(seqs: Sequence[Sequence[int]], value: int = 0) -> torch.Tensor:
    out = torch.full((len(seqs), max(len(s) for s in seqs)), value, dtype=torch.long)
    for r, s in enumerate(seqs):
        out[r, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def score_batch(items: Sequence[Item]) -> ScoreBatch:
    """One row per item when every good and bad side is one token (both read at the context's last output),
    else one row per side: context + continuation."""
    single = all(len(it.good) == 1 and len(it.bad) == 1 for it in items)
    seqs, rows, cols, targets, item, sign = [], [], [], [], [], []
    for n, it in enumerate(items):
        for side, s in ((it.good, 1.0), (it.bad, -1.0)):
            if not single or s > 0:
                seqs.append(it.ids + side[:-1])
            r = len(seqs) - 1
            for j, tok in enumerate(side):
                rows.append(r)
                cols.append(len(it.ids) - 1 + j)
                targets.append(tok)
                item.append(n)
                sign.append(s)
    t = lambda x, dt=torch.long: torch.tensor(x, dtype=dt)  # noqa: E731
    return ScoreBatch(
        pad(seqs, items[0].ids[0]), t(rows), t(cols), t(targets), t(item), t(sign, torch.float), len(items)
    )


def own_log_probs(model) -> Decoder:
    """The model's own log p(target), as its training loss has it (lm.model.rnnlm.RNNLM.target_log_probs)."""
    return lambda hidden, rows, targets: model.target_log_probs(hidden[rows], targets)


@torch.no_grad()
def batch_margins(model, features: Features, batch: ScoreBatch) -> torch.Tensor:
    """log p(good) - log p(bad) per item of the batch, (n_items,) float64."""
    feats = features(batch.tokens)  # (R, T, D)
    logp = at_positions(own_log_probs(model), feats, batch.rows, batch.cols, batch.targets)  # (P,)
    return torch.zeros(batch.n_items, dtype=torch.float64).index_add_(0, batch.item, (batch.sign * logp).double())


def margins(model, items: Sequence[Item], features: Features | None = None, chunk: int = 256) -> np.ndarray:
    """log p(good) - log p(bad) per item (items without a bad side must be left out), (N,)."""
    features = features or fused_features(model)
    out = [batch_margins(model, features, score_batch(items[i : i + chunk])) for i in range(0, len(items), chunk)]
    return torch.cat(out).numpy() if out else np.zeros(0)


def by_distance(distances: Sequence[int], correct: Sequence[bool], bin_width: int = 1) -> list[dict]:
    """Accuracy per distance bin: [{lo, hi, n, acc, ci_lo, ci_hi}], bins [lo, hi] of bin_width words."""
    d, c = np.asarray(distances), np.asarray(correct, dtype=bool)
    rows = []
    for lo in range(int(d.min()) if len(d) else 0, int(d.max()) + 1 if len(d) else 0, bin_width):
        hi = lo + bin_width - 1
        sel = (d >= lo) & (d <= hi)
        n, k = int(sel.sum()), int(c[sel].sum())
        if n:
            ci = wilson_interval(k, n)
            rows.append({"lo": lo, "hi": hi, "n": n, "acc": k / n, "ci_lo": ci[0], "ci_hi": ci[1]})
    return rows


def long_range_verdict(results: dict[str, dict], long_from: int) -> str:
    """One honest sentence per comparison of an LSTM with an RNN: accuracy at distance >= long_from."""
    acc = {}
    for label, r in results.items():
        d, c = np.asarray(r["distance"]), np.asarray(r["correct"], dtype=bool)
        sel = d >= long_from
        acc[label] = (float(c[sel].mean()) if sel.any() else math.nan, int(sel.sum()), r["cell"])
    lines = [f"{lab}: {a:.3f} on {n} items at distance >= {long_from}" for lab, (a, n, _) in acc.items()]
    lstms = [lab for lab, v in acc.items() if v[2] == "lstm"]
    rnns = [lab for lab, v in acc.items() if v[2] == "rnn"]
    for a in lstms:
        for b in rnns:
            (pa, na, _), (pb, nb, _) = acc[a], acc[b]
            lo_a, _ = wilson_interval(round(pa * na), na)
            _, hi_b = wilson_interval(round(pb * nb), nb)
            if lo_a > hi_b:
                lines.append(
                    f"{a} (LSTM) stays above {b} (RNN) at long distances: {pa:.3f} vs {pb:.3f} (95% intervals apart)"
                )
            else:
                lines.append(
                    f"{a} (LSTM) does NOT clearly beat {b} (RNN) at long distances here: {pa:.3f} vs "
                    f"{pb:.3f} (95% intervals overlap or reversed); see the table for the numbers"
                )
    return "\n".join(lines)
