"""scripts/evaluate.py end to end on tiny checkpoints, perplexity, the training callback, and every bad input."""

import csv
import json
import math
from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from cli import ROOT, evaluate_with_text, run_script
from conftest import write_checkpoint
from lm.data.grammar import generate_text
from lm.data.tokenizer import encode_lines, train_tokenizer
from lm.model.rnnlm import RNNLM
from lm.training.callbacks.probes import ProbeCallback
from lm.training.perplexity import stream_perplexity
from test_sensitivity import brute_auc

BUILTIN_CONFIG = {
    "data": {
        "source": "builtin",
        "lines": {"train": 200, "valid": 40, "test": 40},
        "seed": 0,
        "grammar": {},
        "eval_batch_size": 2,
        "bptt": 8,
    }
}


@pytest.fixture(scope="module")
def grammar_model():
    tok = train_tokenizer("word", generate_text(300, "train") + generate_text(100, "test"))
    torch.manual_seed(0)
    return RNNLM(tok.get_vocab_size(), 8, 8, 1, dropout=0.0).eval(), tok


def write_suites(tmp_path):
    prefix = tmp_path / "agreement_pairs.jsonl"
    prefix.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"prefix": "the dog", "good": "runs", "bad": "run", "distance": 1, "number": "sg"},
                {"prefix": "the dogs", "good": "see", "bad": "sees", "distance": 1, "number": "pl"},
                {"prefix": "the dog and the cat", "good": "run", "bad": "runs", "distance": 4, "number": "pl"},
                {"prefix": "the dog", "good": "runs", "bad": "gallops", "distance": 1, "number": "sg"},
            ]
        )
        + "\n"
    )
    blimp = tmp_path / "blimp"
    blimp.mkdir()
    (blimp / "anaphor_number_agreement.jsonl").write_text(
        "\n".join(
            json.dumps(
                {
                    "sentence_good": g,
                    "sentence_bad": b,
                    "UID": "anaphor_number_agreement",
                    "pairID": str(i),
                    "lexically_identical": i % 2 == 0,
                }
            )
            for i, (g, b) in enumerate(
                [
                    ("the cat sees the dog", "the cat see the dog"),
                    ("the dogs see the cat", "the dogs sees the cat"),
                    ("a dog runs", "a dog run"),
                ]
            )
        )
        + "\n"
    )
    return prefix, blimp


def test_files_in_both_formats_are_scored_and_tabulated(tmp_path, tiny_checkpoint):
    prefix, blimp = write_suites(tmp_path)
    res = evaluate_with_text(tmp_path, tiny_checkpoint, f"probes=[{prefix},{blimp}]", "task=all")
    out = tmp_path / "eval"
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["suite", "condition", "tiny"]
    table = res.stdout
    assert "agreement_pairs" in table and "anaphor_number_agreement" in table
    assert "number=pl" in table and "distance=4" in table and "lexically_identical=True" in table
    assert "n=3 oov=1" in table  # the "gallops" pair is counted, not scored
    assert "1 of 4 pairs not scored" in table and "gallops" in table
    assert "perplexity on" in table
    rows = list(csv_rows(out / "results.csv"))
    assert {r["suite"] for r in rows} == {"agreement_pairs", "anaphor_number_agreement"}
    summary = json.loads((out / "results.json").read_text())
    assert {s["suite"]: s["n_oov"] for s in summary["summaries"]} == {
        "agreement_pairs": 1,
        "anaphor_number_agreement": 0,
    }
    assert summary["perplexity"][0]["ppl"] > 1
    items = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
    assert len(items) == 7 and {"logprob_good", "logprob_bad", "correct", "where"} <= set(items[0])
    assert (out / "plots" / "agreement_pairs_distance.png").stat().st_size > 1000


def csv_rows(path):
    import csv

    with open(path) as f:
        yield from csv.DictReader(f)


