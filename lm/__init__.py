"""lstm-lm: LSTM language models, their training, generation, probes and analyses."""


def __getattr__(name):  # lm.generate without importing the generation code at `import lm`
    if name == "generate":
        from lm.generation.generator import generate

        return generate
    raise AttributeError(f"module 'lm' has no attribute {name!r}")
