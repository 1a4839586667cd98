"""Gradients through time: || d log p(agreeing verb | prefix) / d x_subject ||, x the subject's embedding, against
the distance between them. The lecture: error signals shrink (or grow) exponentially with the number of steps
they travel back, which is why a standard RNN fails on long dependencies and why the LSTM's additive cell
state C_t = f_t * C_{t-1} + i_t * C~_t helps.

Each item is its own row of a batch and the model is in eval mode (no dropout), so the gradient of the sum of the
rows' log-probabilities with respect to row b's embeddings is the gradient of row b's own log-probability: one
backward pass serves a whole batch. The same pass gives the norm at every earlier word too ("all words").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lm.analysis.agreement import pad
from lm.analysis.items import Item


def features_from_embeddings(model, emb: torch.Tensor) -> torch.Tensor:
    """RNNLM.features from the embedding output on: emb (B, T, E) -> (B, T, D); eval mode, fused kernel."""
    with torch.backends.cudnn.flags(enabled=False):  # cuDNN's RNN backward refuses eval mode
        out, _ = model.rnn(model.drop_in(emb))
    out = model.drop(out)
    return model.projection(out) if model.projection is not None else out


def item_gradients(model, items: Sequence[Item]) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """For items with a good target: (subject norms (N,), per item the norm at each word before the target
    (n_words,), log p(good) (N,))."""
    tokens = pad([it.ids + it.good[:-1] for it in items])  # (B, T)
    emb = model.embedding(tokens).detach().requires_grad_(True)  # (B, T, E)
    with torch.enable_grad():
        feats = features_from_embeddings(model, emb)
        rows, cols, targets, owner = [], [], [], []
        for b, it in enumerate(items):
            for j, tok in enumerate(it.good):
                rows.append(b)
                cols.append(len(it.ids) - 1 + j)
                targets.append(tok)
                owner.append(b)
        logp = model.target_log_probs(feats[rows, cols], torch.tensor(targets))  # (P,)
        per_item = torch.zeros(len(items), dtype=logp.dtype).index_add(0, torch.tensor(owner), logp)
        (grad,) = torch.autograd.grad(per_item.sum(), emb)
    norms = grad.norm(dim=-1)  # (B, T)
    subject = np.array([float(norms[b, it.words[it.controller]]) for b, it in enumerate(items)])
    words = [norms[b, list(it.words)].numpy() for b, it in enumerate(items)]
    return subject, words, per_item.detach().numpy()


def gradient_norms(model, items: Sequence[Item], chunk: int = 128) -> dict[str, np.ndarray]:
    """distance (N,), subject norm (N,), log p (N,); and over every word of every item: lag and norm."""
    model.eval()
    subj, lp, lags, word_norms = [], [], [], []
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        s, w, p = item_gradients(model, part)
        subj.append(s)
        lp.append(p)
        for it, norms in zip(part, w):
            lags.append(it.target - np.arange(len(norms)))
            word_norms.append(norms)
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0)  # noqa: E731
    return {
        "distance": np.array([it.distance for it in items]),
        "norm": cat(subj),
        "logp": cat(lp),
        "lag": cat(lags),
        "lag_norm": cat(word_norms),
    }


def by_distance(distances: np.ndarray, norms: np.ndarray) -> list[dict]:
    """Per distance: n, geometric mean, median and quartiles of the norm (norms span orders of magnitude)."""
    rows = []
    for d in np.unique(distances):
        x = norms[distances == d]
        logs = np.log10(np.maximum(x, 1e-30))
        rows.append(
            {
                "distance": int(d),
                "n": int(len(x)),
                "geo_mean": float(10 ** logs.mean()),
                "median": float(np.median(x)),
                "q25": float(np.quantile(x, 0.25)),
                "q75": float(np.quantile(x, 0.75)),
            }
        )
    return rows


def decay_rate(rows: Sequence[dict], min_n: int = 5) -> float:
    """Slope of log10(geometric mean norm) against distance (per word), least squares over distances with at
    least min_n items: about -0.1 means the signal shrinks tenfold every 10 words."""
    pts = [(r["distance"], np.log10(max(r["geo_mean"], 1e-30))) for r in rows if r["n"] >= min_n]
    if len(pts) < 2:
        return float("nan")
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])
