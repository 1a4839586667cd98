"""The built-in suites: generated from this project's templates, deterministic for a seed.

`builtin_suite(name, vocab, n_items, seed, style)` -> Suite of prefix-format pairs, each record carrying its
conditions. Names: agreement, gender, recall (see each module's docstring for the fields).
"""

from __future__ import annotations

from lm.data.grammar import GrammarConfig
from lm.data.lexicon import Lexicon
from lm.errors import UserError
from lm.probes.records import Suite
from lm.probes.suites import agreement, gender, recall
from lm.probes.suites.common import render
from lm.probes.vocab import CORPUS_STYLE, TextStyle, lacks

SUITES = {"agreement": agreement, "gender": gender, "recall": recall}
BUILTIN_SUITES = tuple(SUITES)
GROUP_BY = {name: module.GROUP_BY for name, module in SUITES.items()}
CONTRASTS = {name: getattr(module, "CONTRAST", None) for name, module in SUITES.items()}


def generate_items(name: str, vocab: Lexicon, n_items: int, seed: int = 0, max_phrases: int = 4, **limits):
    """The word-level items of a built-in suite (limits: max_distance, config)."""
    if name in ("agreement", "gender"):
        return SUITES[name].generate(vocab, n_items, seed, max_phrases=max_phrases, **limits)
    if name == "recall":
        return recall.generate(vocab, n_items, seed, config=limits.get("config"))
    raise UserError(
        f"unknown suite {name!r}: built-in suites are {', '.join(BUILTIN_SUITES)}; "
        "or give a .jsonl file or a directory of them"
    )


def builtin_suite(
    name: str,
    vocab: Lexicon,
    n_items: int = 1000,
    seed: int = 0,
    style: TextStyle | None = None,
    max_phrases: int = 4,
    max_distance: int = 24,
    config: GrammarConfig | None = None,
) -> Suite:
    """A built-in suite written in `style` (default: the built-in corpus's lowercase " . " style)."""
    missing = lacks(vocab, name) if name in BUILTIN_SUITES else []
    if missing:
        raise UserError(
            f"cannot build the {name} suite from the {vocab.name} vocabulary: the model's vocabulary has "
            f"no words of {', '.join(missing)}; use vocab=grammar, or score your own .jsonl files"
        )
    try:
        items = generate_items(name, vocab, n_items, seed, max_phrases, max_distance=max_distance, config=config)
    except ValueError as e:
        raise UserError(f"cannot build the {name} suite from the {vocab.name} vocabulary: {e}") from None
    style = style or CORPUS_STYLE
    pairs = []
    for k, item in enumerate(items):
        pair = render(item, style, vocab.proper)
        pair.meta.update(vocab=vocab.name)
        pairs.append(pair.__class__(pair.good, pair.bad, pair.prefix, pair.meta, f"{name}:{k}"))
    notes = {"vocab": vocab.name, "seed": seed}
    return Suite(name, pairs, f"builtin:{vocab.name}", GROUP_BY[name], notes, CONTRASTS[name])
