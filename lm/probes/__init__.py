"""Probes of long-range dependencies: minimal pairs and test suites scored by a language model, and surprisal.

    from lm.probes import Scorer, SurprisalScorer, read_suites, builtin_suite, accuracy_by
    scorer = Scorer(model, tokenizer)
    scores = scorer.score(suite.pairs)           # Score(good, bad, correct, oov) per pair
    SurprisalScorer.load(path).word_surprisal(["the keys to the cabinet are here"])   # bits per word

See scoring.py (log-probabilities), surprisal.py (bits per token, word, sentence), records.py (JSONL minimal
pairs), readers/ (SyntaxGym, Linzen, Gulordava files as they come), regions.py and formula.py (SyntaxGym
suites), suites/ (the built-in suites, drawn from the corpus's constructions) and report.py (accuracy by condition with
confidence intervals). The evaluate command that runs them on checkpoints is lm/cli/evaluate.py.
"""

from lm.probes.readers import read_suites
from lm.probes.records import Pair, Suite, read_dir, read_jsonl
from lm.probes.report import accuracy_by
from lm.probes.scoring import Score, Scorer, pair_correct
from lm.probes.suites import BUILTIN_SUITES, builtin_suite
from lm.probes.surprisal import SurprisalScorer, TokenSurprisal, WordSurprisal
from lm.results.stats import wilson_interval

__all__ = [
    "Pair",
    "Suite",
    "read_jsonl",
    "read_dir",
    "read_suites",
    "Scorer",
    "Score",
    "pair_correct",
    "accuracy_by",
    "wilson_interval",
    "builtin_suite",
    "BUILTIN_SUITES",
    "SurprisalScorer",
    "TokenSurprisal",
    "WordSurprisal",
]
