"""Number agreement (Linzen et al. 2016; Marvin & Linzen 2018): which verb form follows the prefix?

    simple     the dogs [run | runs]
    pp         the dog near the cars behind the house [runs | run]
    subj_rc    the dog that sees the cats [runs | run]
    obj_rc     the dog that the cats near the car see [runs | run]
    sent_comp  the boys say that the girl near the houses [sleeps | sleep]   (the embedded subject)
    vp_coord   the boys see the king near the house and [run | runs]        (the second verb)

Every intervening noun has one number per item: the subject's ("attractor_number" = subject_number, no
attractors) or the other one (each is an attractor). Fields: construction, subject_number, attractor_number
(sg / pl / none), n_attractors, verb (copula: is / are, was / were; or lexical: the rest, which fiction rarely
has in the 3rd person present), n_phrases, distance (words from the subject's head to the verb), distance_bin,
range (train / test / beyond the built-in corpus's phrase and distance ranges); sent_comp adds inner and
matrix_number (the matrix subject has the other number exactly when the intervening nouns do).
The lines are the corpus's own agreement lines (lm/data/constructions.py), cut before the verb.
"""

from __future__ import annotations

from lm.data.constructions import Constructions
from lm.data.grammar import AGREEMENT_CONSTRUCTIONS as CONSTRUCTIONS
from lm.data.grammar import NUMBER
from lm.probes.sensitivity import Contrast
from lm.probes.suites import common
from lm.probes.suites.common import WordPair, cut, draw, group_by, item_meta

GROUP_BY = group_by("subject_number", "attractor_number", "n_attractors", "verb")
CONTRAST = Contrast("subject_number", ("sg", "pl"), shown=("n_attractors",))  # the verb form follows the subject


def item(i: int, c: Constructions, max_distance: int) -> WordPair:
    """Item i: balanced over construction x subject number x attractor number."""
    construction = CONSTRUCTIONS[i % len(CONSTRUCTIONS)]
    num, mismatch = (i // len(CONSTRUCTIONS)) % 2, (i // (2 * len(CONSTRUCTIONS))) % 2
    c.attractor_prob = float(mismatch)  # every intervening noun (and a matrix subject) matches or differs
    line = draw(c, "agreement", max_distance, construction=construction, number=num)
    m = line.meta
    meta = item_meta(
        line,
        ("inner", "matrix_number") if construction == "sent_comp" else (),
        subject_number=NUMBER[num],
        attractor_number=NUMBER[num ^ mismatch] if m["n_inside"] else "none",
        n_attractors=m["n_attractors"],
    )
    verb = line.text.split()[m["target"]]
    meta["verb"] = "copula" if "copula" in c.lex.features(verb).classes else "lexical"
    return cut(line, (c.lex.other_form("agreement", verb),), meta)


def generate(vocab, n_items: int, seed: int = 0, **limits) -> list[WordPair]:
    """n_items items (limits: max_phrases, max_distance, config; see common.generate)."""
    return common.generate("agreement", item, vocab, n_items, seed, **limits)
