"""lm-generate (scripts/generate.py): text from a trained checkpoint, streamed token by token.

The command line's side of generation: overrides quoted so any prompt text goes through Hydra, options checked
into generate()'s arguments, prompts read, samples written as text or JSONL.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from omegaconf import DictConfig, OmegaConf

from lm.device import resolve_device, set_threads
from lm.errors import UserError
from lm.generation.fast_decode import make_engine
from lm.generation.generator import Sample, check_generate_args, generate
from lm.model import checkpoint


def run(cfg: DictConfig) -> None:
    options = options_from_config(cfg)
    prompts = read_prompts(cfg.prompt, cfg.prompt_file)
    device = resolve_device(cfg.device)
    set_threads(cfg.threads)
    loaded = checkpoint.load(cfg.ckpt, map_location=device)
    try:
        engine = make_engine(loaded.model, cfg.engine, device)
    except ValueError as e:
        raise UserError(str(e)) from None

    out = Output(cfg.output, cfg.num_samples)
    start, tokens = time.perf_counter(), 0
    try:
        for prompt in prompts:
            samples = generate(
                loaded.model, loaded.tokenizer, prompt, engine=engine, on_text=out.start(prompt), warn=warn, **options
            )
            out.write(samples)
            tokens += sum(len(s.ids) for s in samples)
    finally:
        out.close()
    seconds = time.perf_counter() - start
    print(
        f"[{tokens} tokens in {seconds:.2f} s, {tokens / max(seconds, 1e-9):.0f} tokens/s, seed {options['seed']}, "
        f"engine {engine.name}, {device}, {loaded.path}]",
        file=sys.stderr,
    )


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


SAMPLING_KEYS = {
    "max_new_tokens": int,
    "temperature": float,
    "top_k": int,
    "top_p": float,
    "greedy": bool,
    "num_samples": int,
    "seed": int,
    "stop_at_eos": bool,
}


def quote_text_overrides(argv: list[str]) -> list[str]:
    """Command-line arguments with the values of prompt=, prompt_file=, ckpt= and output= quoted for Hydra.

    Hydra's override grammar rejects unquoted non-ASCII text and reads commas as lists, so prompt=café or
    prompt=the cat, the dog would fail; quoted, any text goes through as it is. Values already quoted are kept.
    """
    out = []
    for arg in argv:
        match = re.fullmatch(r"(\+{0,2}(?:prompt|prompt_file|ckpt|output)=)(.*)", arg, flags=re.DOTALL)
        value = match.group(2) if match else ""
        if match and value != "null" and not (len(value) > 1 and value[0] == value[-1] and value[0] in "'\""):
            # inside '...', Hydra unescapes \' and backslashes that precede a quote or the end
            arg = match.group(1) + "'" + re.sub(r"(\\*)('|$)", _escape, value) + "'"
        out.append(arg)
    return out


def _escape(match: re.Match) -> str:
    return match.group(1) * 2 + ("\\'" if match.group(2) else "")


def options_from_config(cfg) -> dict:
    """generate()'s keyword arguments from the Hydra config, checked; a bad value raises UserError."""
    if OmegaConf.is_missing(cfg, "ckpt"):
        raise UserError("no checkpoint given: add ckpt=<checkpoint file or run directory>")
    opts = {k: _number(k, cfg[k], kind) for k, kind in SAMPLING_KEYS.items()}
    try:
        check_generate_args(
            opts["max_new_tokens"],
            opts["num_samples"],
            opts["temperature"],
            opts["top_k"],
            opts["top_p"],
            opts["greedy"],
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    if opts["seed"] is None:  # torch's own generator starts from the same seed in every process
        opts["seed"] = secrets.randbelow(2**31 - opts["num_samples"])
    return opts


def _number(name: str, value, kind: type):
    """value if it is a `kind` (or None); otherwise a UserError that names the setting."""
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]
    if value is None or ok:
        return value
    want = {bool: "true or false", int: "an integer", float: "a number"}[kind]
    raise UserError(f"{name} must be {want} (got {value!r})")


def read_prompts(prompt, prompt_file: str | None) -> list[str]:
    """The prompts: `prompt`, or the non-blank lines of `prompt_file`."""
    if prompt_file is None:
        return [str(prompt or "")]  # Hydra may hand over a number; "" means "start a new line"
    if prompt:
        raise UserError("give either prompt=... or prompt_file=..., not both")
    path = Path(prompt_file).expanduser()
    if not path.is_file():
        raise UserError(f"no prompt file at {path}")
    prompts = [line.rstrip("\r\n") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not prompts:
        raise UserError(f"prompt file {path} is empty: write one prompt per line")
    return prompts


class Output:
    """Plain text to stdout (streamed when there is one sample per prompt), or JSONL records to a file."""

    def __init__(self, path: str | None, num_samples: int, stdout: TextIO | None = None):
        self.path, self.stdout, self.count = path, stdout or sys.stdout, 0
        self.streaming = path is None and num_samples == 1
        self.file = None
        if path is not None:
            try:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
                self.file = open(Path(path).expanduser(), "w", encoding="utf-8")
            except OSError as e:
                raise UserError(f"cannot write output={path}: {e.strerror}") from None

    def start(self, prompt: str) -> Callable[[int, str], None] | None:
        """Before a prompt: when streaming, echo it and return the on_text callback that prints each piece."""
        if not self.streaming:
            return None
        self.stdout.write(("---\n" if self.count else "") + prompt)
        self.stdout.flush()
        return lambda row, piece: (self.stdout.write(piece), self.stdout.flush())

    def write(self, samples: list[Sample]) -> None:
        for s in samples:
            if self.file is not None:
                self.file.write(json.dumps(s.record(), ensure_ascii=False) + "\n")
            else:
                if not self.streaming:
                    self.stdout.write(f"--- sample {s.index} (seed {s.seed}) ---\n{s.prompt}{s.text}")
                if not (s.prompt + s.text).endswith("\n"):
                    self.stdout.write("\n")
            self.count += 1
        self.stdout.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
