"""Subject-gender tracking: which pronoun or reflexive refers back to the subject?

    reflexive       the king near the girls sees [himself | herself]
    pronoun_comp    mary that the boys like says that [she | he]
    pronoun_next    the queen sees the prince near the house . [she | he]
    subject_change  mary sees john . john near the girls thinks that [he | she]   (drop the old subject's gender)

The pronoun rule is the built-in corpus's (lm/data/grammar.py): a pronoun refers to the most recent main-clause
noun-phrase subject. The intervening nouns of an item all have one gender, "distractor_gender": the other one
(each a distractor), or the subject's own (a control); plural subjects take they / themselves, against the
singular form of the other gender. Fields: construction, gender (the subject's m / f), number, distractor_gender
(m / f / none), n_distractors, n_phrases, distance (words from the subject's head to the pronoun), distance_bin,
range; subject_change adds variant (the second sentence's construction) and previous_gender.
The lines are the corpus's own gender lines (lm/data/constructions.py), cut before the pronoun.
"""

from __future__ import annotations

from lm.data.grammar import GENDER_CONSTRUCTIONS as CONSTRUCTIONS
from lm.data.grammar import GrammarConfig
from lm.data.lexicon import Lexicon
from lm.probes.suites.common import WordPair, constructions, cut, draw, labelled

GROUP_BY = (
    "construction",
    "gender",
    "number",
    "distractor_gender",
    "n_distractors",
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
    same_gender_prob: float = 0.25,
) -> list[WordPair]:
    """n_items items, balanced over construction x gender; same seed, same items. An item's intervening nouns
    all have the subject's gender (a control) with probability same_gender_prob, else all the other one."""
    if n_items < 0 or max_phrases < 1 or max_distance < 1:
        raise ValueError(
            f"n_items >= 0, max_phrases >= 1 and max_distance >= 1 needed, got {n_items}, {max_phrases}, {max_distance}"
        )
    for g in ("m", "f"):
        if not any(p[0] for p in vocab.gendered_nouns[g]) and not vocab.names[g]:
            raise ValueError(f"the {vocab.name} vocabulary has no noun or name of gender {g}")
    config = config or GrammarConfig()
    c = constructions("gender", vocab, seed, max_phrases, max_distance)
    items: list[WordPair] = []
    while len(items) < n_items:
        i = len(items)
        construction, g = CONSTRUCTIONS[i % 4], ("m", "f")[(i // 4) % 2]
        other = "f" if g == "m" else "m"
        same = c.rnd() < same_gender_prob
        c.other_gender_prob = 0.0 if same else 1.0
        line = draw(c, "gender", max_distance, construction=construction, gender=g)
        m = line.meta
        meta = {"construction": construction}
        if construction == "subject_change":
            meta.update(variant=m["variant"], previous_gender=m["previous_gender"])
        meta.update(
            gender=g,
            number=m["number"],
            distractor_gender=(g if same else other) if m["n_inside"] else "none",
            n_distractors=m["n_attractors"],
            n_phrases=m["n_phrases"],
            distance=m["distance"],
        )
        pronoun = line.text.split()[m["target"]]
        items.append(labelled(cut(line, (vocab.other_form("gender", pronoun, g),), meta), config))
    return items
