"""lstm-lm: LSTM language models, their training, generation, probes and analyses.

The package, one folder per idea (each folder's __init__ says more):

    data/        text in: sources (files, the hub), the built-in corpus (grammar.py, whose constructions.py and
                 phrases.py the probe suites share, over one Lexicon schema), the tokenizers, the token cache,
                 BPTT batching, the Lightning DataModule, the fiction corpus builder (gutenberg.py), what a
                 text says about pronoun antecedents (antecedents.py)
    model/       plain PyTorch, no Lightning or Hydra: RNNLM (rnnlm.py), the adaptive softmax, AWD-LSTM's
                 regularizers/, the lecture's cells written out (cells.py), the cache pointer, the checkpoint
                 and export formats
    training/    the LightningModule (module.py), configs into a run (train.py), optimisers and schedules,
                 NT-ASGD, explicit negative examples (negatives.py), the non-finite guard, checkpoints for
                 long runs, RNG state, loggers, callbacks/, perplexity of a split
    generation/  text from a model: generator.py, sampling.py, fast_decode.py
    probes/      minimal pairs and suites scored by a model: the engine, the built-in suites/, readers/ for
                 BLiMP, SyntaxGym and Linzen / Gulordava files, surprisal, per-condition accuracy and AUC
    analysis/    inside the LSTM: gates, state probes, unit ablation, gradients against distance
    results/     what probes and analyses share: intervals, tables, CSV / JSON, plots, W&B, labelled checkpoints
    cli/         the five commands (lm-train, lm-generate, lm-evaluate, lm-analyze, lm-export): configs in
    config.py, console.py, errors.py, paths.py, device.py: Hydra resolvers, messages, one-line errors, shipped
                 files, devices and threads

Outside the package: conf/ (Hydra configs), scripts/ (the same commands from a checkout, corpus builders),
benchmarks/ (the tools behind BENCHMARKS.md), data/ (the lexicons), tests/.
"""


def __getattr__(name):  # lm.generate without importing the generation code at `import lm`
    if name == "generate":
        from lm.generation.generator import generate

        return generate
    raise AttributeError(f"module 'lm' has no attribute {name!r}")
