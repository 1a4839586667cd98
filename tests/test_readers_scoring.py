"""The field's test sets scored: region surprisals and formula results on a model whose scores are known, one
batched engine call per suite, results grouped as the formats intend, and scripts/evaluate.py end to end on two
checkpoints named by their runs."""

import json
import math

import pytest
import torch

from cli import run_script
from conftest import write_checkpoint
from lm.probes.engine import LogProbEngine
from lm.probes.readers import read_suites
from lm.probes.regions import score_items
from lm.probes.scoring import Scorer
from lm.probes.suite_scoring import score_suite
from lm.probes.surprisal import SurprisalScorer
from test_probe_scoring import Bigram
from test_readers import gym_suite, region, write_gym, write_linzen, write_tab


@pytest.fixture
def known(word_tokenizer):
    """A bigram model: p(next | current) = softmax(table[current]); "runs" is likely after "dog", "run" after
    "dogs", every other next word equally likely."""
    i = word_tokenizer.token_to_id
    v = word_tokenizer.get_vocab_size()
    table = torch.zeros(v, v)
    table[i("dog"), i("runs")] = 5.0
    table[i("dogs"), i("run")] = 3.0

    def bits(prev, nxt):
        return -float(torch.log_softmax(table[i(prev)].double(), 0)[i(nxt)]) / math.log(2)

    return Bigram(table), bits


@pytest.fixture
def calls(monkeypatch):
    """How many times, and with how many requests, the engine was asked."""
    seen = []
    for name in ("__call__", "token_scores"):
        original = getattr(LogProbEngine, name)

        def counted(self, requests, _original=original, _name=name):
            seen.append((_name, len(requests)))
            return _original(self, requests)

        monkeypatch.setattr(LogProbEngine, name, counted)
    return seen


def test_region_surprisals_and_predictions_on_a_known_model(tmp_path, word_tokenizer, known, calls):
    model, bits = known
    (suite,) = read_suites(str(write_gym(tmp_path)))
    records = score_items(SurprisalScorer(Scorer(model, word_tokenizer, "fp32")), suite)
    assert calls == [("token_scores", 8)]  # 2 items x 4 conditions, one batched call
    sg = records[0]["conditions"][0]
    assert sg["sentence"] == "the dog runs"
    assert [r["surprisal"] for r in sg["regions"]] == pytest.approx(
        [bits("<eos>", "the") + bits("the", "dog"), 0.0, bits("dog", "runs")], abs=1e-5
    )
    assert [r["n_tokens"] for r in sg["regions"]] == [2, 0, 1]
    assert [r["region"] for r in sg["regions"]] == ["subject", "modifier", "verb"]
    # item 1: the verb follows its subject; item 2: it follows "cat", where both forms are equally likely
    wider_sg = bits("dog", "run") - bits("dog", "runs")
    wider_pl = bits("dogs", "runs") - bits("dogs", "run")
    assert wider_sg > wider_pl > 0
    assert [r["predictions"] for r in records] == [[True, True], [False, False]]
    assert [r["correct"] for r in records] == [True, False]


def test_a_suite_is_tabulated_per_prediction_and_oov_regions_are_not_scored(tmp_path, word_tokenizer, known):
    model, _ = known
    suite = gym_suite()
    suite["items"].append(json.loads(json.dumps(suite["items"][0])) | {"item_number": 3})
    suite["items"][2]["conditions"][1]["regions"][2] = region(3, "gallops")
    (parsed,) = read_suites(str(write_gym(tmp_path, suite)))
    rows, items, summary = score_suite(Scorer(model, word_tokenizer, "fp32"), parsed, None)
    by = {(r["field"], r["value"]): (r["n"], r["correct"], r["n_oov"]) for r in rows}
    assert by["all", "all"] == (2, 1, 1)
    assert by["prediction", "0"] == (2, 1, 1) and by["prediction", "1"] == (2, 1, 1)
    assert summary["n_oov"] == 1 and summary["oov_words"] == ["gallops"]
    assert summary["predictions"][0].startswith("[(3;%sg%) < (3;%sg_bad%)]")
    record = items[2]["_record"]
    assert record["correct"] is None and record["oov"] == ["gallops"]
    assert math.isnan(record["conditions"][1]["regions"][2]["surprisal"])


def test_linzen_and_gulordava_sets_score_in_one_engine_call_each(tmp_path, word_tokenizer, known, calls):
    model, _ = known
    scorer = Scorer(model, word_tokenizer, "fp32")
    (linzen,) = read_suites(str(write_linzen(tmp_path)))
    rows, _, _ = score_suite(scorer, linzen, None)
    by = {(r["field"], r["value"]): r["acc"] for r in rows}
    assert by["n_attractors", "0"] == 1.0 and by["n_attractors", "1"] == 0.0  # a bigram model loses to an attractor
    (tab,) = read_suites(str(write_tab(tmp_path)))
    rows, _, _ = score_suite(scorer, tab, None)
    by = {(r["field"], r["value"]): (r["n"], r["correct"]) for r in rows}
    assert by["type", "original"] == (1, 1) and by["type", "generated"] == (2, 1)
    assert by["pattern", "NOUN_VERB"] == (2, 2) and by["pattern", "NOUN_CC_VERB"] == (1, 0)
    assert calls == [("__call__", 4), ("__call__", 6)]  # every side of every item at once


def test_evaluate_reads_the_three_formats_for_two_runs_in_one_table(tmp_path, tiny_model, word_tokenizer):
    ckpts = []
    for name, seed in (("alpha", 0), ("beta", 1)):
        torch.manual_seed(seed)
        run = tmp_path / "outputs" / name / "2026-01-01_00-00-00_1" / "checkpoints"
        run.mkdir(parents=True)
        model = type(tiny_model)(word_tokenizer.get_vocab_size(), 8, 8, 2, dropout=0.0)
        ckpts.append(write_checkpoint(run / "best.ckpt", model, word_tokenizer, {"name": name}))
    gym, stem, tab = write_gym(tmp_path), write_linzen(tmp_path), write_tab(tmp_path)
    out = tmp_path / "eval"
    res = run_script(
        "evaluate.py",
        f"ckpt=[{ckpts[0]},{ckpts[1]}]",
        f"probes=[syntaxgym:{gym},{stem}.text,{tab}]",
        "wandb=false",
        "plots=false",
        f"output_dir={out}",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.splitlines()[0].split() == ["suite", "condition", "alpha", "beta"]
    for shown in (
        "prediction=0",
        "prediction=1",
        "n_attractors=1",
        "pattern=NOUN_CC_VERB",
        "type=generated",
        "tiny_agreement: prediction 1 is ((3;%sg_bad%) - (3;%sg%)) > ((3;%pl_bad%) - (3;%pl%))",
    ):
        assert shown in res.stdout
    summaries = json.loads((out / "results.json").read_text())["summaries"]
    assert len(summaries) == 6 and len({s["precision"] for s in summaries}) == 1
    items = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
    gym_items = [it for it in items if it["suite"] == "tiny_agreement"]
    assert len(gym_items) == 4 and {it["ckpt"] for it in gym_items} == {"alpha", "beta"}
    empty = gym_items[0]["conditions"][0]["regions"][1]
    assert (empty["region"], empty["n_tokens"], empty["surprisal"]) == ("modifier", 0, 0.0)
    assert all(r["surprisal"] > 0 for it in gym_items for c in it["conditions"] for r in c["regions"] if r["n_tokens"])
    assert {"logprob_good", "logprob_bad", "n_attractors"} <= set(next(it for it in items if it["suite"] == "agr"))
