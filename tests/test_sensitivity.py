"""Sensitivity to the subject (lm/probes/sensitivity.py): the AUC against a brute-force count, its interval, and
what it separates from accuracy (evaluate's sensitivity.csv: tests/test_probe_evaluate.py)."""

import random

import numpy as np
import pytest

from lm.probes.sensitivity import Contrast, auc, auc_interval, sensitivity_by, sensitivity_rows

AGREEMENT = Contrast("subject_number", ("sg", "pl"), shown=("n_attractors",))


def brute_auc(a, b):
    return sum((x > y) + 0.5 * (x == y) for x in a for y in b) / (len(a) * len(b))


def test_auc_is_the_pairwise_count_with_ties_as_halves():
    rng = random.Random(0)
    for _ in range(20):
        a = [rng.choice(range(-3, 4)) for _ in range(rng.randint(1, 15))]  # small integers: many ties
        b = [rng.choice(range(-3, 4)) for _ in range(rng.randint(1, 15))]
        assert auc(a, b) == pytest.approx(brute_auc(a, b))
    assert auc([2.0, 3.0], [0.0, 1.0]) == 1.0 and auc([0.0], [5.0]) == 0.0 and auc([1.0, 1.0], [1.0]) == 0.5
    assert auc([], [1.0]) != auc([], [1.0])  # nan without items


def test_the_interval_holds_the_value_and_narrows_with_items():
    lo, hi = auc_interval(0.8, 20, 20)
    lo2, hi2 = auc_interval(0.8, 500, 500)
    assert lo < lo2 < 0.8 < hi2 < hi <= 1.0
    assert auc_interval(1.0, 5, 5) == (1.0, 1.0) and all(v != v for v in auc_interval(0.5, 0, 5))


def test_the_interval_matches_a_bootstrap_and_knows_which_class_is_which():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 1, 30), rng.normal(0, 1, 120)  # unequal classes: their roles in the formula differ
    value = auc(a, b)
    boot = [auc(rng.choice(a, len(a)), rng.choice(b, len(b))) for _ in range(2000)]
    lo, hi = auc_interval(value, len(a), len(b))
    assert (hi - lo) / 2 == pytest.approx(1.96 * np.std(boot), rel=0.2)
    assert auc_interval(value, len(b), len(a)) != (lo, hi)


def items(margins_sg, margins_pl, **meta):
    """Scored agreement items: a margin is log p(good) - log p(bad)."""
    out = [{"subject_number": "sg", "margin": m, "correct": m > 0} | meta for m in margins_sg]
    return out + [{"subject_number": "pl", "margin": m, "correct": m > 0} | meta for m in margins_pl]


def test_a_model_that_prefers_one_form_but_follows_the_subject_is_at_chance_and_fully_sensitive():
    # log-odds of the singular form, noise < 1: 4 after a singular subject, 2 after a plural one
    rng = random.Random(1)
    sg = [4 + rng.uniform(-0.9, 0.9) for _ in range(50)]  # singular is good: margin = log-odds
    pl = [-2 + rng.uniform(-0.9, 0.9) for _ in range(50)]  # plural is good: margin = -log-odds
    its = items(sg, pl)
    assert sum(it["correct"] for it in its) / len(its) == 0.5
    (row,) = sensitivity_by(its, AGREEMENT)
    assert row["auc"] == 1.0  # every singular subject moves the choice further towards "sg" than any plural one
    assert sensitivity_by(its, Contrast("subject_number", ("pl", "sg")))[0]["auc"] == 1.0  # the classes' order
    # the other way round (the nearest noun's number decides, and it is the other one): AUC 0, accuracy 0.5 again
    (row,) = sensitivity_by(items([-x for x in pl], [-x for x in sg]), AGREEMENT)
    assert row["auc"] == 0.0


def test_rows_by_field_leave_out_other_classes_and_the_contrast_field_itself():
    its = items([1.0, 2.0], [0.5, 1.5], n_attractors=0) + items([-1.0], [-2.0], n_attractors=2)
    its += [{"subject_number": "pl", "margin": None, "correct": None, "n_attractors": 0}]  # out of vocabulary
    its += [{"subject_number": "du", "margin": 9.0, "correct": True, "n_attractors": 0}]  # no class of the contrast
    rows = sensitivity_rows(its, AGREEMENT, ["subject_number", "n_attractors"])  # not by its own field
    got = {(r["field"], r["value"]): (r["auc"], r["n_a"], r["n_b"]) for r in rows}
    assert set(got) == {("all", "all"), ("n_attractors", "0"), ("n_attractors", "2")}
    assert got["n_attractors", "2"] == (0.0, 1, 1)  # towards sg: -1 after the singular subject, +2 after the plural
    assert got["n_attractors", "0"][1:] == (2, 2) and got["all", "all"][1:] == (3, 3)
    gender = Contrast("gender", ("m", "f"), {"number": "sg"})
    plural = [{"gender": "f", "number": "pl", "margin": 1.0}, {"gender": "m", "number": "sg", "margin": 1.0}]
    assert sensitivity_rows(plural, gender, []) == []  # a class with no item: no row
    singular = plural + [{"gender": "f", "number": "sg", "margin": -2.0}]
    rows = sensitivity_rows(singular, gender, ["number"])  # the field `where` fixes: only a copy of "all"
    assert [(r["field"], r["auc"]) for r in rows] == [("all", 0.0)]  # towards m: 1 for john, 2 for mary
    assert sensitivity_rows(its, None, ["n_attractors"]) == []
