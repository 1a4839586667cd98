"""One suite scored under one model: result rows, scored items and a summary, for the evaluate command and the
training callback alike."""

from __future__ import annotations

import time
from collections import Counter

from lm.probes.regions import RegionSuite, score_region_suite
from lm.probes.report import guess_fields, suite_rows, suite_summary
from lm.probes.scoring import Scorer
from lm.probes.sensitivity import sensitivity_rows


def score_suite(scorer: Scorer, suite, group_by: list[str] | None) -> tuple[list[dict], list[dict], dict]:
    """(result rows, scored items, summary) of one suite under one scorer; an item's "_record" is its line in
    items.jsonl."""
    if isinstance(suite, RegionSuite):
        return score_region_suite(scorer, suite, group_by)
    start = time.perf_counter()
    scores = scorer.score(suite.pairs)
    seconds = time.perf_counter() - start
    items = []
    for pair, s in zip(suite.pairs, scores):
        items.append(pair.meta | {"correct": s.correct, "n_sides": 1 + len(pair.bad), "margin": s.margin})
    own = ("n_sides", "margin")
    fields = (
        group_by
        if group_by
        else list(suite.group_by or guess_fields([{k: v for k, v in it.items() if k not in own} for it in items]))
    )
    rows = [{"suite": suite.name} | r for r in suite_rows(items, fields)]
    summary = suite_summary(
        suite, [s.correct for s in scores], Counter(w for s in scores for w in s.oov), seconds, scorer.precision
    )
    summary["sensitivity"] = [{"suite": suite.name} | r for r in sensitivity_rows(items, suite.contrast, fields)]
    records = [
        {"where": pair.where}
        | pair.record()
        | {"logprob_good": s.good, "logprob_bad": list(s.bad), "correct": s.correct, "oov": list(s.oov)}
        for pair, s in zip(suite.pairs, scores)
    ]
    return rows, [it | {"_record": rec} for it, rec in zip(items, records)], summary
