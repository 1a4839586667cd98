"""Long-range recall: a fact, filler, and the word the fact determines ("I grew up in France ... I speak fluent
*French*").

    john grew up in france . the old dog near the cars sleeps . ... john speaks fluent [french | german ...]

The good side is the country's language; the bad sides are the languages of every other country (a language
two countries share is never a bad side), so chance is 1 / (number of languages). The filler is a run of
sentences without names, pronouns or countries, of a given length in words. Fields: filler (words),
distance (words from the country to the language: filler + 5 with "speaks fluent"), distance_bin, frame,
range (filler inside the built-in corpus's train / test filler range, or beyond).
"""

from __future__ import annotations

from lm.data.grammar import GrammarConfig
from lm.probes.suites.common import Builder, Item, distance_bin, range_label, suite_rng
from lm.probes.vocab import ProbeVocab

FILLERS = (0, 4, 8, 12, 16, 24, 32, 40, 48, 64)
GROUP_BY = ("filler", "range", "frame")
MAX_SENTENCE = 12


def filler_sentence(b: Builder, k: int) -> None:
    """Exactly k >= 4 words: the [adj] noun (prep the [adj] noun)* verb [adjective | the [adj] noun] ."""
    if k < 4:
        raise ValueError(f"a filler sentence has at least 4 words, got k={k}")
    e = k - 4
    tail = b.pick([t for t in (0, 1, 2, 3) if t <= e and e - t != 2])  # words after the verb (with "is": 1)
    n_pp, rest = divmod(e - tail, 3)  # rest: 1 = adjective on the subject, 2 = also one in the first PP
    v = b.v
    num = int(b.rng.random() < 0.5)
    b.np(v.animate, num, adj=rest > 0)
    for i in range(n_pp):
        b.word(b.pick(v.prepositions))
        b.np(v.animate + v.inanimate, int(b.rng.random() < 0.5), adj=(i == 0 and rest == 2))
    if tail == 1:
        b.verb("copula", num)
        b.word(b.pick(v.adjectives))
    elif tail:
        b.verb("transitive", num)
        b.np(v.animate, int(b.rng.random() < 0.5), adj=tail == 3)
    else:
        b.verb("intransitive", num)
    b.word(".")


def filler(b: Builder, words: int) -> None:
    """Sentences of 4..12 words adding up to `words` (0, or 4 and more)."""
    if words and words < 4:
        raise ValueError(f"filler is 0 or at least 4 words, got {words}")
    rest = words
    while rest:
        k = rest if rest <= MAX_SENTENCE else b.rng.randint(4, min(MAX_SENTENCE, rest - 4))
        filler_sentence(b, k)
        rest -= k


def build(b: Builder, words: int) -> Item:
    v = b.v
    g = b.pick(("m", "f"))
    name = b.pick(v.names[g])
    frame = b.pick(v.fact_frames)
    country, language = b.pick(v.countries)
    b.word(name)
    b.w.extend(frame)
    c = b.word(country)
    b.word(".")
    filler(b, words)
    b.word(name)
    b.w.extend(v.recall_frames[0])
    target = len(b.w)
    bad = tuple(sorted({lang for _, lang in v.countries} - {language}))
    return Item(list(b.w), language, bad, {"filler": words, "distance": target - c, "frame": " ".join(frame)})


def generate(
    vocab: ProbeVocab,
    n_items: int,
    seed: int = 0,
    fillers: tuple[int, ...] = FILLERS,
    config: GrammarConfig | None = None,
) -> list[Item]:
    """n_items items, cycling through the filler lengths; same seed, same items."""
    if n_items < 0 or not fillers or any(f < 0 or 0 < f < 4 for f in fillers):
        raise ValueError(f"n_items >= 0 and fillers of 0 or >= 4 words needed, got {n_items}, {fillers}")
    if len({lang for _, lang in vocab.countries}) < 2 or not vocab.recall_frames or not vocab.fact_frames:
        raise ValueError(f"the {vocab.name} vocabulary lacks countries with two languages or the fact frames")
    config = config or GrammarConfig()
    rng = suite_rng("recall", vocab.name, seed)
    items = []
    for i in range(n_items):
        item = build(Builder(vocab, rng), fillers[i % len(fillers)])
        d = item.meta["distance"]
        item.meta.update(
            distance_bin=distance_bin(d),
            range=range_label(item.meta["filler"], config.filler_train, config.filler_test),
        )
        items.append(item)
    return items
