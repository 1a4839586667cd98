"""Look inside trained models: gate traces, state probes, unit ablation, gradients through time, agreement.

    python scripts/analyze.py ckpt=outputs/builtin/<time>                         every analysis, one model
    python scripts/analyze.py ckpt=outputs/builtin/<time> analysis=ablation      one analysis
    python scripts/analyze.py ckpt=outputs/rnn_vs_lstm/multirun_<time> analysis=[agreement,gradients]
"""

import hydra
from omegaconf import DictConfig

from lm.analysis.run import analyze
from lm.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="analyze")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    analyze(cfg)


if __name__ == "__main__":
    main()
