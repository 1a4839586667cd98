"""Region suites (SyntaxGym's shape): items of conditions, conditions of numbered regions, and predictions that
compare region surprisals across conditions. Read by lm/probes/readers/syntaxgym.py, scored here.

    item 1   condition match_sing      regions  1 "The author"  2 ""  3 "next to the senators"  4 "is"  5 "good ."
             condition mismatch_sing   regions  1 "The author"  2 ""  3 "next to the senators"  4 "are" 5 "good ."
    prediction  (4;%match_sing%) < (4;%mismatch_sing%)

A condition's sentence is its non-empty region contents joined by spaces; a region's surprisal is the suite's
metric (SyntaxGym's: sum by default, mean, median, range, max, min) over the bits of its tokens (lm/probes/
surprisal.py); an empty region sums to 0. All sentences of a suite are scored in one batched call. An item is
right when every prediction holds; a prediction that reads a region with an out-of-vocabulary word is None (not
scored), and so is the item.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from lm.data.tokenizer import Span
from lm.probes import formula
from lm.probes.report import accuracy_by, guess_fields, suite_rows, suite_summary
from lm.probes.scoring import Scorer
from lm.probes.surprisal import SurprisalScorer

METRICS = {"sum": np.sum, "mean": np.mean, "median": np.median, "range": np.ptp, "max": np.max, "min": np.min}


@dataclass(frozen=True)
class Condition:
    name: str
    regions: tuple[tuple[int, str], ...]  # (region_number, content)


@dataclass(frozen=True)
class RegionItem:
    number: object  # the suite's item_number
    conditions: tuple[Condition, ...]
    where: str = ""


@dataclass(frozen=True)
class Prediction:
    text: str  # as the suite writes it
    tree: object  # lm.probes.formula's parse of it


@dataclass
class RegionSuite:
    name: str
    items: list[RegionItem]
    predictions: list[Prediction]
    metric: str = "sum"
    region_names: dict[int, str] = field(default_factory=dict)
    source: str = ""
    group_by: tuple[str, ...] | None = None
    notes: dict = field(default_factory=dict)


def layout(regions: tuple[tuple[int, str], ...]) -> tuple[str, list[Span | None]]:
    """The sentence, and each region's (start, end) in it (None for an empty region)."""
    parts, spans, pos = [], [], 0
    for _, content in regions:
        text = " ".join(content.split())
        if not text:
            spans.append(None)
            continue
        start = pos + (1 if parts else 0)
        parts.append(text)
        spans.append((start, start + len(text)))
        pos = start + len(text)
    return " ".join(parts), spans


def metric_value(bits: np.ndarray, metric: str) -> float:
    if not len(bits):
        return 0.0 if metric == "sum" else float("nan")
    return float(METRICS[metric](bits))


def score_items(surprisal: SurprisalScorer, suite: RegionSuite) -> list[dict]:
    """One record per item: its conditions with sentence and per-region surprisal, each prediction's result,
    `correct` (every prediction holds; None when one could not be scored) and the out-of-vocabulary words."""
    texts, spans = [], []
    for item in suite.items:
        for cond in item.conditions:
            sentence, sp = layout(cond.regions)
            texts.append(sentence)
            spans.append(sp)
    scored = iter(surprisal.span_surprisals(texts, [[s for s in sp if s] for sp in spans]))
    laid = iter(zip(texts, spans))
    return [_item_record(item, suite, [(next(laid), next(scored)) for _ in item.conditions]) for item in suite.items]


def _item_record(item: RegionItem, suite: RegionSuite, scored) -> dict:
    values, conditions, oov = {}, [], []
    for cond, ((sentence, spans), results) in zip(item.conditions, scored):
        results, regions = iter(results), []
        for (number, content), span in zip(cond.regions, spans):
            res = next(results) if span else None
            bits = res.bits if res else np.zeros(0)
            value = float("nan") if res and res.oov else metric_value(bits, suite.metric)
            values[cond.name, number] = value
            oov += list(res.oov) if res else []
            regions.append(
                {
                    "region_number": number,
                    "region": suite.region_names.get(number),
                    "content": content,
                    "surprisal": value,
                    "n_tokens": len(bits),
                }
            )
        conditions.append({"condition_name": cond.name, "sentence": sentence, "regions": regions})
    results = [formula.evaluate(p.tree, values) for p in suite.predictions]
    correct = None if any(r is None for r in results) else all(results)
    return {
        "item_number": item.number,
        "where": item.where,
        "correct": correct,
        "predictions": results,
        "oov": list(dict.fromkeys(oov)),
        "metric": suite.metric,
        "conditions": conditions,
    }


def prediction_rows(records: list[dict], suite: RegionSuite) -> list[dict]:
    """Accuracy of each prediction alone: field "prediction", value its index (0, 1, ... as SyntaxGym numbers them)."""
    per = [{"prediction": i, "correct": r["predictions"][i]} for r in records for i in range(len(suite.predictions))]
    return accuracy_by(per, "prediction")


def score_region_suite(scorer: Scorer, suite: RegionSuite, group_by: list[str] | None) -> tuple[list, list, dict]:
    """(result rows, scored items, summary), as lm.cli.evaluate.score_suite gives for a suite of pairs."""
    start = time.perf_counter()
    records = score_items(SurprisalScorer(scorer), suite)
    seconds = time.perf_counter() - start
    items = [{"item_number": r["item_number"], "correct": r["correct"], "_record": r} for r in records]
    plain = [{k: v for k, v in it.items() if k != "_record"} for it in items]
    fields = group_by if group_by else list(suite.group_by or guess_fields(plain))
    rows = [{"suite": suite.name} | r for r in suite_rows(plain, fields) + prediction_rows(records, suite)]
    oov = Counter(w for r in records for w in r["oov"])
    summary = suite_summary(suite, [r["correct"] for r in records], oov, seconds, scorer.precision)
    summary["predictions"] = [p.text for p in suite.predictions]
    return rows, items, summary
