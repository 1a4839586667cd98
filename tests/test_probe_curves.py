"""Probe curves during training (ProbeCallback every_n_steps): points at the right steps with the tokens seen,
scores of the live model, no side effects on training."""

import csv
import re
from types import SimpleNamespace

import torch

from cli import train_tiny
from lm.data.grammar import generate_text
from lm.data.tokenizer import train_tokenizer
from lm.model import checkpoint
from lm.model.rnnlm import RNNLM
from lm.training.callbacks.probes import CURVE_FILE, SENSITIVITY_FILE, ProbeCallback


def read_curve(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_curve_points_follow_the_steps_and_score_the_live_model(tmp_path):
    lines = ("data.lines.train=400", "data.lines.valid=40", "data.lines.test=40")
    probes = ("callbacks.probes.every_n_steps=5", "callbacks.probes.curve_items=12")
    res = train_tiny(tmp_path, *lines, *probes, "test=false")
    run = tmp_path / "run"
    rows = read_curve(run / CURVE_FILE)
    steps = sorted({int(r["step"]) for r in rows})
    last = checkpoint.load(run / "checkpoints" / "last.ckpt")
    final = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert steps[0] == 0 and steps[-1] == final and final > 10
    assert steps[1:-1] == list(range(5, final, 5))[: len(steps) - 2]
    # tokens seen: batch 4 x bptt 8 per step before the last point
    for r in rows:
        if int(r["step"]) < final:
            assert int(r["tokens_seen"]) == 32 * int(r["step"])
    assert {(r["suite"], r["field"]) for r in rows} >= {
        ("agreement", "all"),
        ("gender", "all"),
        ("recall", "all"),
        ("recall", "range"),
    }
    # the last point is the model as saved in last.ckpt, scored afresh
    cb = ProbeCallback(curve_items=12, every_n_steps=5)
    sensitivity = []
    again = cb.run(last.model, last.tokenizer, last.config, cb.curve_options, sensitivity=sensitivity)
    want = {(r["suite"], r["field"], str(r["value"])): r["acc"] for r in again if r["n"]}
    for r in rows:
        if int(r["step"]) == final:
            assert abs(float(r["acc"]) - want[(r["suite"], r["field"], r["value"])]) < 1e-9
    # the AUC beside them: agreement and gender, overall and with no attractor (value 0)
    auc_rows = read_curve(run / SENSITIVITY_FILE)
    assert sorted({int(r["step"]) for r in auc_rows}) == steps
    assert {(r["suite"], r["field"], r["value"]) for r in auc_rows} <= {
        ("agreement", "all", "all"),
        ("agreement", "n_attractors", "0"),
        ("gender", "all", "all"),
        ("gender", "n_distractors", "0"),
    }
    assert {(r["suite"], r["field"]) for r in auc_rows} == {
        ("agreement", "all"),
        ("agreement", "n_attractors"),
        ("gender", "all"),
        ("gender", "n_distractors"),
    }
    want = {(r["suite"], r["field"], str(r["value"])): r["auc"] for r in sensitivity}
    for r in auc_rows:
        if int(r["step"]) == final:
            assert abs(float(r["auc"]) - want[(r["suite"], r["field"], r["value"])]) < 1e-9
    # the CSV logger has the same curves beside the loss
    with open(next(run.rglob("metrics.csv")), newline="") as f:
        logged = list(csv.DictReader(f))
    assert {"curve/recall/acc", "curve/recall/range=train/acc", "curve/gender/auc", "tokens_seen"} <= set(logged[0])
    out = res.stderr + res.stdout
    assert "probes at step 5 (160 tokens)" in out
    assert re.search(r"data: \d+ token types; [\d,]+ / [\d,]+ / [\d,]+ tokens \(train / valid / test\); ready in", out)
    assert (run / "probe_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_curve_point_leaves_training_untouched(tmp_path):
    tok = train_tokenizer("word", generate_text(200, "train") + generate_text(50, "test"))
    torch.manual_seed(0)
    model = RNNLM(tok.get_vocab_size(), 8, 8, 1, dropout=0.5).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cb = ProbeCallback(every_n_steps=1, curve_items=8)
    module = SimpleNamespace(model=model, tokenizer=tok, run_config={"data": {"source": "builtin"}})
    trainer = SimpleNamespace(loggers=[], global_step=3, default_root_dir=str(tmp_path))
    torch.manual_seed(7)
    cb._curve_point(trainer, module)
    drawn = torch.rand(4)
    torch.manual_seed(7)
    assert torch.equal(drawn, torch.rand(4))  # the global generator was not drawn from
    assert model.training  # back in training mode
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert {r["step"] for r in read_curve(tmp_path / CURVE_FILE)} == {"3"}
