"""Diagnostic classifiers (Giulianelli et al. 2018): can subject number / gender be read from h_t and C_t at each
position between the subject and the verb or pronoun?

For each (feature h|c, layer, position) a logistic regression is trained on the states of some items and scored
on held-apart items (never the same sentence in both). Positions count words after the controller (0 = the
subject itself), plus "pre" = the word right before the target, whose state predicts it.

A control gives every item a random label (balanced within each true class, so independent of it) and fits and
scores the same probe on those: it must stay at chance (within about 1/sqrt(n_test)), or the probe finds
structure that is not the label, e.g. items shared between the train and test sides.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lm.analysis.gates import traces
from lm.analysis.items import Item

LABELS = {"number": "number", "gender": "gender"}  # task -> the item meta field holding its label
PRE = "pre"  # the position right before the target


@dataclass
class Probe:
    """Multinomial logistic regression on standardized features."""

    linear: nn.Linear
    mean: torch.Tensor  # (D,)
    std: torch.Tensor  # (D,)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x - self.mean) / self.std).argmax(-1)


@contextmanager
def one_thread() -> Iterator[None]:
    """Small full-batch fits run 10-100x faster on one thread than on a pool that other work keeps busy."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def fit_probe(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-2, max_iter: int = 50, seed: int = 0) -> Probe:
    """x (N, D) float, y (N,) int class ids -> Probe. Loss: mean cross-entropy + l2 * ||W||^2, full-batch LBFGS."""
    x = x.double()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)  # dead units: constant, std 0
    z = (x - mean) / std
    torch.manual_seed(seed)
    linear = nn.Linear(x.shape[1], int(y.max()) + 1 if len(y) else 2).double()
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(z), y) + l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad(), one_thread():
        opt.step(closure)
    return Probe(linear, mean, std)


def probe_accuracy(x_train, y_train, x_test, y_test, l2: float = 1e-2) -> float:
    probe = fit_probe(x_train, y_train, l2)
    return float((probe.predict(x_test.double()) == y_test).double().mean())


def split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Item indices (train, test), disjoint."""
    order = np.random.default_rng(seed).permutation(n)
    k = max(1, int(round(n * test_fraction)))
    return np.sort(order[k:]), np.sort(order[:k])


def encode_labels(items: Sequence[Item], task: str) -> tuple[np.ndarray, list[str]]:
    values = [str(it.meta.get(LABELS[task])) for it in items]
    classes = sorted(set(values))
    return np.array([classes.index(v) for v in values]), classes


def collect_states(model, items: Sequence[Item], features: Sequence[str], chunk: int = 128) -> dict[str, list]:
    """feature -> one array per item, (L, n_words, H): the state after each word before the target."""
    out = {f: [] for f in features}
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        trace, _ = traces(model, [it.ids for it in part])
        for f in features:
            for b, it in enumerate(part):
                out[f].append(trace[f][:, b, list(it.words)].numpy())  # (L, n_words, H)
    return out


def control_labels(labels: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """Random labels for `rows`, balanced within each true class, so that they carry no information about the
    true label (a plain permutation agrees with it a little by chance, and a probe on a strong signal then
    reads that little, away from chance)."""
    rng, out = np.random.default_rng(seed), labels.copy()
    n_classes = int(labels.max()) + 1 if len(labels) else 2
    for c in range(n_classes):
        group = rows[labels[rows] == c]
        out[group] = rng.permutation(np.arange(len(group)) % n_classes)
    return out


def position_rows(items: Sequence[Item], position) -> np.ndarray:
    """Word index of `position` in each item (-1 where the item has no such position)."""
    if position == PRE:
        return np.array([it.target - 1 for it in items])
    return np.array([it.controller + position if it.controller + position < it.target else -1 for it in items])


def probe_table(
    states: dict[str, list],
    labels: np.ndarray,
    items: Sequence[Item],
    max_offset: int = 12,
    min_items: int = 40,
    test_fraction: float = 0.3,
    l2: float = 1e-2,
    seed: int = 0,
) -> list[dict]:
    """Accuracy per (feature, layer, position) on held-apart items, with the chance rate (the majority class of
    the test items) and the shuffled-label control; positions with fewer than min_items items are left out."""
    train, test = split(len(items), test_fraction, seed)
    is_test = np.zeros(len(items), dtype=bool)
    is_test[test] = True
    rows = []
    for k, position in enumerate([*range(max_offset + 1), PRE]):
        shuffled = control_labels(labels, np.arange(len(labels)), seed + 1 + k)  # a fresh draw per position
        word = position_rows(items, position)
        ok = word >= 0
        tr, te = np.flatnonzero(ok & ~is_test), np.flatnonzero(ok & is_test)
        if len(tr) + len(te) < min_items or len(te) == 0 or len(np.unique(labels[tr])) < 2:
            continue
        y_tr, y_te = torch.as_tensor(labels[tr]), torch.as_tensor(labels[te])
        chance = float(np.bincount(labels[te]).max() / len(te))
        for feature, per_item in states.items():
            for layer in range(per_item[0].shape[0]):
                x = torch.as_tensor(np.stack([per_item[i][layer, word[i]] for i in np.concatenate([tr, te])]))
                x_tr, x_te = x[: len(tr)], x[len(tr) :]
                rows.append(
                    {
                        "feature": feature,
                        "layer": layer,
                        "position": str(position),
                        "n_train": len(tr),
                        "n_test": len(te),
                        "acc": probe_accuracy(x_tr, y_tr, x_te, y_te, l2),
                        "shuffled_acc": probe_accuracy(
                            x_tr, torch.as_tensor(shuffled[tr]), x_te, torch.as_tensor(shuffled[te]), l2
                        ),
                        "chance": chance,
                    }
                )
    return rows


def run_probes(model, items_by_task: dict[str, Sequence[Item]], features: Sequence[str], **kw) -> list[dict]:
    """probe_table for each task ("number" on agreement items, "gender" on gender items)."""
    rows = []
    for task, items in items_by_task.items():
        if not items:
            continue
        labels, classes = encode_labels(items, task)
        if len(classes) < 2:
            continue
        states = collect_states(model, items, features)
        rows += [{"task": task, **r} for r in probe_table(states, labels, items, **kw)]
    return rows
