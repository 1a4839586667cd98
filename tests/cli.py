"""Run the project's scripts as a user would: a subprocess from the repository root."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_script(script, *overrides, timeout=300, env=None, cwd=ROOT):
    """script: a file in scripts/ (train.py), or a module run with -m from the repository root (benchmarks.run)."""
    full_env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PYTHONWARNINGS": "ignore",
        **(env or {}),
    }
    command = [str(ROOT / "scripts" / script)] if script.endswith(".py") else ["-m", script]
    return subprocess.run(
        [sys.executable, *command, *map(str, overrides)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def tiny_train_args(tmp_path, run="run"):
    """A seconds-long training run whose outputs all land under tmp_path."""
    return [
        f"hydra.run.dir={tmp_path / run}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"paths.output_root={tmp_path / 'outputs'}",
        "model.emb_size=16",
        "model.hidden_size=16",
        "model.num_layers=1",
        "data.batch_size=4",
        "data.bptt=8",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "logger=csv",
        "callbacks.samples.every_n_epochs=0",
        "callbacks.probes.n_items=0",
    ]


def train_tiny(tmp_path, *overrides):
    """A tiny training run (tiny_train_args and the overrides, into tmp_path / "run") that must succeed."""
    res = run_script("train.py", *tiny_train_args(tmp_path), *overrides)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def evaluate_with_text(tmp_path, ckpt, *overrides):
    """lm-evaluate of a checkpoint with a small text file for perplexity, writing to tmp_path/eval; must succeed."""
    text = tmp_path / "text.txt"
    text.write_text("the cat sees the dog\nthe dogs see the cat\n" * 10)
    res = run_script(
        "evaluate.py",
        f"ckpt={ckpt}",
        f"perplexity.file={text}",
        "perplexity.batch_size=2",
        "wandb=false",
        f"output_dir={tmp_path / 'eval'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        *overrides,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return res


def analyze_script(ckpt, *overrides):
    """lm-analyze without W&B on one thread; must succeed."""
    res = run_script("analyze.py", f"ckpt={ckpt}", *overrides, "wandb=false", "threads=1", timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res
