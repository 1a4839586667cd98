"""Long runs are safe: exact resume after SIGKILL, SIGTERM saves and stops, NaN stops, one directory per run."""

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cli import ROOT, run_script, tiny_train_args
from test_module import write_corpus

pytestmark = pytest.mark.slow
TESTS = str(ROOT / "tests")


def args(tmp_path, run="run", *extra):
    """3 epochs with dropout and variable-length BPTT: what a resume must reproduce exactly."""
    corpus = tmp_path / "corpus"
    if not corpus.is_dir():
        corpus.mkdir()
        write_corpus(corpus, n_lines=(300, 40, 40))
    return [
        "data=text",
        f"data.dir={corpus}",
        *tiny_train_args(tmp_path, run),
        "trainer.max_epochs=3",
        "model.dropout=0.3",
        "data.variable_bptt=true",
        "data.bptt=10",
        "threads=1",
        "callbacks.last_checkpoint.every_n_steps=7",
        "optim=adamw",
        "+optim.scheduler.threshold=10",
        *extra,
    ]  # lr halves at every epoch end: a lost scheduler step shows


def signal_at(step, sig):
    return [
        "+callbacks.signal._target_=signal_at.SignalAt",
        f"+callbacks.signal.step={step}",
        f"+callbacks.signal.sig={sig}",
    ]


def train(*overrides):
    return run_script("train.py", *overrides, env={"PYTHONPATH": TESTS})


def validations(run_dir):
    newest = sorted(run_dir.glob("csv/version_*/metrics.csv"))[-1]  # a resume into the same directory adds one
    return [r for r in csv.DictReader(open(newest)) if r.get("val/loss")]


def last_val_loss(run_dir):
    return float(validations(run_dir)[-1]["val/loss"])


def weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("long")
    res = train(*args(tmp))
    assert res.returncode == 0, res.stderr[-3000:]
    ckpt = torch.load(tmp / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    return tmp, ckpt["global_step"], [int(r["step"]) + 1 for r in validations(tmp / "run")]  # steps done


@pytest.mark.parametrize("where", ["inside an epoch", "after an epoch's validation"])
def test_sigkill_then_resume_ends_where_the_uninterrupted_run_ends(uninterrupted, where):
    tmp, steps, epoch_ends = uninterrupted
    if where == "inside an epoch":  # a few steps after an in-epoch save
        kill_at, saves = steps // 2 + 3, ["callbacks.last_checkpoint.every_n_steps=7"]
    else:  # two steps into the second epoch: the last save is the first epoch's validation
        kill_at, saves = epoch_ends[0] + 2, ["callbacks.last_checkpoint.every_n_steps=null"]
    run = f"killed {where}".replace(" ", "_").replace("'", "")
    killed = train(*args(tmp, run), *saves, *signal_at(kill_at, "SIGKILL"))
    assert killed.returncode == -signal.SIGKILL
    saved = torch.load(tmp / run / "checkpoints" / "last.ckpt", weights_only=True)
    assert 0 < kill_at - saved["global_step"] <= 7
    assert saved["epoch"] == 1 if saves[0].endswith("7") else saved["global_step"] == epoch_ends[0]

    resumed = train(*args(tmp, run + "_resumed"), f"ckpt_path={tmp / run}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert abs(last_val_loss(tmp / (run + "_resumed")) - last_val_loss(tmp / "run")) < 1e-6
    final = weights(tmp / (run + "_resumed") / "checkpoints" / "last.ckpt")
    reference = weights(tmp / "run" / "checkpoints" / "last.ckpt")
    assert all(torch.allclose(final[k], reference[k], rtol=0, atol=1e-6) for k in reference)


def test_sigterm_saves_the_step_stops_and_prints_a_resume_command_that_works(uninterrupted):
    tmp, steps, epoch_ends = uninterrupted
    stop_at = epoch_ends[0] // 2  # inside the first epoch
    stopped = train(*args(tmp, "stopped"), *signal_at(stop_at, "SIGTERM"))
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
    assert torch.load(tmp / "stopped" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == stop_at
    command = stopped.stdout.split("resume: ")[1].splitlines()[0]
    assert f"ckpt_path={tmp / 'stopped'}" in command

    # the printed command, run as printed (without the test's signal, which would stop it again)
    resumed = subprocess.run(
        [a for a in command.split() if "callbacks.signal" not in a],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": TESTS},
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run_dir = Path(resumed.stdout.split("run directory:")[1].split()[0])  # a directory of its own
    assert run_dir.parent == tmp / "outputs" / "builtin"
    assert abs(last_val_loss(run_dir) - last_val_loss(tmp / "run")) < 1e-6


def test_nan_stops_with_one_line_and_writes_no_checkpoint(tmp_path):
    res = train(
        *args(tmp_path), "optim.optimizer.lr=1e30", "trainer.gradient_clip_val=0", "trainer.log_every_n_steps=5"
    )
    assert res.returncode == 2, res.stderr[-3000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: training diverged") and "at step" in last and "optim.optimizer.lr" in last
    for path in (tmp_path / "run").rglob("*.ckpt"):
        assert all(torch.isfinite(t).all() for t in weights(path).values()), path


def test_variable_bptt_epoch_trains_every_chunk_and_validates(tmp_path):
    from lm.data.datamodule import LMDataModule

    res = train(*args(tmp_path), "trainer.max_epochs=1")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "best checkpoint: " in res.stdout and "(none saved)" not in res.stdout
    dm = LMDataModule(
        {
            "source": "text",
            "dir": str(tmp_path / "corpus"),
            "batch_size": 4,
            "eval_batch_size": 10,
            "bptt": 10,
            "variable_bptt": True,
            "seed": 0,
        },
        {"kind": "word"},
        tmp_path / "cache",
    )
    dm.setup()
    steps = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert steps == len(dm.datasets["train"].bounds(0))


def test_runs_started_together_get_their_own_directories(tmp_path):
    overrides = [a for a in args(tmp_path) if not a.startswith("hydra.run.dir")] + ["trainer.max_epochs=1"]
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "train.py"), *overrides],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    runs = sorted((tmp_path / "outputs" / "builtin").iterdir())
    assert len(runs) == 2
    for run in runs:
        assert (run / ".hydra" / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
        assert sum(str(run) in out for out, _ in outs) == 1  # each run prints its own directory
