"""The benchmark tools behind BENCHMARKS.md, run from the repository root as modules:

python -m benchmarks.run            training, generation and probe scoring, each beside its plain PyTorch version
python -m benchmarks.step           one training step's parts, A against B (dropout masks, threads, AWD options)
python -m benchmarks.generation     generation tokens/s: the fused engine against the per-token model loop
python -m benchmarks.probes         probe scoring pairs/s and SyntaxGym items/s against scoring each sentence alone
python -m benchmarks.baseline_loop  the plain PyTorch training loop (pytorch/examples' word_language_model)
"""
