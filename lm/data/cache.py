"""Tokenize once: the tokenizer and each split's token ids are cached on disk, keyed by corpus and tokenizer.

Ids are written batch by batch to a flat binary file and read back as a memory-mapped numpy array, so a
100M-token corpus never becomes 100M Python objects and a second run starts at once. Each process writes
under its own temporary name and renames, so concurrent builds of one entry cannot mix and a killed build
leaves only a temporary that a later one removes. An entry that fails its checks is rebuilt, with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from lm.console import watched
from lm.data.sources import Source, digest
from lm.data.tokenizer import encode_lines, train_tokenizer, with_eos
from lm.errors import UserError

log = logging.getLogger(__name__)


def _tmp_prefix(path: Path) -> str:
    # host and pid in the name let a later run tell a dead writer's leftover from a live writer's file,
    # also when the cache sits on a disk shared between machines
    return f".{path.name}.{socket.gethostname()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # it exists, owned by another user
        pass
    return True


def _remove_dead_temporaries(path: Path) -> None:
    prefix = _tmp_prefix(path)
    for tmp in path.parent.glob(".*.tmp"):
        pid = tmp.name[len(prefix) : -len(".tmp")]
        if tmp.name.startswith(prefix) and pid.isdecimal() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_temporaries(path)
    tmp = path.parent / f"{_tmp_prefix(path)}{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _why(e: Exception) -> str:
    return " ".join(str(e).split())[:100] or type(e).__name__  # one short line, whatever the library wrote


def _lines(source: Source, split: str):
    for batch in source.batches(split):
        yield from batch


def tokenizer_for(source: Source, cfg: dict, cache_dir: Path) -> Tokenizer:
    """Train the tokenizer on the training split only, or load the one trained before on the same text."""
    path = cache_dir / "tokenizers" / f"{digest([source.key('train'), cfg])}.json"
    if path.is_file():
        try:
            return with_eos(Tokenizer.from_file(str(path)))
        except Exception as e:  # the tokenizers library raises a bare Exception for any bad file
            log.warning("tokenizer cache %s does not load (%s); training it again", path, _why(e))
    log.info("training the %s tokenizer on the training split (once; cached under %s)", cfg["kind"], path.parent)
    start = time.perf_counter()
    tok = train_tokenizer(
        cfg["kind"],
        _lines(source, "train"),
        vocab_size=cfg.get("vocab_size"),
        min_frequency=cfg.get("min_frequency", 1),
        split_punctuation=bool(cfg.get("split_punctuation", False)),
        lowercase=bool(cfg.get("lowercase", False)),
        show_progress=watched(),
    )
    log.info("tokenizer: %d types in %.1f s", tok.get_vocab_size(), time.perf_counter() - start)
    _atomic_write(path, lambda f: f.write(tok.to_str().encode()))
    return tok


def _dtype(vocab: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab <= 1 << 16 else np.uint32)


class _Damaged(OSError):
    """A cache entry that exists but cannot be trusted; the message names the bad file."""


def _read(meta_path: Path, bin_path: Path, split: str, vocab: int) -> np.ndarray | None:
    """The entry's ids, None if it is not there yet; _Damaged if it fails a check."""
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        return None  # the .json is written last: without it the entry is unfinished, not damaged
    except (OSError, ValueError) as e:
        raise _Damaged(f"{meta_path} does not parse ({_why(e)})") from None
    missing = [k for k in ("dtype", "length", "split", "vocab") if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise _Damaged(f"{meta_path} lacks {', '.join(missing)}")
    wrong = [k for k, v in {"dtype": _dtype(vocab).name, "split": split, "vocab": vocab}.items() if meta[k] != v]
    length = meta["length"]
    if type(length) is not int or length < 0:
        wrong.append("length")
    if wrong:
        raise _Damaged(f"{meta_path} has the wrong {', '.join(wrong)}")
    try:
        f = open(bin_path, "rb")
    except FileNotFoundError:
        raise _Damaged(f"{bin_path} is missing") from None
    # size check and map go through one open file: a concurrent rename cannot slip another file in between
    with f:
        size, want = os.fstat(f.fileno()).st_size, length * _dtype(vocab).itemsize
        if size != want:
            raise _Damaged(f"{bin_path} has {size} bytes, its metadata says {want}")
        if length < 2:
            raise UserError(f"the {split} split has {length} tokens: a split needs at least two")
        return np.memmap(f, dtype=_dtype(vocab), mode="r", shape=(length,))


def _build(source: Source, split: str, tok: Tokenizer, meta_path: Path, bin_path: Path) -> None:
    dtype, count = _dtype(tok.get_vocab_size()), 0
    start = time.perf_counter()

    def write(f):
        nonlocal count
        for batch in tqdm(
            source.batches(split), desc=f"tokenizing {split}", unit=" batches", disable=not watched(), leave=False
        ):
            ids = np.fromiter((i for line in encode_lines(tok, batch) for i in line), dtype=dtype)
            f.write(ids.tobytes())
            count += len(ids)

    _atomic_write(bin_path, write)  # .bin before .json: a .json on disk means its .bin was written
    meta = {"dtype": dtype.name, "length": count, "split": split, "vocab": tok.get_vocab_size()}
    _atomic_write(meta_path, lambda f: f.write(json.dumps(meta).encode()))
    log.info("token cache: %s split, %s tokens in %.1f s", split, f"{count:,}", time.perf_counter() - start)


def token_ids(source: Source, split: str, tok: Tokenizer, cache_dir: Path) -> np.ndarray:
    """The split as one stream of token ids (each line followed by <eos>), memory-mapped."""
    stem = cache_dir / "ids" / digest([source.key(split), digest(tok.to_str())])
    meta_path, bin_path = stem.with_suffix(".json"), stem.with_suffix(".bin")
    try:
        ids = _read(meta_path, bin_path, split, tok.get_vocab_size())
    except _Damaged as e:
        log.warning("token cache: %s; rebuilding it", e)
        ids = None
    if ids is None:
        _build(source, split, tok, meta_path, bin_path)
        # a _Damaged from this read is not ours to repair: some other program is writing into the cache
        ids = _read(meta_path, bin_path, split, tok.get_vocab_size())
    if ids is None:
        raise _Damaged(f"{meta_path} vanished right after it was written")
    return ids
