"""Probe checkpoints for long-range dependencies, or measure their perplexity.

    python scripts/evaluate.py ckpt=outputs/builtin/<time>                        built-in suites, table + plots
    python scripts/evaluate.py ckpt=[run_a,run_b] probes=[agreement,pairs.jsonl]  side by side, your own pairs
    python scripts/evaluate.py ckpt=<run> probes=[syntaxgym:number_prep.json,subj_agr_filtered.text,generated.tab]
    python scripts/evaluate.py ckpt=best.ckpt task=perplexity perplexity.split=test
    python scripts/evaluate.py ckpt=<run> task=surprisal file=sentences.txt          one row per word, surprisal.tsv
"""

import hydra
from omegaconf import DictConfig

from lm.errors import exit_on_user_error
from lm.probes.evaluate import evaluate


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
