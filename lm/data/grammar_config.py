"""The built-in grammar's knobs and records: GrammarConfig (filled from `data.grammar` in the Hydra config), the
names of its splits, kinds and constructions, and Line (a generated line and its metadata). The generator is
lm/data/grammar.py, its constructions lm/data/constructions.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lm.errors import UserError

SPLITS = ("train", "valid", "test")
KINDS = ("agreement", "gender", "recall")
AGREEMENT_CONSTRUCTIONS = ("simple", "pp", "subj_rc", "obj_rc", "sent_comp", "vp_coord")
GENDER_CONSTRUCTIONS = ("reflexive", "pronoun_comp", "pronoun_next", "subject_change")
NUMBER = ("sg", "pl")
MIN_PHRASES = {"simple": 0, "pp": 1, "subj_rc": 1, "obj_rc": 1}  # others: any number of phrases
RECALL_OVERHEAD = 5  # country . <filler> X speaks fluent language: distance = filler + 5
MAX_TRIES = 200


def _range(value, name: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in value)
    except (TypeError, ValueError):
        lo, hi = -1, -1
    if not 0 <= lo <= hi:
        raise UserError(f"grammar.{name} must be [min, max] with 0 <= min <= max, got {list(value)}")
    return lo, hi


def _weights(value, known: tuple[str, ...], name: str) -> dict[str, float]:
    out = {str(k): float(v) for k, v in dict(value.items()).items()}
    bad = sorted(set(out) - set(known))
    if bad or any(v < 0 for v in out.values()) or not any(out.values()):
        raise UserError(
            f"grammar.{name} needs non-negative weights, not all zero, for some of {', '.join(known)}"
            + (f" (unknown: {', '.join(bad)})" if bad else "")
        )
    return out


@dataclass(frozen=True)
class GrammarConfig:
    """Knobs of the generator; `GrammarConfig(**dict_from_yaml)` works (lists become tuples)."""

    kind_weights: Mapping[str, float] = field(
        default_factory=lambda: {"agreement": 0.45, "gender": 0.35, "recall": 0.20}
    )
    agreement_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "simple": 1.0,
            "pp": 2.0,
            "subj_rc": 1.5,
            "obj_rc": 1.5,
            "sent_comp": 1.0,
            "vp_coord": 1.5,
        }
    )
    gender_weights: Mapping[str, float] = field(
        default_factory=lambda: {"reflexive": 1.0, "pronoun_comp": 1.0, "pronoun_next": 1.0, "subject_change": 1.0}
    )
    phrases_train: tuple[int, int] = (0, 2)  # intervening phrases between controller and target (train, valid)
    phrases_test: tuple[int, int] = (0, 4)
    distance_train: tuple[int, int] = (1, 12)  # words from controller to target, agreement and gender lines
    distance_test: tuple[int, int] = (1, 24)
    # words of filler between a fact and its recall (0 or >= 4); up to 24 in training because at 16 recall at
    # the test split's 32-40 depended on the seed (0.84 to 0.97; BENCHMARKS.md, "Seeds")
    filler_train: tuple[int, int] = (0, 24)
    filler_test: tuple[int, int] = (0, 40)
    attractor_prob: float = 0.5  # an intervening noun (or the matrix subject) has the other number
    other_gender_prob: float = 0.6  # an intervening noun in a gender line has the other gender
    plural_prob: float = 0.5  # agreement subjects, and nouns whose number is free, are plural
    gender_plural_prob: float = 0.2  # gender-line subjects are plural (they / themselves)
    name_prob: float = 0.5  # a singular gendered noun phrase is a name rather than "the king"
    rc_prob: float = 0.4  # a gender-line subject (not a name) with phrases gets a relative clause
    adjective_prob: float = 0.15  # a noun phrase gets an adjective: "the old dog"

    def __post_init__(self):
        s = object.__setattr__
        s(self, "kind_weights", _weights(self.kind_weights, KINDS, "kind_weights"))
        s(self, "agreement_weights", _weights(self.agreement_weights, AGREEMENT_CONSTRUCTIONS, "agreement_weights"))
        s(self, "gender_weights", _weights(self.gender_weights, GENDER_CONSTRUCTIONS, "gender_weights"))
        for name in ("phrases_train", "phrases_test", "distance_train", "distance_test", "filler_train", "filler_test"):
            s(self, name, _range(getattr(self, name), name))
        for name in (
            "attractor_prob",
            "other_gender_prob",
            "plural_prob",
            "gender_plural_prob",
            "name_prob",
            "rc_prob",
            "adjective_prob",
        ):
            p = float(getattr(self, name))
            if not 0.0 <= p <= 1.0:
                raise UserError(f"grammar.{name} is a probability: between 0 and 1, got {p}")
            s(self, name, p)

    def ranges(self, split: str) -> dict[str, tuple[int, int]]:
        """The phrases / distance / filler ranges of a split ("valid" uses the train ones)."""
        if split not in SPLITS:
            raise UserError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
        suffix = "test" if split == "test" else "train"
        return {k: getattr(self, f"{k}_{suffix}") for k in ("phrases", "distance", "filler")}


@dataclass(frozen=True)
class Line:
    """One line of text and what it holds. meta: kind, construction, controller and target (word indices of
    the main dependency), distance (target - controller), n_phrases, attractors (indices of the nouns between
    controller and target with the other number, or gender), n_attractors, n_inside (agreement and gender lines:
    all the nouns between them), subjects (matrix subjects, one per sentence), deps (every dependency on the line:
    ("agreement" | "anaphor" | "recall", controller, target)), and per kind: number / gender of the controller,
    inner & matrix_subject (sent_comp), variant & previous_subject (subject_change), name, name2, country,
    language, filler (recall)."""

    text: str
    meta: dict
