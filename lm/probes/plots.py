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


def plot_curves(
    curves: dict[str, list[dict]], path: str | Path, title: str = "", sensitivity: dict[str, list[dict]] | None = None
) -> Path:
    """One PNG of probe curves (rows of probe_curve.csv, lm/training/callbacks/probes.py) from one or more runs: a panel
    per suite, accuracy against tokens seen; solid overall, dashed on the test split's longer distances, with
    the 95% Wilson band of the overall line. With `sensitivity` (rows of sensitivity_curve.csv by run), a second
    row of panels: the AUC of the suites with a contrast, solid overall, dashed on items with no attractor (no
    noun of the other number, or gender, between subject and target)."""
    suites = sorted({r["suite"] for rows in curves.values() for r in rows})
    contrasted = sorted({r["suite"] for rows in (sensitivity or {}).values() for r in rows})
    ncols = max(1, len(suites), len(contrasted))
    fig, axes = figure((4.2 * ncols, 3.6 * (1 + bool(contrasted))), nrows=1 + bool(contrasted), ncols=ncols)
    _curve_panels(axes[0], suites, curves, "acc", (("all", "all"), ("range", "test")), "test range")
    if contrasted:
        _curve_panels(axes[1], contrasted, sensitivity, "auc", (("all", "all"), ("*", "0")), "no attractor")
        for ax in axes[1, : len(contrasted)]:
            ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    for ax in [*axes[0, len(suites) :], *axes[1:, len(contrasted) :].ravel()]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)


def _curve_panels(axes, suites: list[str], curves: dict[str, list[dict]], measure: str, lines, second: str) -> None:
    """A panel per suite: `measure` against tokens seen, a line per (field, value) of `lines` ("*": any field
    but "all") and run; the first line solid with its band, the second dashed and called `second`."""
    for ax, suite in zip(axes, suites):
        for i, (label, rows) in enumerate(curves.items()):
            for k, (field, value) in enumerate(lines):
                pts = sorted(
                    (float(r["tokens_seen"]), r)
                    for r in rows
                    if r["suite"] == suite
                    and (r["field"] == field or (field == "*" and r["field"] != "all"))
                    and str(r["value"]) == value
                )
                x = [t / 1e6 for t, _ in pts]
                y = [float(r[measure]) for _, r in pts]
                if pts and k == 0:
                    lo, hi = [float(r["lo"]) for _, r in pts], [float(r["hi"]) for _, r in pts]
                    band(ax, x, y, lo, hi, color=f"C{i}", linewidth=1.4, label=label)
                elif pts:
                    ax.plot(x, y, "--", color=f"C{i}", linewidth=1.4, label=f"{label}, {second}")
        ylabel = "accuracy" if measure == "acc" else "sensitivity (AUC)"
        accuracy_axes(ax, "tokens seen (millions)", suite, ylabel=ylabel)
