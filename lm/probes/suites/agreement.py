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
range (train / test / beyond the built-in corpus's phrase and distance ranges); sent_comp adds inner and
matrix_number (the matrix subject has the other number exactly when the intervening nouns do).
The lines are the corpus's own agreement lines (lm/data/constructions.py), cut before the verb.
"""

from __future__ import annotations

from lm.data.grammar import AGREEMENT_CONSTRUCTIONS as CONSTRUCTIONS
from lm.data.grammar import NUMBER, GrammarConfig
from lm.data.lexicon import Lexicon
from lm.probes.suites.common import WordPair, constructions, cut, draw, labelled

GROUP_BY = (
    "construction",
    "subject_number",
    "attractor_number",
    "n_attractors",
    "distance_bin",
    "range",
    "construction+range",
)


def generate(
    vocab: Lexicon,
    n_items: int,
    seed: int = 0,
    max_phrases: int = 4,
    max_distance: int = 24,
    config: GrammarConfig | None = None,
) -> list[WordPair]:
    """n_items items, balanced over construction x subject number x attractor number; same seed, same items."""
    if n_items < 0 or max_phrases < 1 or max_distance < 1:
        raise ValueError(
            f"n_items >= 0, max_phrases >= 1 and max_distance >= 1 needed, got {n_items}, {max_phrases}, {max_distance}"
        )
    config = config or GrammarConfig()
    c = constructions("agreement", vocab, seed, max_phrases, max_distance)
    items: list[WordPair] = []
    while len(items) < n_items:
        i = len(items)
        construction = CONSTRUCTIONS[i % len(CONSTRUCTIONS)]
        num, mismatch = (i // len(CONSTRUCTIONS)) % 2, (i // (2 * len(CONSTRUCTIONS))) % 2
        c.attractor_prob = float(mismatch)  # every intervening noun (and a matrix subject) matches or differs
        line = draw(c, "agreement", max_distance, construction=construction, number=num)
        m = line.meta
        meta = {"construction": construction}
        if construction == "sent_comp":
            meta.update(inner=m["inner"], matrix_number=m["matrix_number"])
        meta.update(
            subject_number=NUMBER[num],
            attractor_number=NUMBER[num ^ mismatch] if m["n_inside"] else "none",
            n_attractors=m["n_attractors"],
            n_phrases=m["n_phrases"],
            distance=m["distance"],
        )
        verb = line.text.split()[m["target"]]
        items.append(labelled(cut(line, (vocab.other_form("agreement", verb),), meta), config))
    return items
