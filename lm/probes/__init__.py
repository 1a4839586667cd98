"""Probes of long-range dependencies: minimal pairs scored by a language model.

    from lm.probes import Scorer, read_jsonl, builtin_suite, accuracy_by
    scorer = Scorer(model, tokenizer)
    scores = scorer.score(suite.pairs)           # Score(good, bad, correct, oov) per pair

See scoring.py (log-probabilities), records.py (JSONL minimal pairs), suites/ (built-in generators),
report.py (accuracy by condition with confidence intervals) and evaluate.py (the logic behind
scripts/evaluate.py).
"""

from lm.probes.records import Pair, Suite, read_dir, read_jsonl
from lm.probes.report import accuracy_by, wilson_interval
from lm.probes.scoring import Score, Scorer, continuation_logprob, pair_correct, token_logprobs
from lm.probes.suites import BUILTIN_SUITES, builtin_suite

__all__ = ["Pair", "Suite", "read_jsonl", "read_dir", "Scorer", "Score", "continuation_logprob",
           "token_logprobs", "pair_correct", "accuracy_by", "wilson_interval", "builtin_suite", "BUILTIN_SUITES"]
