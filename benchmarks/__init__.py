"""The benchmark tools behind BENCHMARKS.md, run from the repository root as modules:

python -m benchmarks.run            training, generation and probe scoring, each beside its plain PyTorch version
python -m benchmarks.step           one training step's parts, A against B (dropout masks, threads, AWD options)
python -m benchmarks.generation     generation tokens/s: the fused engine against the per-token model loop
python -m benchmarks.probes         probe scoring pairs/s and SyntaxGym items/s against scoring each sentence alone
python -m benchmarks.baseline_loop  the plain PyTorch training loop (pytorch/examples' word_language_model)

benchmarks.run's parts: cases.py (what each case trains), training.py (the Lightning path and the plain loop),
inference.py (generation and probe scoring on the trained models), timing.py (device-synchronised clocks, the
matmul ceiling), report.py (tables and JSON). recipe.py holds the ptb_medium recipe the plain loop and step.py
default to; medium.py the model generation.py and probes.py time (a checkpoint or that network, untrained).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root: conf/, scripts/, data/
