"""lstm-lm: LSTM language models, their training, generation, probes and analyses."""

from omegaconf import OmegaConf


def _cpu_precision() -> str:
    from lm.device import cpu_precision
    return cpu_precision()


# conf/trainer/cpu.yaml: precision: ${cpu_precision:} (bf16-mixed on CPUs with bf16 instructions, else 32-true)
OmegaConf.register_new_resolver("cpu_precision", _cpu_precision, replace=True)


def __getattr__(name):  # lm.generate without importing the generation code at `import lm`
    if name == "generate":
        from lm.generation import generate
        return generate
    raise AttributeError(f"module 'lm' has no attribute {name!r}")
