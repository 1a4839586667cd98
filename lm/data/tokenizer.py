"""Tokenizers (HF `tokenizers`): word-level, byte-level BPE and character, all with an `<eos>` token.

Every line of a corpus ends with `<eos>`; decoding turns `<eos>` back into a line break.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from lm.errors import UserError

EOS, UNK = "<eos>", "<unk>"
KINDS = ("word", "bpe", "char")
Span = tuple[int, int]  # (start, end) character offsets


def train_tokenizer(
    kind: str,
    lines: Iterable[str],
    vocab_size: int | None = None,
    min_frequency: int = 1,
    length: int | None = None,
    split_punctuation: bool = False,
    lowercase: bool = False,
    show_progress: bool = False,
) -> Tokenizer:
    """Train on an iterable of lines (the training split only). `split_punctuation` (word level): punctuation
    marks become words of their own ("him." -> "him" "."), so raw text keeps a small vocabulary. `lowercase` (word
    level): text is lowercased before it is split ("She" and "she" are one word), also when encoding."""
    if kind in ("word", "char"):
        tok = Tokenizer(models.WordLevel(unk_token=UNK))
        if kind == "char":
            tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
            tok.decoder = decoders.Fuse()
        else:
            if lowercase:
                tok.normalizer = normalizers.Lowercase()
            tok.pre_tokenizer = (
                pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
                if split_punctuation
                else pre_tokenizers.WhitespaceSplit()
            )
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size or 10**9,
            min_frequency=min_frequency,
            special_tokens=[EOS, UNK],
            show_progress=show_progress,
        )
    elif kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size or 8000,
            min_frequency=max(min_frequency, 2),
            special_tokens=[EOS],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=show_progress,
        )
    else:
        raise UserError(f"unknown tokenizer kind {kind!r}: use one of {', '.join(KINDS)} (tokenizer=word|bpe|char)")
    tok.train_from_iterator(lines, trainer=trainer, length=length)
    if kind != "bpe":
        tok = _renumbered(tok)
    return with_eos(tok)


def with_eos(tok: Tokenizer) -> Tokenizer:
    """`tok`, whose post-processor ends each encoded line with <eos> (encode with add_special_tokens=False for a
    fragment: a prompt, a word). Set on tokenizers saved before it was part of them, so all compare equal."""
    if tok.post_processor is None:
        tok.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", special_tokens=[(EOS, eos_id(tok))])
    return tok


def _renumbered(tok: Tokenizer) -> Tokenizer:
    """Ids 0..V-1 with <eos>=0, <unk>=1: the trainer leaves a hole (and a duplicate) when a special token is
    also a corpus word, as <unk> is in PTB."""
    words = [w for w, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1]) if w not in (EOS, UNK)]
    fresh = Tokenizer(models.WordLevel({EOS: 0, UNK: 1} | {w: i for i, w in enumerate(words, 2)}, unk_token=UNK))
    fresh.pre_tokenizer = tok.pre_tokenizer
    if tok.normalizer is not None:
        fresh.normalizer = tok.normalizer
    if tok.decoder is not None:
        fresh.decoder = tok.decoder
    fresh.add_special_tokens([EOS, UNK])
    return fresh


def eos_id(tok: Tokenizer) -> int:
    i = tok.token_to_id(EOS)
    if i is None:
        raise UserError("this tokenizer has no <eos> token: it was not made by lstm-lm")
    return i


def kind_of(tok: Tokenizer) -> str:
    model = type(tok.model).__name__
    if model == "BPE":
        return "bpe"
    return "char" if isinstance(tok.decoder, decoders.Fuse) else "word"


def encode_lines(tok: Tokenizer, lines: list[str]) -> list[list[int]]:
    """Ids of each line followed by <eos> (the post-processor's)."""
    return [enc.ids for enc in with_eos(tok).encode_batch(lines)]


def decode(tok: Tokenizer, ids: Iterable[int]) -> str:
    """Text of ids; <eos> becomes a line break, <unk> stays visible."""
    eos = eos_id(tok)
    return "\n".join(tok.decode(seg, skip_special_tokens=False) for seg in _split(list(ids), eos))


def _split(ids: list[int], sep: int) -> Iterator[list[int]]:
    start = 0
    for i, t in enumerate(ids):
        if t == sep:
            yield ids[start:i]
            start = i + 1
    yield ids[start:]


def load_tokenizer(json_str: str) -> Tokenizer:
    return with_eos(Tokenizer.from_str(json_str))


def word_spans(text: str) -> list[Span]:
    """(start, end) character offsets of each whitespace word."""
    return [m.span() for m in re.finditer(r"\S+", text)]


def token_owners(offsets: list[Span], spans: list[Span]) -> list[int]:
    """For each token (start, end), the index of the first span it overlaps, -1 for none; spans sorted and
    disjoint, offsets in text order."""
    out, j = [], 0
    for a, b in offsets:
        while j < len(spans) and spans[j][1] <= a:
            j += 1
        out.append(j if j < len(spans) and spans[j][0] < b else -1)
    return out
