"""One plotting set-up for the probes (lm/probes/plots.py) and the analyses (lm/analysis/plots.py): figures drawn
without pyplot (no global state, no backend to choose, safe inside training), saved as PNG, and the plot both
draw, accuracy against a number: one line per model, its 95% interval as a band, the chance level dashed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

DPI = 110
Point = tuple[float, float, float, float]  # (x, accuracy, interval low, interval high)


def figure(figsize: tuple[float, float] = (6.4, 4.0), nrows: int = 1, ncols: int = 1):
    """A matplotlib Figure and its axes, always a (nrows, ncols) array."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def save(fig, path: str | Path, crop: bool = False) -> Path:
    """The figure, laid out, as a PNG at `path` (its folder made); crop: trim the page to what is drawn."""
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=DPI, bbox_inches="tight" if crop else None)
    return p


def band(ax, x: Sequence[float], y: Sequence[float], lo: Sequence[float], hi: Sequence[float], **line):
    """A line and, in its colour, a band from lo to hi; `line`: matplotlib's plot() keywords. Returns the line."""
    (drawn,) = ax.plot(x, y, **line)
    ax.fill_between(x, lo, hi, color=drawn.get_color(), alpha=0.15)
    return drawn


def accuracy_axes(ax, xlabel: str, title: str, ylabel: str = "accuracy", bottom: float = 0.0) -> None:
    """Labels, a grid and the accuracy range (bottom .. just above 1) of a panel of accuracies."""
    ax.set_ylim(bottom, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def accuracy_plot(
    lines: Mapping[str, Sequence[Point]],
    path: str | Path,
    xlabel: str,
    title: str,
    chance: float | None = None,
    ylabel: str = "accuracy",
) -> Path:
    """One PNG: accuracy against x, a line per label (labels without points left out), chance dashed."""
    fig, axes = figure()
    ax = axes[0, 0]
    for label, points in lines.items():
        if points:
            x, acc, lo, hi = zip(*points)
            band(ax, x, acc, lo, hi, marker="o", markersize=3, label=label)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    accuracy_axes(ax, xlabel, title, ylabel)
    ax.legend(fontsize=8)
    return save(fig, path)
