"""Training speed and perplexity: the Lightning path (scripts/train.py's code) against the plain PyTorch loop
(scripts/baseline_loop.py) on the same model, data and number of steps, in one run.

    python scripts/bench_train.py --data ../shared/data/ptb --steps 300 [--experiment ptb_medium] [--json out.json]
        [--keep DIR]

Lightning's tokens/s is wall-clock time from the end of the warm-up steps to the end of the last step, so it
includes everything the loop does between steps (data loading, hooks, logging, progress bar); the plain loop
times its steps the same way. Both then evaluate perplexity on the full validation split.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import open_dict

from lm.train import build, quiet_known_warnings

ROOT = Path(__file__).resolve().parents[1]


class StepClock(pl.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.tokens, self.t0, self.t1 = warmup, 0, None, None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == self.warmup:
            self.t0 = time.perf_counter()
        elif trainer.global_step > self.warmup:
            self.tokens += batch[0].numel()
            self.t1 = time.perf_counter()


def lightning(args, out_dir: Path) -> dict:
    quiet_known_warnings()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={args.experiment}", f"data.dir={Path(args.data).resolve()}",
                                           f"trainer.max_steps={args.steps}", "logger=csv", *args.override])
    with open_dict(cfg):
        cfg.paths = {"run_dir": str(out_dir), "cache_dir": str(out_dir / "cache"), "output_root": str(out_dir)}
    pl.seed_everything(cfg.seed, verbose=False)
    data, module = build(cfg)
    clock = StepClock(args.warmup)
    bar = instantiate(cfg.callbacks.progress_bar)  # as scripts/train.py draws it
    trainer = pl.Trainer(**{k: v for k, v in cfg.trainer.items() if k != "_target_"}, callbacks=[clock, bar],
                         logger=pl.loggers.CSVLogger(out_dir), enable_checkpointing=False)
    trainer.fit(module, datamodule=data)  # validates on the full valid split after the last step
    if args.keep:
        trainer.save_checkpoint(out_dir / "lightning.ckpt")  # a standalone checkpoint, for the other benchmarks
    return {"steps": trainer.global_step, "timed_tokens": clock.tokens,
            "train_tokens_per_s": clock.tokens / (clock.t1 - clock.t0),
            "val_loss": float(trainer.callback_metrics["val/loss"]),
            "val_ppl": float(trainer.callback_metrics["val/ppl"])}


def plain_loop(args, out_dir: Path) -> dict:
    out = out_dir / "baseline.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "baseline_loop.py"), "--data", args.data, "--tied",
           "--max-steps", str(args.steps), "--warmup-steps", str(args.warmup), "--json", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder with train.txt, valid.txt, test.txt (word-level PTB)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--experiment", default="ptb_medium")
    p.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides for the Lightning run")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--keep", help="keep the run's files (and the Lightning path's checkpoint) in this folder")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        out.mkdir(parents=True, exist_ok=True)
        results = {"lightning": lightning(args, out), "plain_loop": plain_loop(args, out),
                   "threads": torch.get_num_threads(), "torch": torch.__version__}
    lit, base = results["lightning"], results["plain_loop"]
    print(f"\n| path | steps | tokens/s | val ppl |\n|---|---|---|---|\n"
          f"| plain PyTorch loop | {base['steps']} | {base['train_tokens_per_s']:,.0f} | {base['val_ppl']:.2f} |\n"
          f"| Lightning (lm) | {lit['steps']} | {lit['train_tokens_per_s']:,.0f} | {lit['val_ppl']:.2f} |\n"
          f"speed ratio {lit['train_tokens_per_s'] / base['train_tokens_per_s']:.3f}, threads {results['threads']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
