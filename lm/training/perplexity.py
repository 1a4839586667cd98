"""Perplexity of a checkpoint on a split of its own corpus (or on any text file), as training measures it:
the split as one token stream in `batch_size` rows, read in `bptt` chunks with the state carried across them,
exp(total NLL / total predicted tokens). With `pointer` on, each token's probability mixes in the continuous cache
pointer (lm/model/pointer.py), whose cache is carried across chunks with the state."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lm.data.batching import batchify, chunk_bounds
from lm.data.cache import token_ids
from lm.data.sources import SPLITS, TextSource, make_source
from lm.errors import UserError
from lm.model.pointer import CachePointer, pointer_settings
from lm.model.rnnlm import RNNLM, detach_state


def stream_perplexity(
    model: RNNLM, ids: np.ndarray, batch_size: int = 10, bptt: int = 35, pointer: dict | None = None
) -> dict:
    """{"loss", "ppl", "tokens", "pointer"} of a token stream; ValueError when it is too short for batch_size rows.
    `pointer`: None / "off", or {"window", "theta", "lambda"} for the cache pointer (window 0: off); "pointer" in
    the result is the settings used, None when off. Bad pointer settings raise UserError."""
    if batch_size < 1 or bptt < 1:
        raise ValueError(f"batch_size and bptt must be >= 1, got {batch_size}, {bptt}")
    settings = pointer_settings(pointer)
    cache = CachePointer(settings["window"], settings["theta"], settings["lambda"]) if settings else None
    device = next(model.parameters()).device
    grid = batchify(ids, batch_size)  # (B, L)
    nll, count, state = 0.0, 0, None
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start, t in chunk_bounds(grid.shape[1], bptt):
                block = torch.from_numpy(np.asarray(grid[:, start : start + t + 1], dtype=np.int64)).to(device)
                inputs, targets = block[:, :-1], block[:, 1:].contiguous()  # the adaptive softmax's bucketize wants it
                if cache is None:
                    logits, state = model(inputs, state)
                    nll += float(F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="sum"))
                else:
                    feats, state = model.features(inputs, state)  # (B, t, D)
                    nll -= float(cache(feats, targets, model.target_log_probs(feats, targets)).sum())
                state = detach_state(state)
                count += targets.numel()
    finally:
        model.train(was_training)
    loss = nll / count
    return {"loss": loss, "ppl": math.exp(loss), "tokens": count, "pointer": settings}


def split_perplexity(
    model: RNNLM,
    tokenizer,
    config: dict,
    split: str,
    cache_dir: str | Path,
    file: str | None = None,
    batch_size: int | None = None,
    bptt: int | None = None,
    pointer: dict | None = None,
) -> dict:
    """Perplexity on `split` of the corpus the checkpoint's config names, or on `file` (one line per example);
    `pointer` as stream_perplexity takes it."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    pointer = pointer_settings(pointer)  # bad settings stop here, before the corpus is read
    data = dict((config or {}).get("data") or {})
    if file:
        source = TextSource({s: file for s in SPLITS})
    elif not data:
        raise UserError("this checkpoint's config names no corpus: give perplexity.file=FILE")
    else:
        source = make_source(data)
    ids = token_ids(source, split, tokenizer, Path(cache_dir))
    b = batch_size or int(data.get("eval_batch_size", 10))
    t = bptt or int(data.get("bptt", 35))
    try:
        out = stream_perplexity(model, ids, b, t, pointer)
    except ValueError as e:
        raise UserError(f"{e}; use a larger text or a smaller perplexity.batch_size") from None
    return out | {"split": split, "file": file, "source": source.name}


def safe_exp(x: float) -> float:
    """Perplexity from a mean NLL: inf, not an OverflowError, for a diverged model."""
    return math.exp(x) if x < 709 else math.inf
