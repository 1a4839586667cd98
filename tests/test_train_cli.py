"""End to end through scripts/train.py: outputs, resume, sweeps, DDP, W&B offline, and every bad input."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
import torch

from cli import ROOT, run_script, tiny_train_args
from test_module import write_corpus

pytestmark = pytest.mark.slow


def text_args(tmp_path, run="run"):
    corpus = tmp_path / "corpus"
    if not corpus.is_dir():
        corpus.mkdir()
        write_corpus(corpus, n_lines=(400, 60, 60))
    return ["data=text", f"data.dir={corpus}", *tiny_train_args(tmp_path, run)]


def snapshot(*dirs):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for d in dirs for p in d.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    res = run_script("train.py", *text_args(tmp))
    assert res.returncode == 0, res.stderr[-3000:]
    return tmp, res


def test_run_prints_summary_and_writes_standalone_checkpoints(trained):
    tmp, res = trained
    run = tmp / "run"
    assert "val/ppl" in res.stdout and "test/ppl" in res.stdout and str(run / "checkpoints" / "best.ckpt") in res.stdout
    for name in ("best.ckpt", "last.ckpt"):
        ckpt = torch.load(run / "checkpoints" / name, weights_only=True)
        assert ckpt["lm"]["tokenizer_json"] == (run / "tokenizer.json").read_text()
        assert ckpt["lm"]["config"]["model"]["hidden_size"] == 16
        assert ckpt["hyper_parameters"]["model"]["vocab_size"] > 5
    log = (run / "train.log").read_text()  # what the console showed: config, a line per validation, the summary
    assert "config:" in log and "epoch 0 step" in log and "val/loss" in log and "== finished:" in log


def test_resume_from_run_directory_continues_the_step_count(trained, tmp_path):
    tmp, _ = trained
    first = torch.load(tmp / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    res = run_script(
        "train.py", *text_args(tmp, "resumed"), f"ckpt_path={tmp / 'run'}", "trainer.max_epochs=2", "model.dropout=0.4"
    )  # not a shape: may change
    assert res.returncode == 0, res.stderr[-3000:]
    second = torch.load(tmp / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert second["epoch"] == first["epoch"] + 1
    assert second["global_step"] == 2 * first["global_step"]
    assert second["hyper_parameters"]["model"]["dropout"] == 0.4


def test_multirun_sweep_gives_each_job_its_own_run(tmp_path):
    args = [a for a in text_args(tmp_path) if not a.startswith("hydra.run.dir")]
    res = run_script(
        "train.py", "-m", *args, "model.hidden_size=8,16", "model.emb_size=8,16", "model.tie_weights=false"
    )  # the default sweep dir: outputs/<name>/multirun_<time>/<job>
    assert res.returncode == 0, res.stderr[-3000:]
    sizes = sorted(
        torch.load(p, weights_only=True)["hyper_parameters"]["model"]["hidden_size"]
        for p in (tmp_path / "outputs" / "builtin").glob("multirun_*/*/checkpoints/last.ckpt")
    )
    assert sizes == [8, 8, 16, 16]


def wandb_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    return {**env, "WANDB_API_KEY": "", "NETRC": str(tmp_path / "none"), "HOME": str(tmp_path)}


def train_with_wandb(tmp_path, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=wandb_env(tmp_path),
    )


def wandb_summary(tmp_path, run_dir):
    wandb_cli = [sys.executable, "-c", "from wandb.cli.cli import cli; cli()"]
    out = subprocess.run(
        [*wandb_cli, "leet", "inspect", "--summary", "--json", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=wandb_env(tmp_path),
    )
    return json.loads(out.stdout)


def val_losses(run):
    return [
        float(line.split("val/loss")[1].split()[0])
        for line in (run / "train.log").read_text().splitlines()
        if "val/loss" in line and " step " in line
    ]


def test_wandb_offline_run_holds_the_logged_metrics_and_a_resume_continues_it(tmp_path):
    builtin = ["data.lines.train=400", "data.lines.valid=60", "data.lines.test=60"]
    args = (
        [a for a in tiny_train_args(tmp_path) if a not in ("logger=csv", "callbacks.probes.n_items=0")]
        + builtin
        + [
            "logger=wandb",
            "trainer.log_every_n_steps=2",
            "callbacks.probes.every_n_steps=4",
            "callbacks.probes.curve_items=8",
            "callbacks.probes.n_items=30",
            "trainer.max_epochs=2",
        ]
    )
    res = train_with_wandb(tmp_path, *args)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "logging offline" in res.stdout
    (run_dir,) = (tmp_path / "run" / "wandb").glob("offline-run-*")
    summary = wandb_summary(tmp_path, run_dir)
    logged = summary["summary"]
    for key in (
        "val/ppl",
        "test/ppl",
        "train/loss",
        "train/tokens_per_s",
        "train/grad_norm",
        "lr-AdamW",
        "tokens_seen",
        "curve/agreement/acc",
        "curve/recall/range=train/acc",
    ):
        assert key in logged, key
    # the probe curves drawn at the end of training travel with the run as an image
    (png,) = run_dir.glob("files/media/images/probe/curves_*.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    # the tested model's probes: a few scalars, one table with every value, accuracy-by-distance images
    probe_keys = sorted(k for k in logged if k.startswith("probe/") and isinstance(logged[k], (int, float)))
    assert "probe/agreement/acc" in probe_keys and "probe/recall/range=test/acc" in probe_keys
    assert "probe/agreement/auc" in probe_keys and "probe/gender/n_distractors=0/auc" in probe_keys
    acc = [k for k in probe_keys if k.endswith("/acc")]
    auc = [k for k in probe_keys if k.endswith("/auc")]  # overall and with no attractor, as in the curves
    assert all("=" not in k or "/range=" in k for k in acc) and all("=" not in k or k.endswith("=0/auc") for k in auc)
    assert len(acc) + len(auc) == len(probe_keys), probe_keys
    assert logged["probe/results"]["_type"] == "table-file" and logged["probe/results"]["nrows"] > len(probe_keys)
    assert list(run_dir.glob("files/media/images/probe/plot/agreement_distance_*.png"))
    (gates_png,) = run_dir.glob("files/media/images/probe/plot/gates_*.png")  # the lecture's gates on one sentence
    assert gates_png.read_bytes()[:4] == b"\x89PNG"
    # the summary holds the best validation, not the last one
    losses = val_losses(tmp_path / "run")
    assert len(losses) == 2 and logged["val/loss"] == {"min": pytest.approx(min(losses), abs=1e-4)}
    assert {"builtin", "data=builtin", "lstm"} <= set(summary.get("tags", [])), summary.get("tags")
    assert summary["state"] == "finished" and summary["name"] == "run" and summary["project"] == "lstm-lm"
    assert summary["config"]["model"]["hidden_size"] == 16 and summary["config"]["model/params"] > 0
    printed = float(res.stdout.split("test/ppl")[1].split()[0])  # the closing summary's number
    assert abs(logged["test/ppl"] - printed) < 0.01

    resumed = train_with_wandb(
        tmp_path,
        *[a.replace("/run", "/resumed") for a in args],
        "trainer.max_epochs=2",
        f"ckpt_path={tmp_path / 'run'}",
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (again,) = (tmp_path / "resumed" / "wandb").glob("offline-run-*")
    assert again.name.split("-")[-1] == run_dir.name.split("-")[-1]  # the same W&B run id: one curve


def test_sweep_jobs_get_distinct_wandb_names(tmp_path):
    args = [a for a in text_args(tmp_path) if a != "logger=csv" and not a.startswith("hydra.run.dir")]
    res = train_with_wandb(
        tmp_path,
        "-m",
        *args,
        "logger=wandb",
        "model.hidden_size=8,16",
        "model.emb_size=8",
        "model.tie_weights=false",
        "test=false",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    names = {
        wandb_summary(tmp_path, d)["name"]
        for d in (tmp_path / "outputs").glob("builtin/multirun_*/*/wandb/offline-run-*")
    }
    assert len(names) == 2 and all(n.startswith("builtin/multirun_") for n in names), names


def test_two_process_ddp_on_cpu_trains(tmp_path):
    res = run_script(
        "train.py",
        *text_args(tmp_path),
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.precision=32-true",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] > 0
    assert "test/ppl" in res.stdout


# --- bad input: one clear line, non-zero exit, earlier results untouched ------------------------------------------


def bad_file(tmp_path, content):
    d = tmp_path / "bad"
    d.mkdir(exist_ok=True)
    write_corpus(d)
    (d / "train.txt").write_bytes(content)
    return [f"data.dir={d}"]


BAD = {
    "missing file": (lambda t: [f"data.dir={t}/nowhere"], "data.dir: no directory"),
    "empty file": (lambda t: bad_file(t, b""), "is empty"),
    "not utf-8": (lambda t: bad_file(t, b"\xff\xfe bad\n"), "is not UTF-8"),
    "hub without network": (lambda t: ["data=wikitext2", "data.dir=null"], "could not load Salesforce/wikitext"),
    "tie with unequal sizes": (lambda t: ["model.emb_size=8", "model.tie_weights=true"], "tie_weights needs"),
    "other model shape": (
        lambda t: ["model.hidden_size=12", "model.emb_size=12", f"ckpt_path={t}/run"],
        "has another model shape",
    ),
    "other tokenizer": (lambda t: ["tokenizer=char", f"ckpt_path={t}/run"], "another tokenizer"),
    "other optimizer": (lambda t: ["optim=sgd", f"ckpt_path={t}/run"], "was trained with optimizer torch.optim.AdamW"),
    "not a checkpoint": (lambda t: [f"ckpt_path={t}/run/tokenizer.json"], "is not a checkpoint of this project"),
    "weight drop of 1": (lambda t: ["model.weight_drop=1.0"], "model.weight_drop must be in [0, 1)"),
    "init_from nowhere": (lambda t: [f"init_from={t}/nowhere"], "no checkpoint at"),
    "logger not installed": (lambda t: ["logger=tensorboard"], "pip install -e '.[tensorboard]'"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gives_one_clear_line_and_leaves_earlier_runs_untouched(trained, case, tmp_path):
    tmp, _ = trained
    before = snapshot(tmp / "run", tmp / "cache")
    make_args, message = BAD[case]
    res = run_script("train.py", *text_args(tmp, "bad_run"), *make_args(tmp))
    assert res.returncode == 2, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    after = snapshot(tmp / "run", tmp / "cache")
    assert {p: after.get(p) for p in before} == before  # new cache entries may appear; nothing earlier changes
    assert not (tmp / "bad_run").exists()  # the refused run leaves no folder


def test_unknown_config_key_is_refused_with_the_hint(tmp_path):
    res = run_script("train.py", *text_args(tmp_path), "model.hiden_size=3")
    assert res.returncode != 0
    assert "Key 'hiden_size' is not in struct" in res.stderr and "model.hiden_size" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "run").exists()


def test_fast_dev_run_leaves_no_file_where_it_runs(tmp_path):
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    args = [a for a in text_args(tmp_path) if not a.startswith(("hydra.run.dir", "paths."))]
    res = run_script("train.py", *args, "debug=fast_dev_run", f"paths.cache_dir={cache}", cwd=work)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "fast_dev_run, nothing saved" in res.stdout and "val/ppl" in res.stdout
    assert list(work.iterdir()) == []  # no outputs/, .hydra/, train.log, tokenizer.json or checkpoint
