"""Where the text comes from: the built-in grammar, local text files, or a dataset on the Hugging Face hub.

Each source yields the lines of one split in batches (lists of str) and has a `key` that changes whenever the
text could change; the token cache is keyed by it.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lm.console import watched
from lm.errors import UserError

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
BATCH_LINES = 10_000
OFFLINE_HINT = (
    "offline alternatives: data=builtin (the built-in corpus), or data=text data.dir=DIR with "
    "train.txt, valid.txt and test.txt (e.g. data.dir=data/ptb)"
)


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Source:
    name: str

    def key(self, split: str) -> str:
        raise NotImplementedError

    def batches(self, split: str) -> Iterator[list[str]]:
        raise NotImplementedError


class BuiltinSource(Source):
    name = "builtin"

    def __init__(self, lines: dict[str, int], seed: int, grammar: dict | None = None):
        self.lines, self.seed, self.grammar = dict(lines), seed, dict(grammar or {})

    def key(self, split):
        from lm.data import grammar

        return digest(["builtin", split, self.lines[split], self.seed, self.grammar, grammar.version()])

    def batches(self, split):
        from lm.data.grammar import GrammarConfig, generate_text

        text = generate_text(self.lines[split], split=split, seed=self.seed, config=GrammarConfig(**self.grammar))
        for i in range(0, len(text), BATCH_LINES):
            yield text[i : i + BATCH_LINES]


class TextSource(Source):
    """Local text files, one line per example, read through `datasets`' `text` builder."""

    name = "text"

    def __init__(self, paths: dict[str, str]):
        self.paths = {}
        for split in SPLITS:
            if not paths.get(split):
                raise UserError(
                    f"data.{split} is not set: give data.{split}=FILE, or data.dir=DIR holding "
                    "train.txt, valid.txt and test.txt"
                )
            self.paths[split] = check_text_file(Path(paths[split]), f"data.{split}")

    def key(self, split):
        st = self.paths[split].stat()
        return digest(["text", str(self.paths[split]), st.st_size, st.st_mtime_ns])

    def batches(self, split):
        import datasets

        datasets.disable_progress_bars()
        ds = datasets.load_dataset("text", data_files={split: str(self.paths[split])}, split=split)
        for batch in ds.iter(batch_size=BATCH_LINES):
            yield batch["text"]


class HubSource(Source):
    """A dataset on the Hugging Face hub (needs a network the first time; `datasets` caches it)."""

    name = "hub"

    def __init__(self, path: str, name: str | None, text_field: str, hub_splits: dict[str, str]):
        self.path, self.config_name, self.text_field, self.hub_splits = path, name, text_field, dict(hub_splits)

    def key(self, split):
        return digest(["hub", self.path, self.config_name, self.hub_splits[split], self.text_field])

    def batches(self, split):
        import datasets

        if watched():  # datasets' own download and preparation bars
            datasets.enable_progress_bars()
        else:
            datasets.disable_progress_bars()
        log.info(
            "loading %s%s (%s) from the Hugging Face hub; datasets caches it, later runs start at once",
            self.path,
            f"/{self.config_name}" if self.config_name else "",
            self.hub_splits[split],
        )
        start = time.perf_counter()
        try:
            ds = datasets.load_dataset(self.path, self.config_name, split=self.hub_splits[split])
        except Exception as e:  # no network, hub down, unknown name: datasets raises many types
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(
                f"could not load {self.path}/{self.config_name or ''} from the Hugging Face hub "
                f"({first[:160]}); {OFFLINE_HINT}"
            ) from None
        log.info("hub dataset: %s rows in %.1f s", f"{len(ds):,}", time.perf_counter() - start)
        if self.text_field not in ds.column_names:
            raise UserError(
                f"hub dataset {self.path} has no column {self.text_field!r} (columns: "
                f"{', '.join(ds.column_names)}): set data.text_field"
            )
        for batch in ds.iter(batch_size=BATCH_LINES):
            yield batch[self.text_field]


def check_text_file(path: Path, what: str) -> Path:
    """A readable, non-empty UTF-8 file, or a UserError that says which and how to fix it."""
    path = path.expanduser().resolve()
    if not path.is_file():
        raise UserError(f"{what}: no file at {path}; check the path (relative paths are from where you run)")
    if path.stat().st_size == 0:
        raise UserError(f"{what}: {path} is empty; give a file with one line of text per example")
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, blank = 0, True
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as e:
                raise UserError(
                    f"{what}: {path} is not UTF-8 (byte {chunk[e.start]:#04x} at offset "
                    f"{offset + e.start}); convert it, e.g. iconv -f latin1 -t utf-8"
                ) from None
            blank = blank and not text.strip()
            offset += len(chunk)
    if blank:
        raise UserError(f"{what}: {path} holds only white space; give a file with text in it")
    return path


def make_source(cfg: dict) -> Source:
    """The source a `data` config names. Local paths (`dir` or train/valid/test) win over the hub."""
    local = {s: cfg.get(s) for s in SPLITS}
    if cfg.get("dir"):
        d = Path(cfg["dir"]).expanduser()
        if not d.is_dir():
            raise UserError(
                f"data.dir: no directory at {d.resolve()}; give a folder with train.txt, valid.txt, test.txt"
            )
        local = {s: local[s] or str(d / f"{s}.txt") for s in SPLITS}
    source = cfg.get("source", "builtin")
    if any(local.values()) or source == "text":
        return TextSource(local)
    if source == "builtin":
        return BuiltinSource(cfg["lines"], cfg.get("seed", 0), cfg.get("grammar"))
    if source == "hub":
        return HubSource(cfg["path"], cfg.get("name"), cfg.get("text_field", "text"), cfg["hub_splits"])
    raise UserError(f"unknown data.source {source!r}: use builtin, text or hub")
