"""A checkpoint as three plain files that load without this package's checkpoint format or pickles:

    model.safetensors   the weights (safetensors; a tied embedding/decoder matrix is stored once)
    config.json         {"format", "model": RNNLM's constructor arguments, "training": the resolved training config}
    tokenizer.json      the HF `tokenizers` tokenizer the model was trained with

By hand: `RNNLM(**json.load(open("config.json"))["model"])`, then `safetensors.torch.load_model(model, path)`.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_model, save_model
from tokenizers import Tokenizer

from lm.data.tokenizer import with_eos
from lm.errors import UserError
from lm.model import checkpoint
from lm.model.rnnlm import RNNLM

FORMAT = "lstm-lm-export/1"
FILES = ("model.safetensors", "config.json", "tokenizer.json")


def export(ckpt: str | Path, out_dir: str | Path) -> Path:
    """Write FILES for the checkpoint (a .ckpt or a run directory) into out_dir; return out_dir."""
    loaded = checkpoint.load(ckpt)
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        save_model(loaded.model, str(out / "model.safetensors"))
        config = {"format": FORMAT, "model": loaded.model_args, "training": loaded.config}
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (out / "tokenizer.json").write_text(loaded.tokenizer.to_str(), encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write the export to {out}: {e.strerror}") from None
    return out


def load_exported(path: str | Path) -> tuple[RNNLM, Tokenizer, dict]:
    """(model in eval mode, tokenizer, config.json) from a folder `export` wrote."""
    d = Path(path).expanduser()
    missing = [f for f in FILES if not (d / f).is_file()]
    if missing:
        raise UserError(f"{d} is not an lstm-lm export: {', '.join(missing)} missing (make one with lm-export)")
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    if config.get("format") != FORMAT:
        raise UserError(f"{d / 'config.json'} has format {config.get('format')!r}, expected {FORMAT!r}")
    model = RNNLM(**config["model"])
    load_model(model, str(d / "model.safetensors"))
    return model.eval(), with_eos(Tokenizer.from_file(str(d / "tokenizer.json"))), config
