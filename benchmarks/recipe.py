"""The ptb_medium recipe (Zaremba et al. 2014's medium LSTM), read from the file that holds it,
conf/experiment/ptb_medium.yaml: the defaults of the plain loop (baseline_loop.py) and of the step A/B (step.py),
and the options benchmarks/run.py hands the plain loop from a case's composed config, so that both paths train the
same network on the same batches. Plain YAML, no Hydra and no `lm`: the plain loop imports this and stays plain
PyTorch.
"""

from __future__ import annotations

import argparse

import yaml

from benchmarks import ROOT

# each option of the plain loop -> the key of the Lightning config that means the same
PLAIN_LOOP_KEYS = {
    "emsize": "model.emb_size",
    "nhid": "model.hidden_size",
    "nlayers": "model.num_layers",
    "dropout": "model.dropout",
    "lr": "optim.optimizer.lr",
    "clip": "trainer.gradient_clip_val",
    "batch_size": "data.batch_size",
    "bptt": "data.bptt",
    "eval_batch_size": "data.eval_batch_size",
    "max_epochs": "trainer.max_epochs",
}


def lookup(cfg, key: str):
    """cfg["a"]["b"] for key "a.b": a dict from YAML or a composed OmegaConf config (interpolations resolved)."""
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


def plain_loop_args(cfg) -> list[str]:
    """The plain loop's options for a config: ["--emsize", "650", "--nhid", "650", ...]."""
    return [s for name, key in PLAIN_LOOP_KEYS.items() for s in (f"--{name.replace('_', '-')}", str(lookup(cfg, key)))]


def add_options(parser: argparse.ArgumentParser, **defaults) -> None:
    """An option --name (underscores as dashes) for each keyword, of its default's type."""
    for name, default in defaults.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)


_CFG = yaml.safe_load((ROOT / "conf" / "experiment" / "ptb_medium.yaml").read_text())
MEDIUM = {name: lookup(_CFG, key) for name, key in PLAIN_LOOP_KEYS.items()}  # {"emsize": 650, ..., "max_epochs": 40}
MEDIUM_SHAPE = (MEDIUM["emsize"], MEDIUM["nhid"], MEDIUM["nlayers"])  # RNNLM's emb_size, hidden_size, num_layers
