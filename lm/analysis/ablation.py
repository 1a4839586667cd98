"""Unit ablation (Lakretz et al. 2019): remove one unit's contribution (its h_t, zeroed at every step in the
explicit cell, so it reaches neither the next step, the next layer nor the decoder) and measure the drop in
agreement accuracy. Lakretz et al. found two "number units" whose ablation alone hurt long-range agreement.

Many units run at once: the items are repeated once per unit, each copy with its own unit zeroed (a (L, B, H)
mask), so one batched pass of the explicit cell scores a whole group of ablations; and the layers below the
ablated unit's run once, unablated, for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from lm.analysis.agreement import batch_margins, score_batch
from lm.analysis.items import Item
from lm.console import watched
from lm.model.cells import ExplicitRNN

Unit = tuple[int, int]  # (layer, unit)


def all_units(model, layers: Sequence[int] | None = None) -> list[Unit]:
    layers = range(model.num_layers) if layers is None else layers
    return [(layer, u) for layer in layers for u in range(model.hidden_size)]


def ablation_mask(model, units: Sequence[Unit], rows_per_copy: int) -> torch.Tensor:
    """(L, K * rows_per_copy, H) of ones, copy k with units[k] zeroed; a unit of None ablates nothing."""
    mask = torch.ones(model.num_layers, len(units) * rows_per_copy, model.hidden_size)
    for k, unit in enumerate(units):
        if unit is not None:
            layer, u = unit
            mask[layer, k * rows_per_copy : (k + 1) * rows_per_copy, u] = 0.0
    return mask


def layer_inputs(model, tokens: torch.Tensor) -> list[torch.Tensor]:
    """The input of every layer without ablation, [(B, T, E), (B, T, H), ...], and last the top layer's
    output: ablating a unit of layer l changes nothing below l, so those layers run once for all units."""
    x = model.drop_in(model.embedding(tokens))  # (B, T, E)
    rep = ExplicitRNN(model.rnn)(x, record=True)
    return [x, *rep.trace["h"]]  # eval mode: no dropout between layers


def from_layer(model, x: torch.Tensor, layer: int, mask: torch.Tensor | None):
    """Features (B, T, D) from layer `layer` up, x its input; a Features function that ignores its tokens."""

    def features(_tokens):
        out = x if layer == model.num_layers else ExplicitRNN(model.rnn)(x, None, mask, start_layer=layer).out
        out = model.drop(out)
        return model.projection(out) if model.projection is not None else out

    return features


@torch.no_grad()
def ablated_margins(
    model, items: Sequence[Item], units: Sequence[Unit | None], max_rows: int = 4096, chunk: int = 256
) -> np.ndarray:
    """margin[k, n] = log p(good) - log p(bad) of item n with units[k] removed (None: nothing removed), (K, N);
    the item is right when its margin is > 0."""
    if model.training:
        raise ValueError("ablation replays the model in eval mode: call model.eval() first")
    out = np.zeros((len(units), len(items)))
    for start in tqdm(
        range(0, len(items), chunk),
        desc=f"ablating {len(units)} units",
        unit=" chunks",
        leave=False,
        disable=not watched(),
    ):
        part = items[start : start + chunk]
        cols = slice(start, start + len(part))
        batch = score_batch(part)
        rows = batch.tokens.shape[0]
        inputs = layer_inputs(model, batch.tokens)
        base = batch_margins(model, from_layer(model, inputs[-1], model.num_layers, None), batch).numpy()
        out[[k for k, unit in enumerate(units) if unit is None], cols] = base
        for layer in range(model.num_layers):
            ks = [k for k, unit in enumerate(units) if unit is not None and unit[0] == layer]
            group = max(1, max_rows // rows)
            for g in range(0, len(ks), group):
                some = ks[g : g + group]
                mask = ablation_mask(model, [units[k] for k in some], rows)
                x = inputs[layer].repeat(len(some), 1, 1)
                m = batch_margins(model, from_layer(model, x, layer, mask), batch.repeat(len(some)))
                out[some, cols] = m.numpy().reshape(len(some), len(part))
    return out


def rank_units(model, items: Sequence[Item], units: Sequence[Unit] | None = None, **kw) -> tuple[dict, list[dict]]:
    """Accuracy without ablation, and one row per unit sorted by the drop in accuracy (largest first), on all
    items and on those with attractors (intervening nouns of the other number). Ties (common near ceiling)
    break on the mean drop of the margin log p(good) - log p(bad), which moves before accuracy does."""
    units = list(units) if units is not None else all_units(model)
    margins = ablated_margins(model, items, [None, *units], **kw)
    correct = margins > 0
    attr = np.array([(it.meta.get("n_attractors") or 0) > 0 for it in items])
    on_attr = lambda c: float(c[attr].mean()) if attr.any() else float("nan")  # noqa: E731
    base = {
        "acc": float(correct[0].mean()),
        "n": len(items),
        "acc_attractors": on_attr(correct[0]),
        "n_attractors": int(attr.sum()),
        "margin": float(margins[0].mean()),
    }
    rows = []
    for k, (layer, u) in enumerate(units, start=1):
        acc, acc_a = float(correct[k].mean()), on_attr(correct[k])
        rows.append(
            {
                "layer": layer,
                "unit": u,
                "acc": acc,
                "drop": base["acc"] - acc,
                "acc_attractors": acc_a,
                "drop_attractors": base["acc_attractors"] - acc_a,
                "margin_drop": float((margins[0] - margins[k]).mean()),
            }
        )
    rows.sort(key=lambda r: (-r["drop"], -np.nan_to_num(r["drop_attractors"]), -r["margin_drop"]))
    for rank, r in enumerate(rows, start=1):
        r["rank"] = rank
    return base, rows


def few_units_verdict(base: dict, rows: Sequence[dict], threshold: float = 0.05, few: int = 3) -> str:
    """Do a few units carry number? Counts units whose ablation costs at least `threshold` accuracy."""
    big = [r for r in rows if r["drop"] >= threshold or np.nan_to_num(r["drop_attractors"]) >= threshold]
    top = ", ".join(
        f"L{r['layer']}u{r['unit']} ({r['drop']:+.3f}, attractors {r['drop_attractors']:+.3f}, "
        f"margin {r['margin_drop']:+.3f})"
        for r in rows[: min(5, len(rows))]
    )
    head = (
        f"baseline accuracy {base['acc']:.3f} on {base['n']} items ({base['acc_attractors']:.3f} on "
        f"{base['n_attractors']} with attractors); largest drops: {top}"
    )
    if not big:
        return head + (
            f"\nno single unit costs >= {threshold:.2f} accuracy: agreement does not hinge on one unit "
            "here (number is spread over, or duplicated in, many units), unlike the two number units "
            "of Lakretz et al.; margin_drop ranks the units it leans on most"
        )
    names = ", ".join(f"L{r['layer']}u{r['unit']}" for r in big)
    if len(big) <= few:
        return (
            head + f"\n{len(big)} unit(s) cost >= {threshold:.2f} accuracy each ({names}): a few units carry "
            "number, as Lakretz et al. found two"
        )
    return head + f"\n{len(big)} units cost >= {threshold:.2f} accuracy each: number is not concentrated in a few"
