import json
import logging
import multiprocessing
import random
import socket
import subprocess

import numpy as np
import pytest

from lm.data import cache
from lm.data.sources import Source, digest, make_source
from lm.data.tokenizer import train_tokenizer
from lm.errors import UserError

WORD = {"kind": "word"}


def text_source(dir, lines=("a b c", "b c a", "c a b d")):
    dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        (dir / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return make_source({"source": "text", "dir": str(dir)})


def build(source, cache_dir, split="train"):
    tok = cache.tokenizer_for(source, WORD, cache_dir)
    return tok, cache.token_ids(source, split, tok, cache_dir)


def entry(cache_dir):
    """The one token cache entry in cache_dir, as (.json, .bin)."""
    (meta,) = (cache_dir / "ids").glob("*.json")
    return meta, meta.with_suffix(".bin")


def temporaries(dir):
    return sorted(p.name for p in dir.glob(".*.tmp"))


def rewrite_meta(meta, drop=(), **changes):
    old = json.loads(meta.read_text())
    meta.write_text(json.dumps({**{k: v for k, v in old.items() if k not in drop}, **changes}))


DAMAGE = {
    "truncated bin": (lambda m, b: b.write_bytes(b.read_bytes()[:5]), ".bin has 5 bytes"),
    "bin one token long": (lambda m, b: b.write_bytes(b.read_bytes() + b"\0\0"), ".bin has"),
    "bin missing": (lambda m, b: b.unlink(), ".bin is missing"),
    "garbage json": (lambda m, b: m.write_bytes(b'{"dtype": "uint16", "len\xff'), ".json does not parse"),
    "json not an object": (lambda m, b: m.write_text("[1, 2]"), ".json lacks dtype, length, split, vocab"),
    "json lacks vocab": (lambda m, b: rewrite_meta(m, drop=["vocab"]), ".json lacks vocab"),
    "json wrong vocab": (lambda m, b: rewrite_meta(m, vocab=3), ".json has the wrong vocab"),
    "json wrong length": (lambda m, b: rewrite_meta(m, length=json.loads(m.read_text())["length"] + 1), ".bin has"),
}


@pytest.mark.parametrize("damage, message", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_entry_is_rebuilt_with_a_notice(tmp_path, caplog, damage, message):
    source = text_source(tmp_path / "corpus")
    _, fresh = build(source, tmp_path / "fresh")
    build(source, tmp_path / "cache")
    meta, bin = entry(tmp_path / "cache")
    damage(meta, bin)
    with caplog.at_level(logging.WARNING, logger="lm.data.cache"):
        _, ids = build(source, tmp_path / "cache")
    assert len(caplog.records) == 1, caplog.text
    assert message in caplog.text and "rebuilding" in caplog.text and "\n" not in caplog.records[0].getMessage()
    assert type(ids).__name__ == "memmap" and list(ids) == list(fresh)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lm.data.cache"):
        _, again = build(source, tmp_path / "cache")  # the rebuilt entry passes the checks
    assert caplog.records == [] and list(again) == list(fresh)


def test_truncated_tokenizer_is_trained_again(tmp_path, caplog):
    source = text_source(tmp_path / "corpus")
    tok, fresh = build(source, tmp_path / "fresh")
    build(source, tmp_path / "cache")
    (path,) = (tmp_path / "cache" / "tokenizers").glob("*.json")
    path.write_text(path.read_text()[:40])
    with caplog.at_level(logging.WARNING, logger="lm.data.cache"):
        again, ids = build(source, tmp_path / "cache")
    assert len(caplog.records) == 1 and path.name in caplog.text and "training it again" in caplog.text
    assert again.to_str() == tok.to_str() and list(ids) == list(fresh)
    assert path.read_text() == tok.to_str()  # repaired on disk, so the next run loads it


class Lines(Source):
    name = "lines"

    def __init__(self, lines):
        self.lines = list(lines)

    def key(self, split):
        return digest(["lines", split, self.lines])

    def batches(self, split):
        yield self.lines


def test_too_short_split_stays_a_user_error_not_a_damaged_cache(tmp_path, caplog, monkeypatch):
    tok = train_tokenizer("word", ["a b"])
    with caplog.at_level(logging.WARNING, logger="lm.data.cache"):
        with pytest.raises(UserError, match="the valid split has 0 tokens"):
            cache.token_ids(Lines([]), "valid", tok, tmp_path)
        monkeypatch.setattr(cache, "encode_lines", lambda *a: pytest.fail("a valid short entry was rebuilt"))
        with pytest.raises(UserError, match="the valid split has 0 tokens"):
            cache.token_ids(Lines([]), "valid", tok, tmp_path)
    assert caplog.records == []


def test_dead_writers_temporaries_are_removed_live_ones_kept(tmp_path):
    source = text_source(tmp_path / "corpus")
    _, fresh = build(source, tmp_path / "cache")
    meta, bin = entry(tmp_path / "cache")
    meta.unlink()
    bin.unlink()
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "60"])
    try:
        host = socket.gethostname()
        names = {
            "dead": f".{bin.name}.{host}.{dead.pid}.tmp",
            "live": f".{bin.name}.{host}.{live.pid}.tmp",
            "other host": f".{bin.name}.elsewhere.{dead.pid}.tmp",
            "not a pid": f".{bin.name}.{host}.x1.tmp",
        }
        for name in names.values():
            (bin.parent / name).write_bytes(b"")  # what SIGKILL during a write leaves
        _, ids = build(source, tmp_path / "cache")
        assert list(ids) == list(fresh)
        assert temporaries(bin.parent) == sorted(v for k, v in names.items() if k != "dead")
    finally:
        live.kill()
        live.wait()


def test_failed_build_leaves_no_temporary(tmp_path, monkeypatch):
    source = text_source(tmp_path / "corpus")
    tok = cache.tokenizer_for(source, WORD, tmp_path / "cache")

    def fail(*a):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cache, "encode_lines", fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        cache.token_ids(source, "train", tok, tmp_path / "cache")
    assert list((tmp_path / "cache" / "ids").iterdir()) == []


def _build_after(barrier, corpus_dir, cache_dir, out):
    source = make_source({"source": "text", "dir": str(corpus_dir)})
    barrier.wait(timeout=120)  # both processes start building at the same moment
    tok, ids = build(source, cache_dir)
    np.save(out, np.asarray(ids))
    out.with_suffix(".tok").write_text(tok.to_str())


def test_two_processes_building_one_entry_agree(tmp_path):
    rng = random.Random(0)
    words = [f"w{i}" for i in range(300)]
    source = text_source(tmp_path / "corpus", [" ".join(rng.choices(words, k=12)) for _ in range(3000)])
    tok, reference = build(source, tmp_path / "reference")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    outs = [tmp_path / f"out{i}.npy" for i in range(2)]
    procs = [
        ctx.Process(target=_build_after, args=(barrier, tmp_path / "corpus", tmp_path / "cache", out)) for out in outs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0, 0]
    for out in outs:
        assert np.array_equal(np.load(out), reference) and out.with_suffix(".tok").read_text() == tok.to_str()
    meta, bin = entry(tmp_path / "cache")
    assert bin.read_bytes() == np.asarray(reference).tobytes()
    assert temporaries(tmp_path / "cache" / "ids") == temporaries(tmp_path / "cache" / "tokenizers") == []
