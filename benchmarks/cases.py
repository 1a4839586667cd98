"""The cases benchmarks/run.py runs: what each trains (a named experiment, its data, its runs' precisions and
overrides, whether the plain loop runs beside it), where its data lies, and the Hydra config a run composes to.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from benchmarks import ROOT

ADAPTIVE = ["model.softmax=adaptive", "model.cutoffs=[2000,10000]"]


@dataclass
class Case:
    experiment: str
    data: str  # a key of the data folders (--ptb, --books33k)
    runs: dict[str, tuple[str, list[str]]]  # name -> (precision fp32|bf16, extra overrides)
    baseline: list[str] | None = field(default_factory=list)  # baseline_loop.py arguments; None: no baseline


CASES = {
    "ptb_medium": Case("ptb_medium", "ptb", {"fp32": ("fp32", []), "bf16": ("bf16", [])}, ["--tied"]),
    # WikiText-2's vocabulary and size (scripts/make_corpus.py): where the output layer is most of the work
    "wt2_adaptive": Case(
        "ptb_medium",
        "books33k",
        {"full fp32": ("fp32", []), "adaptive fp32": ("fp32", ADAPTIVE), "adaptive bf16": ("bf16", ADAPTIVE)},
        ["--tied"],
    ),
    "awd_lstm": Case("awd_lstm", "ptb", {"bf16": ("bf16", [])}, None),  # baseline_loop ties no projection
}
PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}


def data_dirs(args) -> dict[str, str]:
    """The data folder of each kind of case, made from --books-src by scripts/make_corpus.py when missing."""
    dirs = {"ptb": Path(args.ptb), "books33k": Path(args.books33k)}
    needed = {CASES[c].data for c in args.cases}
    if "books33k" in needed and not (dirs["books33k"] / "train.txt").is_file():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "make_corpus.py"),
                "--src",
                args.books_src,
                "--out",
                str(dirs["books33k"]),
            ],
            check=True,
        )
    for key in needed:
        if not (dirs[key] / "train.txt").is_file():
            sys.exit(
                f"error: no {dirs[key]}/train.txt for the {key} cases; give --{key} a folder with train.txt, "
                "valid.txt and test.txt"
            )
    return {k: str(v.resolve()) for k, v in dirs.items()}


def compose_cfg(case: Case, precision: str, extra: list[str], args, run_dir: Path):
    trainer = ["trainer=gpu"] if args.device == "cuda" else []
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"experiment={case.experiment}",
                *trainer,
                f"data.dir={args.data[case.data]}",
                f"trainer.max_steps={args.steps}",
                f"trainer.precision={PRECISION[precision]}",
                "logger=csv",
                *extra,
                *args.override,
            ],
        )
    with open_dict(cfg):
        cfg.paths = {"run_dir": str(run_dir), "cache_dir": str(args.cache), "output_root": str(run_dir)}
    return cfg
