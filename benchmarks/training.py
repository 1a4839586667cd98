"""Training throughput of one case's runs: the Lightning path (scripts/train.py's code, timed by StepClock after
the warm-up steps) and the plain loop (benchmarks/baseline_loop.py in a subprocess, handed the case's network and
batch shape), each with val ppl after the same steps and its model FLOPs per training token.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from benchmarks import ROOT
from benchmarks.cases import Case, compose_cfg
from benchmarks.recipe import plain_loop_args
from benchmarks.timing import sync
from lm.model.rnnlm import RNNLM, cluster_share
from lm.training.train import build, quiet_known_warnings


class StepClock(pl.Callback):
    """Wall clock from the end of step `warmup` to the end of the last training step, device synchronised."""

    def __init__(self, warmup: int, device: str):
        self.warmup, self.device, self.tokens, self.t0, self.t1 = warmup, device, 0, None, None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        step = trainer.global_step
        if step == self.warmup:
            sync(self.device)
            self.t0 = time.perf_counter()
        elif step > self.warmup:
            self.tokens += batch[0].numel()
            if step >= trainer.max_steps:
                sync(self.device)
                self.t1 = time.perf_counter()


def lightning_run(case: Case, precision: str, extra: list[str], args, run_dir: Path) -> dict:
    quiet_known_warnings()
    cfg = compose_cfg(case, precision, extra, args, run_dir)
    pl.seed_everything(cfg.seed, verbose=False)
    data, module = build(cfg)
    clock = StepClock(args.warmup, args.device)
    bar = [instantiate(cfg.callbacks.progress_bar)] if cfg.trainer.enable_progress_bar else []  # as train.py's
    trainer = pl.Trainer(
        **{k: v for k, v in cfg.trainer.items() if k != "_target_"},
        callbacks=[clock, *bar],
        logger=pl.loggers.CSVLogger(run_dir),
        enable_checkpointing=False,
    )
    trainer.fit(module, datamodule=data)  # validates on the whole valid split after the last step
    trainer.save_checkpoint(run_dir / "model.ckpt")
    macs = module.model.macs_per_token(cluster_share(module.model, data.ids["train"]))
    tps = clock.tokens / (clock.t1 - clock.t0)
    return {
        "steps": trainer.global_step,
        "tokens": trainer.global_step * cfg.data.batch_size * cfg.data.bptt,
        "tokens_per_s": tps,
        "val_ppl": float(trainer.callback_metrics["val/ppl"]),
        "train_flops_per_token": 6 * macs,
        "flops_per_s": 6 * macs * tps,
        "precision": precision,
        "params": sum(p.numel() for p in module.model.parameters()),
        "ckpt": str(run_dir / "model.ckpt"),
    }


def plain_loop(case: Case, cfg, args, run_dir: Path) -> dict:
    """The plain loop on the case's data and steps, with the network, batch and optimiser of cfg (the case's
    composed config, --override included)."""
    out = run_dir / "baseline.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.baseline_loop",
        "--data",
        args.data[case.data],
        "--max-steps",
        str(args.steps),
        "--warmup-steps",
        str(args.warmup),
        "--device",
        args.device,
        "--json",
        str(out),
        *plain_loop_args(cfg),
        *case.baseline,
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    res = json.loads(out.read_text())
    a = res["args"]
    with torch.device("meta"):  # the same network's FLOPs, counted by RNNLM without allocating it
        macs = RNNLM(res["vocab_size"], a["emsize"], a["nhid"], a["nlayers"], tie_weights=a["tied"]).macs_per_token()
    return {
        **res,
        "tokens_per_s": res["train_tokens_per_s"],
        "precision": "fp32",
        "train_flops_per_token": 6 * macs,
        "flops_per_s": 6 * macs * res["train_tokens_per_s"],
    }
