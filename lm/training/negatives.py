"""Explicit negative examples (Noji & Takamura, ACL 2020): at each training token that has a minimal-pair partner
("is" / "are", "sees" / "see", "himself" / "herself"), a hinge asks log p(token) to beat log p(partner) by a margin.
The language-model loss spreads its gradient over the whole vocabulary; the hinge spends it on the one contrast a
probe asks about, at every verb of the corpus, attractors included.

Pairs come from the vocabulary and the training text, not from a parser or the probe suites:
- `agreement`: the copulas and auxiliaries below, and lexical verbs found in the text. A word w that is a stem plus
  -s / -es / -ies, both in the vocabulary, is a verb pair when w often follows he / she / it and the stem often
  follows "to" (nouns do neither: "he dogs", "to walks").
- `gender`: he / she, himself / herself; his and him against her ("her" itself is either, so it has no partner).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from lm.errors import UserError

log = logging.getLogger(__name__)

AGREEMENT = [  # (singular, plural); the word tokenizer splits "isn't" into "isn" "'" "t"
    ("is", "are"), ("was", "were"), ("has", "have"), ("does", "do"),
    ("isn", "aren"), ("wasn", "weren"), ("hasn", "haven"), ("doesn", "don"),
]  # fmt: skip
GENDER = [("he", "she"), ("himself", "herself")]
ONE_WAY = [("his", "her"), ("him", "her")]  # the partner of his / him is her; her has none
GROUPS = ("agreement", "gender")
SUBJECTS = ("he", "she", "it")


def third_person_forms(stem: str) -> list[str]:
    """Candidate 3rd-person-singular forms of a bare verb: see -> sees, watch -> watches, carry -> carries."""
    forms = [stem + "s", stem + "es"]
    if len(stem) > 2 and stem.endswith("y") and stem[-2] not in "aeiou":
        forms.append(stem[:-1] + "ies")
    return forms


def verb_pairs(
    vocab: dict[str, int],
    ids: np.ndarray,
    min_count: int = 20,
    min_after_subject: float = 0.2,
    min_after_to: float = 0.05,
) -> list[tuple[str, str]]:
    """(3rd singular, bare) lexical verb pairs found in the token stream `ids` (1-D): the -s form follows he /
    she / it in at least `min_after_subject` of its occurrences, the bare form follows "to" in at least
    `min_after_to` of its own, and both occur `min_count` times."""
    if "to" not in vocab or not any(s in vocab for s in SUBJECTS):
        return []
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    size = max(max(vocab.values()) + 1, int(ids.max()) + 1 if ids.numel() else 0)
    count = torch.bincount(ids, minlength=size)
    prev, nxt = ids[:-1], ids[1:]
    subjects = torch.tensor([vocab[s] for s in SUBJECTS if s in vocab])
    after_subject = torch.bincount(nxt[torch.isin(prev, subjects)], minlength=size)
    after_to = torch.bincount(nxt[prev == vocab["to"]], minlength=size)
    closed = {w for pair in AGREEMENT + GENDER + ONE_WAY for w in pair}
    stems: dict[str, str] = {}  # form -> its most frequent stem ("makes": make, not the dialect "mak")
    for stem, b in vocab.items():
        if len(stem) < 2 or not stem.isalpha() or stem in closed or count[b] < min_count:
            continue
        if after_to[b] < min_after_to * count[b]:
            continue
        for form in third_person_forms(stem):
            s = vocab.get(form)
            if s is None or form in closed or count[s] < min_count or after_subject[s] < min_after_subject * count[s]:
                continue
            if form not in stems or count[b] > count[vocab[stems[form]]]:
                stems[form] = stem
            break
    pairs = list(stems.items())
    return sorted(pairs)


def partner_table(vocab: dict[str, int], groups, ids: np.ndarray | None = None) -> tuple[torch.Tensor, list]:
    """A (V,) table: the id of each word's partner, -1 where it has none; and the (word, partner) pairs used.
    Pairs with a word outside the vocabulary are left out."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise UserError(f"unknown negatives.groups {unknown}: use any of {list(GROUPS)}")
    two_way, one_way = [], []
    if "agreement" in groups:
        two_way += AGREEMENT + (verb_pairs(vocab, ids) if ids is not None else [])
    if "gender" in groups:
        two_way += GENDER
        one_way += ONE_WAY
    table = torch.full((max(vocab.values()) + 1,), -1, dtype=torch.long)
    used = []
    for pair in two_way + one_way:
        a, b = pair
        if a in vocab and b in vocab:
            table[vocab[a]] = vocab[b]
            if pair in two_way:
                table[vocab[b]] = vocab[a]
            used.append(pair)
    return table, used


def hinge(good: torch.Tensor, bad: torch.Tensor, margin: float) -> torch.Tensor:
    """max(0, margin - (log p(good) - log p(bad))), element-wise."""
    return torch.relu(margin - (good - bad))
