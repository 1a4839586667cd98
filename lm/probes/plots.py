"""Accuracy against a numeric condition (distance, number of attractors), one line per checkpoint, with the 95%
Wilson band and the chance level. Figures are drawn without pyplot (no global state, any backend)."""

from __future__ import annotations

from pathlib import Path

from lm.probes.report import accuracy_by

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
    """One PNG: accuracy of each checkpoint against `field`, points with at least `min_items` scored items."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=110)
    ax = fig.subplots()
    level = None
    for label, items in items_by_ckpt.items():
        rows = [r for r in accuracy_by(items, field) if r["n"] >= min_items and r["value"] != "None"]
        if not rows:
            continue
        x = [float(r["value"]) for r in rows]
        ax.plot(x, [r["acc"] for r in rows], marker="o", markersize=3, label=label)
        ax.fill_between(x, [r["lo"] for r in rows], [r["hi"] for r in rows], alpha=0.15)
        level = level if level is not None else chance(items)
    if level is not None:
        ax.axhline(level, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(LABELS.get(field, field))
    ax.set_ylabel("accuracy")
    ax.set_title(f"{suite}: accuracy by {field}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p)
    return p


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
    from matplotlib.figure import Figure

    suites = sorted({r["suite"] for rows in curves.values() for r in rows})
    fig = Figure(figsize=(4.2 * max(1, len(suites)), 3.6), dpi=110)
    axes = fig.subplots(1, max(1, len(suites)), squeeze=False)[0]
    for ax, suite in zip(axes, suites):
        for i, (label, rows) in enumerate(curves.items()):
            color = f"C{i}"
            for field, value, style in (("all", "all", "-"), ("range", "test", "--")):
                pts = sorted(
                    (float(r["tokens_seen"]), r)
                    for r in rows
                    if r["suite"] == suite and r["field"] == field and str(r["value"]) == value
                )
                if not pts:
                    continue
                x = [t / 1e6 for t, _ in pts]
                ax.plot(
                    x,
                    [float(r["acc"]) for _, r in pts],
                    style,
                    color=color,
                    linewidth=1.4,
                    label=label if field == "all" else f"{label}, test range",
                )
                if field == "all":
                    ax.fill_between(
                        x, [float(r["lo"]) for _, r in pts], [float(r["hi"]) for _, r in pts], color=color, alpha=0.12
                    )
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("tokens seen (millions)")
        ax.set_ylabel("accuracy")
        ax.set_title(suite)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p)
    return p
