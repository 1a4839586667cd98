"""Number agreement (Linzen et al. 2016; Marvin & Linzen 2018): which verb form follows the prefix?

    simple     the dogs [run | runs]
    pp         the dog near the cars behind the house [runs | run]
    subj_rc    the dog that sees the cats [runs | run]
    obj_rc     the dog that the cats near the car see [runs | run]
    sent_comp  the boys say that the girl near the houses [sleeps | sleep]   (the embedded subject)
    vp_coord   the boys see the king near the house and [run | runs]        (the second verb)

Every intervening noun has one number per item: the subject's ("attractor_number" = subject_number, no
attractors) or the other one (each is an attractor). Fields: construction, subject_number, attractor_number
(sg / pl / none), n_attractors, n_phrases, distance (words from the subject's head to the verb), distance_bin,
range (train / test / beyond the built-in corpus's phrase and distance ranges); sent_comp adds matrix_number.
"""

from __future__ import annotations

from lm.data.grammar import GrammarConfig
from lm.probes.suites.common import NUMBER, Builder, Item, fitting, suite_rng
from lm.probes.vocab import ProbeVocab

CONSTRUCTIONS = ("simple", "pp", "subj_rc", "obj_rc", "sent_comp", "vp_coord")
MIN_PHRASES = {"pp": 1, "subj_rc": 1, "obj_rc": 1}
VERB_CLASSES = ("intransitive", "transitive", "copula")
GROUP_BY = (
    "construction",
    "subject_number",
    "attractor_number",
    "n_attractors",
    "distance_bin",
    "range",
    "construction+range",
)


def _subject_nouns(v: ProbeVocab):
    # agreement subjects and objects: animate nouns and the gendered ones that have both numbers
    both = [p for g in ("m", "f") for p in v.gendered[g] if p[0] and p[1]]
    return tuple(v.animate) + tuple(both)


def build(b: Builder, construction: str, num: int, mismatch: bool, n: int) -> Item:
    """One item; intervening nouns take the other number when `mismatch`."""
    v, subjects = b.v, _subject_nouns(b.v)
    noun_num = num ^ mismatch
    pp_nouns = subjects + tuple(v.inanimate)

    def noun(pairs=subjects):
        b.np(pairs, noun_num)
        return noun_num

    meta = {"construction": construction}
    rc = construction
    if construction == "sent_comp":
        matrix = num ^ (b.rng.random() < 0.5)
        b.np(subjects, matrix)
        b.verb("complement", matrix)
        b.word(v.that)
        rc = "simple" if n == 0 else b.pick(("pp", "subj_rc", "obj_rc"))
        meta.update(inner=rc, matrix_number=NUMBER[matrix])
    s = b.np(subjects, num)
    if construction == "vp_coord":
        if n:
            b.verb("transitive", num)
            noun()
            b.pps(n - 1, lambda: noun(pp_nouns))
        else:
            b.verb("intransitive", num)
        b.word(v.conj)
    else:
        b.modifiers(rc, n, num, noun, lambda: noun(pp_nouns))
    target = len(b.w)
    inside = b.between(s, target)
    verb = b.pick(v.verbs[b.pick(VERB_CLASSES)])
    meta.update(
        subject_number=NUMBER[num],
        attractor_number=NUMBER[noun_num] if inside else "none",
        n_attractors=sum(x[1] != NUMBER[num] for x in inside),
        n_phrases=n,
        distance=target - s,
    )
    return Item(list(b.w), verb[num], (verb[1 - num],), meta)


def generate(
    vocab: ProbeVocab,
    n_items: int,
    seed: int = 0,
    max_phrases: int = 4,
    max_distance: int = 24,
    config: GrammarConfig | None = None,
    adjective_prob: float = 0.15,
) -> list[Item]:
    """n_items items, balanced over construction x subject number x attractor number; same seed, same items."""
    if n_items < 0 or max_phrases < 1 or max_distance < 1:
        raise ValueError(
            f"n_items >= 0, max_phrases >= 1 and max_distance >= 1 needed, got {n_items}, {max_phrases}, {max_distance}"
        )
    config = config or GrammarConfig()
    rng = suite_rng("agreement", vocab.name, seed)
    items: list[Item] = []
    while len(items) < n_items:
        i = len(items)
        construction = CONSTRUCTIONS[i % len(CONSTRUCTIONS)]
        num, mismatch = (i // len(CONSTRUCTIONS)) % 2, (i // (2 * len(CONSTRUCTIONS))) % 2

        def make():
            n = 0 if construction == "simple" else rng.randint(MIN_PHRASES.get(construction, 0), max_phrases)
            return build(Builder(vocab, rng, adjective_prob), construction, num, bool(mismatch), n)

        items.append(fitting(make, max_distance, construction, config))
    return items