def test_builtin_suites_side_by_side_with_plots(tmp_path, grammar_model):
    model, tok = grammar_model
    a = write_checkpoint(tmp_path / "a.ckpt", model, tok, BUILTIN_CONFIG)
    torch.manual_seed(1)
    b = write_checkpoint(tmp_path / "b.ckpt", RNNLM(tok.get_vocab_size(), 8, 8, 1, dropout=0.0), tok, BUILTIN_CONFIG)
    out = tmp_path / "eval"
    res = run_script("evaluate.py", f"ckpt=[{a},{b}]", "n_items=24", "wandb=false", f"output_dir={out}")
    assert res.returncode == 0, res.stderr[-2000:]
    head = res.stdout.splitlines()[0].split()
    assert head == ["suite", "condition", "a", "b"]
    for cond in ("construction=pp", "n_attractors=0", "range=train", "gender=f", "distractor_gender=m", "filler=64"):
        assert cond in res.stdout
    plots = {p.name for p in (out / "plots").iterdir()}
    assert {
        "agreement_distance.png",
        "agreement_n_attractors.png",
        "gender_distance.png",
        "recall_distance.png",
    } <= plots


def test_evaluate_writes_the_auc_of_the_items_it_scored(tmp_path, grammar_model):
    model, tok = grammar_model
    torch.manual_seed(1)
    ckpt = write_checkpoint(tmp_path / "a.ckpt", RNNLM(tok.get_vocab_size(), 8, 8, 1, dropout=0.0), tok, BUILTIN_CONFIG)
    out = tmp_path / "eval"
    res = run_script("evaluate.py", f"ckpt={ckpt}", "n_items=60", "wandb=false", "plots=false", f"output_dir={out}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "sensitivity to the subject" in res.stdout and "n_distractors=0" in res.stdout
    with open(out / "sensitivity.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["suite"] for r in rows} == {"agreement", "gender"}  # recall has no two-class contrast
    recorded = [json.loads(line) for line in open(out / "items.jsonl")]
    for suite, field, classes in (("agreement", "subject_number", ("sg", "pl")), ("gender", "gender", ("m", "f"))):
        scored = [r for r in recorded if r["suite"] == suite and r["correct"] is not None]
        if suite == "gender":
            scored = [r for r in scored if r["number"] == "sg"]
        s = {c: [] for c in classes}
        for r in scored:
            m = r["logprob_good"] - max(r["logprob_bad"])
            s[r[field]].append(m if r[field] == classes[0] else -m)
        (overall,) = [r for r in rows if r["suite"] == suite and r["field"] == "all"]
        assert float(overall["auc"]) == pytest.approx(brute_auc(*s.values()))
        assert (int(overall["n_a"]), int(overall["n_b"])) == tuple(len(v) for v in s.values())


def test_perplexity_matches_the_mean_token_nll(word_tokenizer, tiny_model):
    import numpy as np

    ids = np.array(
        [i for line in encode_lines(word_tokenizer, ["the cat sees the dog", "a dog runs"] * 3) for i in line]
    )
    got = stream_perplexity(tiny_model, ids, batch_size=1, bptt=4)
    with torch.no_grad():
        logits, _ = tiny_model(torch.tensor([ids[:-1].tolist()]))
    nll = torch.nn.functional.cross_entropy(logits[0], torch.tensor(ids[1:]))
    assert got["tokens"] == len(ids) - 1 and got["loss"] == pytest.approx(float(nll), abs=1e-5)
    assert got["ppl"] == pytest.approx(math.exp(float(nll)), rel=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        stream_perplexity(tiny_model, ids, batch_size=0)


class Recorder:
    def __init__(self):
        self.metrics, self.tables = {}, []

    def log_metrics(self, metrics, step=None):
        self.metrics.update(metrics)

    def log_table(self, key, columns, data):
        self.tables.append((key, columns, data))


def test_callback_logs_probe_metrics_to_every_logger(grammar_model):
    model, tok = grammar_model
    conf = OmegaConf.load(ROOT / "conf" / "callbacks" / "probes.yaml")
    cb = instantiate(conf.probes, n_items=16)
    assert isinstance(cb, ProbeCallback)
    loggers = [Recorder(), Recorder()]
    module = SimpleNamespace(model=model, tokenizer=tok, run_config=BUILTIN_CONFIG)
    cb.on_test_end(SimpleNamespace(loggers=loggers, global_step=7), module)
    for lg in loggers:
        assert {"probe/agreement/acc", "probe/gender/acc", "probe/recall/acc"} <= set(lg.metrics)
        assert "probe/agreement/construction=pp/acc" in lg.metrics
        assert {"probe/agreement/auc", "probe/gender/auc"} <= set(lg.metrics) and "probe/recall/auc" not in lg.metrics
        assert all(0 <= v <= 1 for v in lg.metrics.values())
    auc = [k for k in lg.metrics if k.endswith("/auc")]
    assert all(k.startswith(("probe/agreement/", "probe/gender/")) for k in auc)
    assert "probe/agreement/n_attractors=0/auc" in auc and "probe/gender/construction=reflexive/auc" not in auc
    # every value as a metric; W&B alone gets the table
    assert len(lg.metrics) == len(cb.rows) + len(auc) and not lg.tables
    with pytest.raises(ValueError, match="suites"):
        ProbeCallback(suites=["agreemnt"])


# --- bad input: one line, exit 2, no traceback -----------------------------------------------------------------


def assert_user_error(res, *fragments):
    assert res.returncode == 2, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in res.stderr
    for f in fragments:
        assert f in last, last


@pytest.mark.parametrize(
    "content, fragment",
    [
        (
            '{"prefix": "the dog", "good": "runs", "bad": "run"}\n{"prefix": "the dog", "good": "runs"\n',
            ":2: not valid JSON",
        ),
        ('{"prefix": "the dog", "good": "runs", "bad": "run"}\n\n{"sentence_good": "a b"}\n', ":3: a record needs"),
        ("\n\n", "empty suite"),
    ],
)
def test_bad_suite_files(tmp_path, tiny_checkpoint, content, fragment):
    path = tmp_path / "pairs.jsonl"
    path.write_text(content)
    res = run_script(
        "evaluate.py", f"ckpt={tiny_checkpoint}", f"probes=[{path}]", "wandb=false", f"output_dir={tmp_path / 'out'}"
    )
    assert_user_error(res, str(path), fragment)


def test_unknown_suite_name(tmp_path, tiny_checkpoint):
    res = run_script(
        "evaluate.py", f"ckpt={tiny_checkpoint}", "probes=[agreemnt]", "wandb=false", f"output_dir={tmp_path / 'out'}"
    )
    assert_user_error(res, "unknown suite 'agreemnt'", "agreement, gender, recall")


def test_missing_checkpoint(tmp_path):
    missing = tmp_path / "nope.ckpt"
    res = run_script("evaluate.py", f"ckpt={missing}", "wandb=false", f"output_dir={tmp_path / 'out'}")
    assert_user_error(res, "no checkpoint at", str(missing))


@pytest.mark.slow
def test_results_attach_to_the_training_run_in_wandb(tmp_path, tiny_model, word_tokenizer):
    run = tmp_path / "outputs" / "run"
    (run / "checkpoints").mkdir(parents=True)
    write_checkpoint(run / "checkpoints" / "best.ckpt", tiny_model, word_tokenizer)
    (run / "wandb" / "offline-run-20260101_000000-abc123").mkdir(parents=True)
    prefix, _ = write_suites(tmp_path)
    res = run_script(
        "evaluate.py",
        f"ckpt={run}",
        f"probes=[{prefix}]",
        f"output_dir={tmp_path / 'out'}",
        env={"WANDB_MODE": "offline"},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "offline run abc123 (the training run)" in res.stderr
    assert len([p for p in (run / "wandb").glob("offline-run-*-abc123")]) == 2
