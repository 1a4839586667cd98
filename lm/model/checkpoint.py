"""Checkpoints stand alone: weights, model hyperparameters, the resolved config and the tokenizer JSON.

A checkpoint is a Lightning checkpoint with one extra entry, `checkpoint["lm"]`; it loads with
`torch.load(path, weights_only=True)` and needs neither the training corpus nor the config files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from lm.data.tokenizer import load_tokenizer
from lm.errors import UserError
from lm.model.rnnlm import RNNLM

FORMAT = 1
CKPT_DIR = "checkpoints"


@dataclass
class Loaded:
    model: RNNLM
    tokenizer: Tokenizer
    config: dict[str, Any]  # the resolved training config
    path: Path
    model_args: dict[str, Any]  # RNNLM's constructor arguments


def resolve(path: str | Path, prefer: str = "best") -> Path:
    """A checkpoint file, or a run directory (its checkpoints/best.ckpt, else last.ckpt)."""
    p = Path(path).expanduser()
    if p.is_dir():
        order = ["best.ckpt", "last.ckpt"] if prefer == "best" else ["last.ckpt", "best.ckpt"]
        for name in order:
            for cand in (p / CKPT_DIR / name, p / name):
                if cand.is_file():
                    return cand
        raise UserError(f"no checkpoint in run directory {p}: expected {p / CKPT_DIR}/best.ckpt or last.ckpt")
    if not p.is_file():
        raise UserError(f"no checkpoint at {p}: give a .ckpt file or a run directory (outputs/<name>/<time>)")
    return p


def read(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    p = resolve(path)
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load fails in many ways on a file that is not a checkpoint
        raise UserError(
            f"{p} is not a checkpoint of this project ({type(e).__name__}); pass a .ckpt written by scripts/train.py"
        ) from None
    if not isinstance(ckpt, dict) or "lm" not in ckpt or "state_dict" not in ckpt:
        raise UserError(
            f"{p} is not a checkpoint of this project (no 'lm' entry); pass a .ckpt written by scripts/train.py"
        )
    return ckpt


def load(path: str | Path, map_location: str | torch.device = "cpu") -> Loaded:
    """Rebuild the model (in eval mode, on map_location) and tokenizer from a checkpoint file or run directory."""
    p = resolve(path)
    ckpt = read(p, map_location)
    try:
        model_args = ckpt["hyper_parameters"]["model"]
        model = RNNLM(**model_args)
        prefix = "model."
        model.load_state_dict({k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)})
        tokenizer = load_tokenizer(ckpt["lm"]["tokenizer_json"])
    except Exception as e:  # a dict that looks like ours but does not rebuild: wrong keys, shapes or tokenizer
        raise UserError(
            f"{p} is not a usable checkpoint of this project ({type(e).__name__}: {e}); "
            "pass a .ckpt written by scripts/train.py"
        ) from None
    return Loaded(model.to(map_location).eval(), tokenizer, ckpt["lm"]["config"], p, model_args)
