"""Generate text from a trained checkpoint, streamed token by token.

    python scripts/generate.py ckpt=outputs/builtin/<time> prompt="the"
    python scripts/generate.py ckpt=best.ckpt prompt_file=prompts.txt num_samples=4 top_p=0.9 output=samples.jsonl
"""
import sys
import time

import hydra
from omegaconf import DictConfig

from lm import checkpoint, generation
from lm.device import resolve_device, set_threads
from lm.errors import UserError, exit_on_user_error
from lm.fast_decode import make_engine


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    options = generation.options_from_config(cfg)
    prompts = generation.read_prompts(cfg.prompt, cfg.prompt_file)
    device = resolve_device(cfg.device)
    set_threads(cfg.threads)
    loaded = checkpoint.load(cfg.ckpt, map_location=device)
    try:
        engine = make_engine(loaded.model, cfg.engine, device)
    except ValueError as e:
        raise UserError(str(e)) from None

    out = generation.Output(cfg.output, cfg.num_samples)
    start, tokens = time.perf_counter(), 0
    try:
        for prompt in prompts:
            samples = generation.generate(loaded.model, loaded.tokenizer, prompt, engine=engine,
                                          on_text=out.start(prompt), warn=warn, **options)
            out.write(samples)
            tokens += sum(len(s.ids) for s in samples)
    finally:
        out.close()
    seconds = time.perf_counter() - start
    print(f"[{tokens} tokens in {seconds:.2f} s, {tokens / max(seconds, 1e-9):.0f} tokens/s, seed {options['seed']}, "
          f"engine {engine.name}, {device}, {loaded.path}]", file=sys.stderr)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.argv = generation.quote_text_overrides(sys.argv)  # prompt=café, prompt="a, b": text as typed
    main()
