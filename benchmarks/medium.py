"""The model the generation and probe benchmarks time: a trained checkpoint, or the random ptb_medium network."""

from __future__ import annotations

import torch

from benchmarks.recipe import MEDIUM, MEDIUM_SHAPE
from lm.data.tokenizer import train_tokenizer
from lm.model import checkpoint
from lm.model.rnnlm import RNNLM


def checkpoint_or_medium(ckpt: str | None, lines, vocab_size: int | None = None):
    """(model, tokenizer, description): the checkpoint, or for timing alone the random 2x650 tied PTB model of
    Zaremba et al. in eval mode over a word tokenizer of `lines()` (log-probs near uniform)."""
    if ckpt:
        loaded = checkpoint.load(ckpt)
        return loaded.model, loaded.tokenizer, f"checkpoint {loaded.path}"
    tok = train_tokenizer("word", lines(), vocab_size=vocab_size)
    torch.manual_seed(0)
    model = RNNLM(tok.get_vocab_size(), *MEDIUM_SHAPE, dropout=MEDIUM["dropout"], tie_weights=True).eval()
    return model, tok, "random 2x650 tied (untrained): timing only"
