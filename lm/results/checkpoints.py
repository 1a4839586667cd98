"""Checkpoints to compare, loaded with the names they go by in tables, plots and W&B (lm/results/labels.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from lm.errors import UserError
from lm.model import checkpoint
from lm.results.labels import run_info, run_labels


@dataclass
class Labelled:
    label: str
    path: Path
    model: torch.nn.Module
    tokenizer: object
    config: dict


def expand_sweeps(specs: Sequence[str]) -> list[str]:
    """A sweep folder (outputs/<name>/multirun_<time>) stands for every run in it, in job order."""
    out = []
    for spec in specs:
        p = Path(spec).expanduser()
        runs = (
            []
            if not p.is_dir() or (p / checkpoint.CKPT_DIR).is_dir() or any(p.glob("*.ckpt"))
            else [d for d in p.iterdir() if d.is_dir() and (d / checkpoint.CKPT_DIR).is_dir()]
        )
        out += [
            str(d)
            for d in sorted(runs, key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
        ] or [spec]
    return out


def load_labelled(specs: list[str], labels: list[str] | None = None, device="cpu") -> list[Labelled]:
    """`specs`: checkpoint files, run directories or sweep folders; `labels`: names given on the command line,
    one per checkpoint; default: their training runs'."""
    if not specs:
        raise UserError("ckpt is empty: give ckpt=PATH or ckpt=[PATH1,PATH2]")
    loaded = [checkpoint.load(spec, map_location=device) for spec in expand_sweeps(specs)]
    names = list(labels) if labels else run_labels([run_info(x.path, x.config) for x in loaded])
    if len(names) != len(loaded) or len(set(names)) != len(names):
        raise UserError(f"labels must give {len(loaded)} distinct names, one per checkpoint; got {names}")
    return [Labelled(n, x.path, x.model, x.tokenizer, x.config) for n, x in zip(names, loaded)]
