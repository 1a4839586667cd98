"""Names of checkpoints in tables, plots and W&B: their training runs, not the endings of their paths.

    outputs/ptb_medium/<time>/checkpoints/best.ckpt, outputs/ptb_large/<time>/...   ptb_medium, ptb_large
    outputs/rnn_vs_lstm/multirun_<time>/0/..., .../1/...      rnn_vs_lstm[model.cell=rnn], rnn_vs_lstm[model.cell=lstm]
    two runs of one name and the same overrides               ptb/<time>_<pid>, ptb/<time>_<pid>
    best.ckpt and last.ckpt of one run                        ptb/<time>_<pid>/best, ptb/<time>_<pid>/last

A run is named by its config's `name` (the checkpoint carries its resolved config), then by the command-line
overrides (Hydra's .hydra/overrides.yaml in the run directory) that differ between runs of that name, then by its
directory; checkpoints without a run name keep the shortest distinct endings of their paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lm.model.checkpoint import CKPT_DIR


@dataclass(frozen=True)
class RunInfo:
    path: Path  # the checkpoint file
    name: str | None = None  # the training config's `name`
    run_dir: Path | None = None
    overrides: tuple[str, ...] = ()


def path_labels(paths: list[Path]) -> list[str]:
    """Shortest path endings that tell the checkpoints apart: run/time/best rather than a full path."""
    parts = [[q for q in p.with_suffix("").parts if q not in (CKPT_DIR, "/")] for p in paths]
    for k in range(1, max(len(x) for x in parts) + 1):
        labels = ["/".join(x[-k:]) for x in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def run_info(path: Path, config: dict | None) -> RunInfo:
    """What names the run a checkpoint came from: config name, run directory, Hydra overrides."""
    config = config or {}
    run_dir = path.parent.parent if path.parent.name == CKPT_DIR else None
    if run_dir is None and (config.get("paths") or {}).get("run_dir"):
        run_dir = Path(config["paths"]["run_dir"])
    overrides: tuple[str, ...] = ()
    if run_dir is not None and (run_dir / ".hydra" / "overrides.yaml").is_file():
        try:
            found = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text(encoding="utf-8")) or []
            overrides = tuple(str(o) for o in found if not str(o).startswith("ckpt_path="))
        except (OSError, yaml.YAMLError):
            overrides = ()
    name = config.get("name")
    return RunInfo(path, str(name) if name else None, run_dir, overrides)


def run_labels(runs: list[RunInfo]) -> list[str]:
    """Distinct labels, each as short as telling the runs apart allows (see the module docstring)."""
    if not runs or not all(r.name for r in runs):
        return path_labels([r.path for r in runs]) if runs else []
    steps = [_with_overrides(runs), _with_run_dir, lambda r: f"{_with_run_dir(r)}/{r.path.stem}"]
    labels = [r.name for r in runs]
    for step in steps:
        clash = {x for x in labels if labels.count(x) > 1}
        if not clash:
            break
        labels = [step(r) if x in clash else x for r, x in zip(runs, labels)]
    return labels if len(set(labels)) == len(labels) else path_labels([r.path for r in runs])


def _with_overrides(runs: list[RunInfo]):
    shared: dict[str, set[str]] = {}
    for r in runs:
        shared[r.name] = shared[r.name] & set(r.overrides) if r.name in shared else set(r.overrides)

    def label(r: RunInfo) -> str:
        own = [o for o in r.overrides if o not in shared[r.name]]
        return f"{r.name}[{','.join(own)}]" if own else r.name

    return label


def _with_run_dir(r: RunInfo) -> str:
    if r.run_dir is None:
        return f"{r.name}/{r.path.stem}"
    parent = r.run_dir.parent.name
    return f"{r.name}/{parent}/{r.run_dir.name}" if parent.startswith("multirun") else f"{r.name}/{r.run_dir.name}"
