"""Sentences as token ids the analyses can index by word: grammar items (controller -> target) and free text.

Every sequence starts with <eos>, so that the model reads it from the state it has after a line break, as in
training. A word may span several tokens (char, BPE): `words[k]` is the index in `ids` of word k's last token,
the position whose state has read the whole word.

    "the dogs near the car run ."   controller 1 (dogs), target 5 (run), distance 4
    ids     <eos> the dogs near the car      (the context: everything before the target)
    words         1   2    3    4   5        word k -> its last token in ids
    good    run        bad   runs            (the continuation and its other-number form)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenizers import Tokenizer

from lm.data.grammar import GrammarConfig, Line, generate
from lm.data.lexicon import load_lexicon
from lm.data.tokenizer import UNK, eos_id, token_owners, word_spans
from lm.errors import UserError

Ids = tuple[int, ...]


@dataclass(frozen=True)
class Item:
    ids: Ids  # <eos> + the tokens of the words before the target
    words: Ids  # words[k]: index in ids of the last token of word k (k < target)
    controller: int  # word index of the subject / antecedent
    target: int  # word index of the verb / pronoun (== len(words))
    good: Ids = ()  # tokens of the target word
    bad: Ids = ()  # tokens of its other form (other number, or other gender); () if it has none
    distance: int = 0  # target - controller, in words
    meta: dict = field(default_factory=dict, compare=False)  # kind, construction, number, gender, n_attractors


def word_last_tokens(offsets: list[tuple[int, int]], text: str) -> list[int]:
    """For each whitespace word of `text`, the index of its last token (lm.data.tokenizer.token_owners); tokens of
    spaces alone belong to none."""
    last = [-1] * len(spans := word_spans(text))
    for t, k in enumerate(token_owners(offsets, spans)):
        if k >= 0:
            last[k] = t
    if any(i < 0 for i in last):
        raise ValueError(f"some words of {text!r} got no token")
    return last


def encode_words(tokenizer: Tokenizer, words: list[str]) -> tuple[Ids, Ids, list[str]]:
    """(<eos> + token ids, index of each word's last token in them, the words the tokenizer cannot cover)."""
    text = " ".join(words)
    enc = tokenizer.encode(text, add_special_tokens=False)
    last = word_last_tokens(enc.offsets, text) if words else []
    unk = tokenizer.token_to_id(UNK)
    starts = [0] + [i + 1 for i in last[:-1]]  # word k's tokens: ids[starts[k] : last[k] + 1]
    uncovered = [w for w, a, b in zip(words, starts, last) if unk is not None and unk in enc.ids[a : b + 1]]
    return (eos_id(tokenizer), *enc.ids), tuple(i + 1 for i in last), uncovered


def continuation(tokenizer: Tokenizer, context_words: list[str], word: str, context_ids: Ids) -> Ids:
    """Tokens of `word` after the context: tokens(context + " " + word) minus the context's tokens, so that
    char and byte-level BPE tokenizers see the joining space as in training."""
    full, _, _ = encode_words(tokenizer, context_words + [word])
    if full[: len(context_ids)] == context_ids:
        return full[len(context_ids) :]
    return tuple(tokenizer.encode(" " + word, add_special_tokens=False).ids)


def encode_sentences(tokenizer: Tokenizer, sentences: list[str], what: str = "sentence") -> list[tuple[Ids, Ids]]:
    """(ids, words) of each sentence; UserError naming the words the tokenizer cannot cover."""
    out = []
    for s in sentences:
        words = str(s).split()
        if not words:
            raise UserError(f"empty {what}: give at least one word")
        ids, last, uncovered = encode_words(tokenizer, words)
        if uncovered:
            raise UserError(
                f"the model's tokenizer cannot cover {', '.join(map(repr, uncovered))} in the {what} "
                f"{s!r} (not in its vocabulary); use words the model was trained on"
            )
        out.append((ids, last))
    return out


def _other_form(kind: str, word: str) -> str | None:
    try:
        return load_lexicon().other_form(kind, word)
    except (KeyError, ValueError):  # not a lexicon word, or one without another form
        return None


def line_item(tokenizer: Tokenizer, line: Line) -> Item | None:
    """The main dependency of an agreement or gender line as an Item; None if the tokenizer lacks a word."""
    m = line.meta
    words = line.text.split()
    t = m["target"]
    ids, last, uncovered = encode_words(tokenizer, words[:t])
    if uncovered:
        return None
    good = continuation(tokenizer, words[:t], words[t], ids)
    other = _other_form(m["kind"], words[t])
    bad = continuation(tokenizer, words[:t], other, ids) if other else ()
    unk = tokenizer.token_to_id(UNK)
    if unk is not None and (unk in good or unk in bad):
        return None
    meta = {
        k: m.get(k)
        for k in ("kind", "construction", "number", "gender", "n_attractors", "subjects", "previous_subject")
    }
    meta["text"] = line.text
    return Item(ids, last, m["controller"], t, good, bad, m["distance"], meta)


def grammar_lines(
    kind: str, n: int, split: str = "test", seed: int = 1, grammar: dict | None = None, construction: str | None = None
) -> list[Line]:
    """The first n lines of one kind (and construction) in the grammar's stream for (split, seed)."""
    cfg = GrammarConfig(**(grammar or {}))
    n_lines, lines = max(4 * n, 40), []
    for _ in range(6):  # a stream's first k lines do not depend on how many are asked for: grow until enough
        lines = [
            ln
            for ln in generate(n_lines, split, seed, cfg)
            if ln.meta["kind"] == kind and (construction is None or ln.meta["construction"] == construction)
        ]
        if len(lines) >= n:
            break
        n_lines *= 4
    return lines[:n]


def grammar_items(
    tokenizer: Tokenizer,
    kind: str,
    n: int,
    split: str = "test",
    seed: int = 1,
    grammar: dict | None = None,
    construction: str | None = None,
) -> tuple[list[Item], int]:
    """Up to n items of one kind ("agreement" or "gender") from the built-in grammar, and how many lines were
    skipped because the tokenizer cannot cover them. UserError if none is covered."""
    lines = grammar_lines(kind, n, split, seed, grammar, construction)
    items = [line_item(tokenizer, ln) for ln in lines]
    kept = [it for it in items if it is not None]
    if not kept and lines:
        raise UserError(
            f"the model's tokenizer cannot cover any of {len(lines)} built-in {kind} sentences "
            f"(e.g. {lines[0].text!r}); these analyses need a model trained on the built-in corpus "
            "(data=builtin) or one whose vocabulary holds its words"
        )
    return kept, len(items) - len(kept)
