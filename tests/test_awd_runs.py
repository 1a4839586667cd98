"""Every AWD option on at once, through the scripts: train, fine-tune from a checkpoint, resume exactly, and the
averaged weights are what validation, checkpoints and the other scripts see."""

import csv
import json
import signal

import pytest
import torch

from cli import analyze_script, run_script, tiny_train_args
from test_long_runs import TESTS, signal_at

pytestmark = pytest.mark.slow

AWD = [
    "optim=ntasgd",
    "optim.optimizer.lr=10",
    "optim.optimizer.nonmono=1",
    "optim.ar=2",
    "optim.tar=1",
    "optim.lr_by_length=true",
    "model.num_layers=2",
    "model.locked_dropout=true",
    "model.dropout=0.2",
    "model.dropout_hidden=0.1",
    "model.dropout_input=0.2",
    "model.dropout_embed=0.1",
    "model.weight_drop=0.3",
    "data.variable_bptt=true",
    "data.bptt=10",
    "threads=1",
    "callbacks.probes.n_items=30",
    "data.lines.train=1000",
    "data.lines.valid=100",
    "data.lines.test=100",
    "data.batch_size=8",
]
FINETUNE = ["optim.optimizer.averaged_from_start=true", "optim.optimizer.stop_when_flat=true", "trainer.max_epochs=3"]


def train(tmp, run, *extra):
    return run_script("train.py", *tiny_train_args(tmp, run), *AWD, *extra, env={"PYTHONPATH": TESTS})


def metrics(run_dir):
    return list(csv.DictReader(open(sorted(run_dir.glob("csv/version_*/metrics.csv"))[-1])))


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("awd")
    first = train(tmp, "first", "trainer.max_epochs=2")
    assert first.returncode == 0, first.stderr[-3000:]
    tuned = train(tmp, "tuned", f"init_from={tmp / 'first'}", *FINETUNE)
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    return tmp


def test_the_regularisers_are_logged_beside_the_loss(stages):
    rows = metrics(stages / "first")
    logged = [r for r in rows if r.get("train/ar")]
    assert logged and all(float(r["train/ar"]) > 0 and float(r["train/tar"]) > 0 for r in logged)
    assert all(r["train/loss"] for r in logged)  # the NLL, logged on its own


def test_fine_tuning_starts_from_the_checkpoint_and_validates_saves_and_tests_the_average(stages):
    first = torch.load(stages / "first" / "checkpoints" / "best.ckpt", weights_only=True)
    tuned = torch.load(stages / "tuned" / "checkpoints" / "best.ckpt", weights_only=True)
    assert "weights from" in (stages / "tuned" / "train.log").read_text()
    assert tuned["global_step"] < 2 * first["global_step"]  # a new run, counted from 0, not a resume
    # the checkpoint's weights are the optimizer's averages; the iterates are kept for resuming
    iterate = tuned["lm"]["resume"]["iterate"]
    averages = [s["ax"] for s in tuned["optimizer_states"][0]["state"].values()]
    assert iterate and averages
    weights = tuned["state_dict"]
    assert any(not torch.equal(weights[k], iterate[k]) for k in iterate)
    assert all(any(torch.equal(weights[k], ax) for ax in averages) for k in iterate)

    # its logged val/loss is the perplexity evaluate.py measures on the saved (averaged) weights
    best = min(float(r["val/loss"]) for r in metrics(stages / "tuned") if r.get("val/loss"))
    res = run_script(
        "evaluate.py",
        f"ckpt={stages / 'tuned'}",
        "task=perplexity",
        "perplexity.split=valid",
        "wandb=false",
        "plots=false",
        f"paths.cache_dir={stages / 'cache'}",
        f"output_dir={stages / 'eval'}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    ppl = json.loads((stages / "eval" / "results.json").read_text())["perplexity"][0]
    assert ppl["loss"] == pytest.approx(best, abs=1e-4)


def test_fine_tuning_without_a_checkpoint_is_one_line(tmp_path):
    res = train(tmp_path, "run", *FINETUNE)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: fine-tuning") and "init_from=" in res.stderr


def test_a_killed_fine_tuning_run_resumes_to_the_same_averaged_weights(stages):
    args = (
        f"init_from={stages / 'first'}",
        *FINETUNE,
        "trainer.max_epochs=2",
        "callbacks.last_checkpoint.every_n_steps=5",
    )
    whole = train(stages, "whole", *args)
    assert whole.returncode == 0, whole.stderr[-3000:]
    steps = torch.load(stages / "whole" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    killed = train(stages, "killed", *args, *signal_at(steps - 3, "SIGKILL"))
    assert killed.returncode == -signal.SIGKILL
    resumed = train(stages, "resumed", *args, f"ckpt_path={stages / 'killed'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = (torch.load(stages / run / "checkpoints" / "last.ckpt", weights_only=True) for run in ("whole", "resumed"))
    assert all(torch.allclose(a["state_dict"][k], b["state_dict"][k], rtol=0, atol=1e-6) for k in a["state_dict"])
    assert all(
        torch.allclose(a["lm"]["resume"]["iterate"][k], b["lm"]["resume"]["iterate"][k], rtol=0, atol=1e-6)
        for k in a["lm"]["resume"]["iterate"]
    )


def test_generation_probes_and_analyses_run_on_the_averaged_checkpoint(stages):
    gen = run_script("generate.py", f"ckpt={stages / 'tuned'}", "prompt=the", "max_new_tokens=5")
    assert gen.returncode == 0 and gen.stdout.strip(), gen.stderr[-2000:]
    ev = run_script(
        "evaluate.py",
        f"ckpt={stages / 'tuned'}",
        "n_items=30",
        "wandb=false",
        "plots=false",
        f"output_dir={stages / 'probes'}",
    )
    assert ev.returncode == 0 and "agreement" in ev.stdout, ev.stderr[-2000:]
    analyze_script(stages / "tuned", "analysis=[agreement,gates]", "agreement.n_items=30", "gates.n_items=10")
