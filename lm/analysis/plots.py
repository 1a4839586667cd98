"""PNG figures of the analyses; each function takes the rows the analysis wrote to CSV and a path, and draws with
the shared set-up of lm/results/plots.py (cropped to what is drawn)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lm.results.plots import accuracy_axes, accuracy_plot, band, figure, save

TITLES = {
    "f": "forget f_t",
    "i": "input i_t",
    "c_tilde": "candidate C~_t",
    "c": "cell C_t",
    "o": "output o_t",
    "h": "hidden h_t",
    "r": "reset r_t",
    "z": "update z_t",
    "n": "new n_t",
}


def gate_heatmap(trace: dict[str, np.ndarray], tokens: Sequence[str], path: Path, max_units: int = 64) -> Path:
    """One panel per (state, layer): units (rows) x tokens (columns); trace name -> (L, T, H). With more than
    max_units units, shows those whose forget gate (else h) varies most over the sentence."""
    names = list(trace)
    L, T, H = trace[names[0]].shape
    key = "f" if "f" in trace else "h"
    fig, axes = figure((max(4, 0.45 * T) * L, 2.2 * len(names)), len(names), L)
    for layer in range(L):
        units = np.argsort(-trace[key][layer].std(0))[:max_units] if H > max_units else np.arange(H)
        units = np.sort(units)
        for r, name in enumerate(names):
            ax = axes[r, layer]
            x = trace[name][layer][:, units].T  # (units, T)
            lo, hi = (0, 1) if name in ("f", "i", "o", "r", "z") else (-1, 1) if name != "c" else (None, None)
            im = ax.imshow(
                x, aspect="auto", cmap="viridis" if lo == 0 else "RdBu_r", vmin=lo, vmax=hi, interpolation="nearest"
            )
            ax.set_title(f"layer {layer}: {TITLES.get(name, name)}", fontsize=9)
            ax.set_xticks(range(T))
            ax.set_xticklabels(tokens, rotation=90, fontsize=7)
            ax.set_ylabel("unit" if H <= max_units else f"top {len(units)} units", fontsize=8)
            fig.colorbar(im, ax=ax, fraction=0.02)
    return save(fig, path, crop=True)


def subject_change_plot(summary: Sequence[dict], path: Path, units: Sequence[dict] = ()) -> Path:
    """Top: mean f_t and i_t (over units) at the previous subject, the new one and elsewhere, per layer.
    Bottom (with `units`): the units whose forget gate drops most at the change, and their input gate."""
    layers = sorted({r["layer"] for r in summary})
    groups = ["previous_subject", "change", "elsewhere"]
    n_rows = 2 if units else 1
    fig, axes = figure((4.5 * len(layers), 3.2 * n_rows), n_rows, len(layers))
    for ax, layer in zip(axes[0], layers):
        by = {r["position"]: r for r in summary if r["layer"] == layer}
        x = np.arange(len(groups))
        for k, gate in enumerate(("f", "i")):
            vals = [by[g][f"{gate}_mean"] if g in by else np.nan for g in groups]
            errs = [by[g][f"{gate}_sem"] if g in by else 0 for g in groups]
            ax.bar(x + (k - 0.5) * 0.38, vals, 0.38, yerr=errs, label=f"mean {gate}_t")
        ax.set_xticks(x)
        ax.set_xticklabels(["previous\nsubject", "new subject\n(change)", "elsewhere"], fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"layer {layer}: gates at the subject change", fontsize=9)
        ax.legend(fontsize=7)
    for ax, layer in zip(axes[1] if units else (), layers):
        us = [u for u in units if u["layer"] == layer]
        y = np.arange(len(us))
        ax.barh(y - 0.2, [u["f_change_minus_elsewhere"] for u in us], 0.4, label="f_t: change - elsewhere")
        ax.barh(y + 0.2, [u["i_change_minus_elsewhere"] for u in us], 0.4, label="i_t: change - elsewhere")
        ax.set_yticks(y)
        ax.set_yticklabels([f"unit {u['unit']}" for u in us], fontsize=7)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_title(f"layer {layer}: units that forget most at the change", fontsize=9)
        ax.legend(fontsize=7)
    return save(fig, path, crop=True)


def _positions(rows: Sequence[dict]) -> list[str]:
    pos = sorted({r["position"] for r in rows if r["position"] != "pre"}, key=int)
    return pos + (["pre"] if any(r["position"] == "pre" for r in rows) else [])


def probe_plot(rows: Sequence[dict], path: Path, title: str = "") -> Path:
    """Accuracy against position after the controller, one panel per task, one line per (feature, layer)."""
    tasks = sorted({r["task"] for r in rows})
    fig, axes = figure((5.5 * max(1, len(tasks)), 3.6), ncols=max(1, len(tasks)))
    for ax, task in zip(axes[0], tasks):
        sub = [r for r in rows if r["task"] == task]
        pos = _positions(sub)
        x = {p: i for i, p in enumerate(pos)}
        for feature, layer in sorted({(r["feature"], r["layer"]) for r in sub}):
            rs = [r for r in sub if (r["feature"], r["layer"]) == (feature, layer)]
            ax.plot(
                [x[r["position"]] for r in rs],
                [r["acc"] for r in rs],
                marker="o",
                ms=3,
                ls="-" if feature == "h" else "--",
                label=f"{feature}, layer {layer}",
            )
        chance = {r["position"]: r["chance"] for r in sub}
        shuffled = {}
        for r in sub:
            shuffled.setdefault(r["position"], []).append(r["shuffled_acc"])
        ax.plot(range(len(pos)), [chance[p] for p in pos], color="gray", ls=":", label="chance (majority)")
        ax.plot(
            range(len(pos)),
            [np.mean(shuffled[p]) for p in pos],
            color="black",
            lw=0.8,
            ls="-.",
            label="shuffled labels (mean)",
        )
        ax.set_xticks(range(len(pos)))
        ax.set_xticklabels([p if p != "pre" else "before\ntarget" for p in pos], fontsize=7)
        accuracy_axes(ax, "words after the controller", f"{title} subject {task}".strip(), "held-out accuracy", 0.3)
        ax.legend(fontsize=6)
    return save(fig, path, crop=True)


def ablation_plot(base: dict, rows: Sequence[dict], path: Path, top_k: int = 20, title: str = "") -> Path:
    top = list(rows[:top_k])
    fig, axes = figure((max(5, 0.35 * len(top) + 2), 3.4))
    ax = axes[0, 0]
    x = np.arange(len(top))
    ax.bar(x - 0.2, [r["drop"] for r in top], 0.4, label=f"all items (base {base['acc']:.3f})")
    ax.bar(
        x + 0.2, [r["drop_attractors"] for r in top], 0.4, label=f"with attractors (base {base['acc_attractors']:.3f})"
    )
    ax.set_xticks(x)
    ax.set_xticklabels([f"L{r['layer']}u{r['unit']}" for r in top], rotation=90, fontsize=7)
    ax.set_ylabel("drop in agreement accuracy")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title(f"{title} units ranked by ablation".strip(), fontsize=9)
    ax.legend(fontsize=7)
    return save(fig, path, crop=True)


def agreement_plot(tables: dict[str, Sequence[dict]], path: Path) -> Path:
    """Accuracy against distance (bin midpoints) with 95% intervals, one line per model; chance is 1/2."""
    lines = {
        label: [((r["lo"] + r["hi"]) / 2, r["acc"], r["ci_lo"], r["ci_hi"]) for r in rows]
        for label, rows in tables.items()
    }
    title = "subject-verb agreement against distance"
    return accuracy_plot(lines, path, "distance subject -> verb (words)", title, 0.5, "agreement accuracy")


def gradient_plot(tables: dict[str, Sequence[dict]], path: Path, all_words: dict | None = None) -> Path:
    """Geometric mean (and quartiles) of the gradient norm against distance, log scale, one line per model."""
    fig, axes = figure((6, 3.8))
    ax = axes[0, 0]
    for label, rows in tables.items():
        d = [r["distance"] for r in rows]
        quartiles = [r["q25"] for r in rows], [r["q75"] for r in rows]
        line = band(ax, d, [r["geo_mean"] for r in rows], *quartiles, marker="o", ms=3, label=f"{label}: subject")
        if all_words and label in all_words:
            w = all_words[label]
            ax.plot(
                [r["distance"] for r in w],
                [r["geo_mean"] for r in w],
                ls="--",
                lw=0.9,
                color=line.get_color(),
                label=f"{label}: any word",
            )
    ax.set_yscale("log")
    ax.set_xlabel("distance to the agreeing verb (words)")
    ax.set_ylabel("|| d log p(verb) / d x ||")
    ax.set_title("gradient through time", fontsize=9)
    ax.legend(fontsize=7)
    return save(fig, path, crop=True)
