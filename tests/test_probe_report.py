"""Accuracy by condition, Wilson intervals, tables and W&B metric names."""

import math

import pytest

from lm.probes.report import accuracy_by, guess_fields, suite_rows
from lm.probes.wandb_runs import probe_metrics
from lm.results.stats import wilson_interval
from lm.results.tables import accuracy_table
from lm.results.wandb_log import run_id, training_run


def test_wilson_interval_matches_known_values():
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="correct"):
        wilson_interval(3, 2)


ITEMS = [
    {"c": "pp", "d": 1, "correct": True},
    {"c": "pp", "d": 2, "correct": False},
    {"c": "rc", "d": 2, "correct": True},
    {"c": "rc", "d": 10, "correct": None},
]


def test_accuracy_by_counts_groups_and_out_of_vocabulary_items():
    (all_,) = accuracy_by(ITEMS)
    assert (all_["n"], all_["correct"], all_["n_oov"], all_["acc"]) == (3, 2, 1, 2 / 3)
    rows = accuracy_by(ITEMS, ["d"])
    assert [(r["value"], r["n"], r["correct"], r["n_oov"]) for r in rows] == [
        ("1", 1, 1, 0),
        ("2", 2, 1, 0),
        ("10", 0, 0, 1),
    ]  # numbers sort as numbers
    assert math.isnan(rows[2]["acc"])
    crossed = accuracy_by(ITEMS, ("c", "d"))
    assert [r["value"] for r in crossed] == ["pp+1", "pp+2", "rc+2", "rc+10"] and crossed[0]["field"] == "c+d"
    with pytest.raises(ValueError, match="correct"):
        accuracy_by([{"c": "pp"}], "c")


def test_suite_rows_and_guessed_fields():
    rows = suite_rows(ITEMS, ["c", "c+d", "missing"])
    assert [r["field"] for r in rows] == ["all", "c", "c", "c+d", "c+d", "c+d", "c+d"]
    blimp = [{"UID": "x", "pairID": str(i), "lexically_identical": i % 2 == 0, "correct": True} for i in range(20)]
    assert guess_fields(blimp) == ("lexically_identical",)  # constant and unique fields are not conditions


def test_table_puts_checkpoints_side_by_side():
    rows = [{"ckpt": ck, "suite": "agr"} | r for ck in ("a", "b") for r in suite_rows(ITEMS, ["c"])]
    table = accuracy_table(rows)
    head, _, first, second, third = table.splitlines()
    assert head.split() == ["suite", "condition", "a", "b"]
    assert first.startswith("agr") and "0.667 [" in first and "n=3 oov=1" in first
    assert second.split()[0] == "c=pp" and third.split()[0] == "c=rc"


def test_probe_metric_names():
    rows = [{"suite": "agr"} | r for r in suite_rows(ITEMS, ["c", "d"])]
    m = probe_metrics(rows)
    assert m["probe/agr/acc"] == pytest.approx(2 / 3) and m["probe/agr/c=pp/acc"] == 0.5
    assert "probe/agr/d=10/acc" not in m  # no scored item


def test_training_run_is_found_from_the_checkpoint(tmp_path):
    assert run_id("offline-run-20260101_120000-ab12cd34") == "ab12cd34"
    assert run_id("run-20260101_120000-xyz") == "xyz" and run_id("latest-run") is None
    run = tmp_path / "outputs" / "builtin" / "t"
    (run / "checkpoints").mkdir(parents=True)
    ckpt = run / "checkpoints" / "best.ckpt"
    assert training_run(ckpt, {}) is None
    (run / "wandb" / "offline-run-20260101_120000-ab12cd34").mkdir(parents=True)
    assert training_run(ckpt, {}) == ("ab12cd34", run)
    moved = tmp_path / "elsewhere.ckpt"  # a copied checkpoint: its config still names the run directory
    assert training_run(moved, {"paths": {"run_dir": str(run)}}) == ("ab12cd34", run)
