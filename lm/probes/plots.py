"""The probes' plots: accuracy against a numeric condition (distance, number of attractors), one line per
checkpoint, and probe curves against tokens seen; drawn with the shared set-up of lm/results/plots.py."""

from __future__ import annotations

from pathlib import Path

from lm.probes.report import accuracy_by
from lm.results.plots import accuracy_axes, accuracy_plot, band, figure, save

PLOT_FIELDS = ("distance", "n_attractors", "n_distractors", "filler")
LABELS = {
    "distance": "distance (words from controller to target)",
    "n_attractors": "number of attractors",
    "n_distractors": "number of other-gender nouns",
    "filler": "filler (words)",
}


def numeric_fields(items: list[dict]) -> list[str]:
    """The PLOT_FIELDS whose values are numbers, with at least two of them."""
    out = []
    for f in PLOT_FIELDS:
        values = {it.get(f) for it in items}
        if len(values) >= 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            out.append(f)
    return out


def chance(items: list[dict]) -> float | None:
    n = [it["n_sides"] for it in items if it.get("n_sides")]
    return sum(1 / k for k in n) / len(n) if n else None


def plot_accuracy(
    items_by_ckpt: dict[str, list[dict]], suite: str, field: str, path: str | Path, min_items: int = 1
) -> Path:
    """One PNG: accuracy of each checkpoint against `field`, points with at least `min_items` scored items; the
    chance level of the first checkpoint with points."""
    lines, level = {}, None
    for label, items in items_by_ckpt.items():
        rows = [r for r in accuracy_by(items, field) if r["n"] >= min_items and r["value"] != "None"]
        lines[label] = [(float(r["value"]), r["acc"], r["lo"], r["hi"]) for r in rows]
        level = level if level is not None or not rows else chance(items)
    title = f"{suite}: accuracy by {field}"
    return accuracy_plot(lines, path, LABELS.get(field, field), title, level)


def plot_suites(items: dict[str, dict[str, list[dict]]], out_dir: str | Path) -> list[Path]:
    """items[suite][ckpt] -> scored items; one PNG per suite and numeric field, named <suite>_<field>.png."""
    paths = []
    for suite, by_ckpt in items.items():
        every = [it for its in by_ckpt.values() for it in its]
        for field in numeric_fields(every):
            paths.append(plot_accuracy(by_ckpt, suite, field, Path(out_dir) / f"{_safe(suite)}_{field}.png"))
    return paths


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def plot_curves(curves: dict[str, list[dict]], path: str | Path, title: str = "") -> Path:
    """One PNG of probe curves (rows of probe_curve.csv, lm/training/callbacks/probes.py) from one or more runs: a panel
    per suite, accuracy against tokens seen; solid overall, dashed on the test split's longer distances, with
    the 95% Wilson band of the overall line."""
    suites = sorted({r["suite"] for rows in curves.values() for r in rows})
    fig, axes = figure((4.2 * max(1, len(suites)), 3.6), ncols=max(1, len(suites)))
    for ax, suite in zip(axes[0], suites):
        for i, (label, rows) in enumerate(curves.items()):
            for field, value in (("all", "all"), ("range", "test")):
                pts = sorted(
                    (float(r["tokens_seen"]), r)
                    for r in rows
                    if r["suite"] == suite and r["field"] == field and str(r["value"]) == value
                )
                x = [t / 1e6 for t, _ in pts]
                acc = [float(r["acc"]) for _, r in pts]
                if pts and field == "all":
                    lo, hi = [float(r["lo"]) for _, r in pts], [float(r["hi"]) for _, r in pts]
                    band(ax, x, acc, lo, hi, color=f"C{i}", linewidth=1.4, label=label)
                elif pts:
                    ax.plot(x, acc, "--", color=f"C{i}", linewidth=1.4, label=f"{label}, test range")
        accuracy_axes(ax, "tokens seen (millions)", suite)
    axes[0, 0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)
