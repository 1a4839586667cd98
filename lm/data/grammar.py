"""The built-in corpus: a seeded generator of English-like lines from a small probabilistic grammar (the
constructions: lm/data/constructions.py, over the words of data/grammar/lexicon.json).

Every line is one item of one of three kinds, each built around a long-range dependency:

agreement  a subject and the verb that agrees with it in number, across intervening phrases whose nouns
           ("attractors") have the other number with probability `attractor_prob`. Constructions:
           simple        the dogs run .
           pp            the dog near the cars behind the house runs .
           subj_rc       the dog that sees the cats runs .
           obj_rc        the dog that the cats see is happy .
           sent_comp     the boys say that the girl near the houses sleeps .   (the embedded subject and verb;
                         the matrix subject before them has the other number with probability attractor_prob)
           vp_coord      the boys see the king near the house and run .         (the second verb)
gender     a subject of known gender (a name, or a kinship or role noun) and a pronoun or reflexive that
           refers back to it across phrases holding nouns of the other gender. Constructions:
           reflexive       the king near the girls sees himself .
           pronoun_comp    mary that the boys like says that she is happy .
           pronoun_next    the queens see john . they smile .
           subject_change  mary sees john . john near the girls thinks that he sings .
recall     a fact and its recall: "X grew up in france . <filler> X speaks fluent french ." where the filler is
           a run of unrelated sentences of a chosen length in words and the language is fixed by the country.

The pronoun rule (so that the right pronoun is always determined by the grammar): every he / she / they /
himself / herself / themselves refers to the most recent matrix (main-clause) subject that is a noun phrase,
not a pronoun, and comes before it on the line. Within a sentence that is the sentence's own subject (never a
noun inside a relative clause, prepositional phrase or object); a pronoun that opens a sentence refers to the
previous sentence's subject; a new noun-phrase subject changes the referent ("mary sees john . john waits .
he smiles ." -> he = john; "mary sees john . she smiles ." -> she = mary). Plural subjects take they/themselves.
Pronouns appear only as subjects and reflexives only as objects, so no other reading is possible.

Distances are counted in words (whitespace tokens, "." included) from the controller (subject, antecedent or
country) to the target (verb, pronoun or language). Per split knobs: `phrases_*` (intervening phrases: PPs,
relative clauses, objects), `distance_*` (agreement and gender distances, enforced by resampling) and
`filler_*` (recall filler length; recall distance = filler + 5). "valid" uses the train knobs, "test" the test
ones, which reach longer distances.
"""

from __future__ import annotations

import hashlib
import random

from lm.data.constructions import Constructions
from lm.data.grammar_config import (  # noqa: F401 (re-exported: the grammar's public names)
    AGREEMENT_CONSTRUCTIONS,
    GENDER_CONSTRUCTIONS,
    KINDS,
    MAX_TRIES,
    MIN_PHRASES,
    NUMBER,
    RECALL_OVERHEAD,
    SPLITS,
    GrammarConfig,
    Line,
)
from lm.data.lexicon import load_lexicon
from lm.errors import UserError


class _Corpus(Constructions):
    """Lines whose kind is drawn by `kind_weights`, each at a distance inside the split's range."""

    def __init__(self, *args):
        super().__init__(*args)
        self.kinds = self.choices(self.cfg.kind_weights)

    def next_line(self) -> Line:
        line = self.line(self.choose(self.kinds))
        if line is None:
            raise UserError(
                f"the grammar cannot reach distances {list(self.ranges['distance'])} with phrases "
                f"{list(self.ranges['phrases'])}: widen grammar.distance_* or grammar.phrases_*"
            )
        return line


def _stream_seed(seed: int, split: str) -> int:
    return int.from_bytes(hashlib.sha256(f"lm.grammar/{int(seed)}/{split}".encode()).digest()[:8], "big")


def generate(n_lines: int, split: str = "train", seed: int = 0, config: GrammarConfig | None = None) -> list[Line]:
    """n_lines lines of the built-in corpus; the same (n_lines, split, seed, config) always gives the same lines,
    and each split draws from its own random stream."""
    cfg = config if config is not None else GrammarConfig()
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    corpus = _Corpus(load_lexicon(), cfg, split, random.Random(_stream_seed(seed, split)))
    return [corpus.next_line() for _ in range(int(n_lines))]


def generate_text(n_lines: int, split: str = "train", seed: int = 0, config: GrammarConfig | None = None) -> list[str]:
    """The text of `generate(...)`: one line per item, lowercase words and " . " separated by single spaces."""
    return [line.text for line in generate(n_lines, split, seed, config)]


_CODE_VERSION = 2  # bump whenever the same (seed, split, config) would give different text


def version() -> str:
    """Part of the token-cache key: changes with the generator code or the lexicon."""
    return f"{_CODE_VERSION}-{load_lexicon().digest}"
