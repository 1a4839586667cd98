"""Text generation: prompt -> one recurrent step per new token (state kept) -> text, streamed as it is produced.

The prompt is primed with `<eos>` (every training line follows one), read once, and its state is copied to
`num_samples` rows that decode as one batch. Sample i of a call draws from its own generator seeded `seed + i`,
so a sample can be reproduced alone, and batching does not change what is sampled.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tokenizers import Tokenizer

from lm.data.tokenizer import UNK, eos_id, kind_of
from lm.generation.fast_decode import make_engine
from lm.generation.sampling import check_args, sample_with_logprob
from lm.model.rnnlm import RNNLM


@dataclass
class Sample:
    prompt: str
    text: str  # the continuation: prompt + text is the whole passage
    ids: list[int] = field(repr=False)  # the generated token ids
    tokens: list[str] = field(repr=False)
    logprobs: list[float] = field(repr=False)  # log p(token | context) under the model (temperature 1, unfiltered)
    seed: int | None = None
    index: int = 0  # which of the num_samples

    @property
    def mean_logprob(self) -> float | None:
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else None

    def record(self) -> dict:
        return {
            "prompt": self.prompt,
            "sample": self.text,
            "tokens": self.tokens,
            "num_tokens": len(self.ids),
            "mean_logprob": self.mean_logprob,
            "seed": self.seed,
            "index": self.index,
        }


class TextStream:
    """Token ids in, text pieces out; the pieces concatenate to `lm.data.tokenizer.decode` of the ids.

    Word-level: words joined by spaces, `<eos>` a line break, `<unk>` shown. Character: the characters.
    Byte-level BPE: each token is a run of bytes and a character's UTF-8 bytes may span tokens, so the bytes go
    through an incremental UTF-8 decoder that holds an incomplete character back until its last byte arrives
    (invalid bytes become U+FFFD, one per maximal invalid run, as the tokenizer's own decoder does).
    """

    def __init__(self, tokenizer: Tokenizer, line_start: bool = True):
        self.tok, self.kind, self.eos = tokenizer, kind_of(tokenizer), eos_id(tokenizer)
        self.line_start = line_start  # word-level: no space before the first word of a line
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.byte_of = {ch: bytes([b]) for b, ch in byte_level_alphabet().items()} if self.kind == "bpe" else {}

    def push(self, token_id: int) -> str:
        if token_id == self.eos:
            text = self.flush() + "\n"
            self.line_start = True
            return text
        token = self.tok.id_to_token(token_id)
        if self.kind == "bpe":
            return self.utf8.decode(b"".join(self.byte_of.get(ch) or ch.encode() for ch in token))
        space = "" if self.line_start or self.kind == "char" else " "
        self.line_start = False
        return space + token

    def flush(self) -> str:
        """Whatever is held back: the bytes of a character that never completed decode as U+FFFD."""
        return self.utf8.decode(b"", final=True)


def byte_level_alphabet() -> dict[int, str]:
    """Byte -> the character that stands for it in byte-level BPE tokens (GPT-2's table, which
    `tokenizers.pre_tokenizers.ByteLevel` uses): printable Latin-1 bytes stand for themselves, the other 68
    bytes for chr(256), chr(257), ... in byte order."""
    printable = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)}
    table, shifted = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


def encode_prompt(tokenizer: Tokenizer, prompt: str) -> tuple[list[int], list[str]]:
    """Ids of `<eos>` + prompt, and the prompt's words (characters) that are not in the vocabulary."""
    ids = tokenizer.encode(prompt, add_special_tokens=False).ids
    unknown = []
    if kind_of(tokenizer) != "bpe":  # byte-level BPE covers every byte
        pieces = prompt.split() if kind_of(tokenizer) == "word" else list(prompt)
        unknown = list(dict.fromkeys(p for p in pieces if tokenizer.token_to_id(p) is None))
    return [eos_id(tokenizer)] + ids, unknown


def unknown_message(unknown: list[str]) -> str:
    return f"not in the vocabulary, read as {UNK}: " + ", ".join(repr(w) for w in unknown)


def check_generate_args(
    max_new_tokens: int, num_samples: int, temperature: float, top_k: int | None, top_p: float | None, greedy: bool
) -> None:
    """Raise ValueError naming the first bad argument."""
    if isinstance(max_new_tokens, bool) or int(max_new_tokens) != max_new_tokens or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0 (got {max_new_tokens})")
    if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 1:
        raise ValueError(f"num_samples must be an integer >= 1 (got {num_samples})")
    check_args(temperature, top_k, top_p, greedy)


def generate(
    model: RNNLM,
    tokenizer: Tokenizer,
    prompt: str = "",
    max_new_tokens: int = 100,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    num_samples: int = 1,
    seed: int | None = None,
    stop_at_eos: bool = False,
    engine="auto",
    on_text: Callable[[int, str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Sample]:
    """Continue `prompt` `num_samples` times (one batch). Returns one Sample per row.

    engine: 'auto' | 'reference' | 'fp32' | 'bf16' (see lm.generation.fast_decode) or an engine from `make_engine`.
    seed: sample i uses a generator seeded seed + i; None draws a base seed from torch's global generator.
    on_text(row, piece): called with each new piece of text as soon as it is complete (streaming).
    warn: where the unknown-word warning goes (default: warnings.warn).
    """
    check_generate_args(max_new_tokens, num_samples, temperature, top_k, top_p, greedy)
    ids, unknown = encode_prompt(tokenizer, prompt)
    if unknown:
        (warn or (lambda m: warnings.warn(m, stacklevel=3)))(f"prompt {prompt!r}: " + unknown_message(unknown))
    if seed is None:
        seed = int(torch.randint(2**31 - num_samples, ()).item())
    device = next(model.parameters()).device
    if isinstance(engine, str):
        engine = make_engine(model, engine, device)
    num_samples, seed = int(num_samples), int(seed)
    generators = [torch.Generator().manual_seed(seed + i) for i in range(num_samples)]
    streams = [TextStream(tokenizer, line_start=not prompt.strip()) for _ in range(num_samples)]
    settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)

    was_training = model.training
    model.eval()  # dropout off
    try:
        with torch.inference_mode():
            prompt_ids = torch.tensor([ids], dtype=torch.long, device=device)
            rows = run_decoder(
                engine,
                prompt_ids,
                num_samples,
                int(max_new_tokens),
                settings,
                generators,
                eos_id(tokenizer) if stop_at_eos else None,
                _piecewise(streams, on_text),
            )
    finally:
        model.train(was_training)
    samples = []
    for i, (row_ids, lps, pieces) in enumerate(rows):
        pieces.append(_piecewise(streams, on_text, flush=True)(i, None))  # bytes held back at the end
        tokens = [tokenizer.id_to_token(t) for t in row_ids]
        samples.append(Sample(prompt, "".join(pieces), row_ids, tokens, lps, seed + i, i))
    return samples


def _piecewise(streams: list[TextStream], on_text, flush: bool = False):
    """on_token(row, id) -> text piece (or the held-back rest when flush), also handed to on_text."""

    def on_token(row: int, token_id: int | None) -> str:
        piece = streams[row].flush() if flush else streams[row].push(token_id)
        if piece and on_text is not None:
            on_text(row, piece)
        return piece

    return on_token


def run_decoder(
    engine,
    prompt_ids: torch.Tensor,
    batch: int,
    max_new_tokens: int,
    settings: dict,
    generators: list[torch.Generator],
    stop_id: int | None,
    on_token: Callable[[int, int], str],
):
    """The decoding loop. prompt_ids (1, T). Returns per row (ids, log-probs, text pieces).

    Rows that hit `stop_id` stop recording; the batch steps on until every row has stopped.
    """
    logits, state = engine.prefill(prompt_ids, batch)  # (B, V): the prompt is read once
    out = [([], [], []) for _ in range(batch)]
    done = [False] * batch
    for t in range(max_new_tokens):
        tokens, logprobs = sample_with_logprob(logits, generator=generators, **settings)  # (B,), (B,)
        for row, (tok, lp) in enumerate(zip(tokens.tolist(), logprobs.tolist())):
            if done[row]:
                continue
            ids, lps, pieces = out[row]
            ids.append(tok)
            lps.append(lp)
            pieces.append(on_token(row, tok))
            done[row] = tok == stop_id
        if all(done) or t + 1 == max_new_tokens:
            break
        logits, state = engine.step(tokens, state)  # one step per token: constant cost
    return out
