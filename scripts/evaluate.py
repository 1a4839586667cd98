"""Probe checkpoints for long-range dependencies, or measure their perplexity.

python scripts/evaluate.py ckpt=outputs/builtin/<time>                        built-in suites, table + plots
python scripts/evaluate.py ckpt=[run_a,run_b] probes=[agreement,pairs.jsonl]  side by side, your own pairs
python scripts/evaluate.py ckpt=<run> probes=[syntaxgym:number_prep.json,subj_agr_filtered.text,generated.tab]
python scripts/evaluate.py ckpt=best.ckpt task=perplexity perplexity.split=test
python scripts/evaluate.py ckpt=<run> task=surprisal file=sentences.txt          one row per word, surprisal.tsv
"""

from lm.cli import evaluate

if __name__ == "__main__":
    evaluate()
