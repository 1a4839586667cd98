"""Tokenize once: the tokenizer and each split's token ids are cached on disk, keyed by corpus and tokenizer.

Ids are written batch by batch to a flat binary file and read back as a memory-mapped numpy array, so a
100M-token corpus never becomes 100M Python objects and a second run starts at once. Every file is written
under a temporary name and renamed, so an interrupted or failed run never leaves a half-written cache.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from lm.data.sources import Source, digest
from lm.errors import UserError
from lm.tokenizer import encode_lines, train_tokenizer


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _lines(source: Source, split: str):
    for batch in source.batches(split):
        yield from batch


def tokenizer_for(source: Source, cfg: dict, cache_dir: Path) -> Tokenizer:
    """Train the tokenizer on the training split only, or load the one trained before on the same text."""
    path = cache_dir / "tokenizers" / f"{digest([source.key('train'), cfg])}.json"
    if path.is_file():
        return Tokenizer.from_file(str(path))
    tok = train_tokenizer(cfg["kind"], _lines(source, "train"), vocab_size=cfg.get("vocab_size"),
                          min_frequency=cfg.get("min_frequency", 1))
    _atomic_write(path, lambda f: f.write(tok.to_str().encode()))
    return tok


def token_ids(source: Source, split: str, tok: Tokenizer, cache_dir: Path) -> np.ndarray:
    """The split as one stream of token ids (each line followed by <eos>), memory-mapped."""
    stem = cache_dir / "ids" / digest([source.key(split), digest(tok.to_str())])
    meta_path, bin_path = stem.with_suffix(".json"), stem.with_suffix(".bin")
    if not (meta_path.is_file() and bin_path.is_file()):
        dtype = np.uint16 if tok.get_vocab_size() <= 1 << 16 else np.uint32
        count = 0

        def write(f):
            nonlocal count
            for batch in source.batches(split):
                ids = np.fromiter((i for line in encode_lines(tok, batch) for i in line), dtype=dtype)
                f.write(ids.tobytes())
                count += len(ids)

        _atomic_write(bin_path, write)
        meta = {"dtype": np.dtype(dtype).name, "length": count, "split": split, "vocab": tok.get_vocab_size()}
        _atomic_write(meta_path, lambda f: f.write(json.dumps(meta).encode()))
    meta = json.loads(meta_path.read_text())
    if meta["length"] < 2:
        raise UserError(f"the {split} split has {meta['length']} tokens: a split needs at least two")
    return np.memmap(bin_path, dtype=meta["dtype"], mode="r", shape=(meta["length"],))
