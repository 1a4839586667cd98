"""Look inside trained models: gate traces, state probes, unit ablation, gradients through time, agreement.

python scripts/analyze.py ckpt=outputs/builtin/<time>                         every analysis, one model
python scripts/analyze.py ckpt=outputs/builtin/<time> analysis=ablation      one analysis
python scripts/analyze.py ckpt=outputs/rnn_vs_lstm/multirun_<time> analysis=[agreement,gradients]
"""

from lm.cli import analyze

if __name__ == "__main__":
    analyze()
