"""What a text teaches about a pronoun's antecedent: when a sentence names a man and a woman (or the other way
round) before "he" / "she", does the pronoun take the gender of the first one named (usually the subject) or of
the nearest one?

The built-in grammar's rule (the subject decides) also settles its `rival_antecedent` items, where English allows
either; so the gender suite draws such items in the grammar vocabulary only. A model of English could only learn
the rule there as far as its training text follows it; this counts how far that is. Gendered words are the probe
lexicon's singular gendered nouns and names (data/probes/english.json); words are lowercase letter runs;
sentences end at . ! or ?.

    same sentence   "john told mary that [he]"             pronoun after both, in one sentence
    next sentence   "john saw mary . [he] ..."             pronoun opening the sentence after one with both
    reflexive       "john told mary to help [herself]"     reflexive after both, in one sentence

Only the first such word of a sentence counts. It decides between the two only where the first and the nearest
gendered words differ; elsewhere it is counted as undecided.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from lm.data.lexicon import Lexicon

PRONOUNS, REFLEXIVES = {"he": "m", "she": "f"}, {"himself": "m", "herself": "f"}
TARGETS = {"same sentence": PRONOUNS, "reflexive": REFLEXIVES}  # counted after the words before them
KINDS = ("same sentence", "next sentence", "reflexive")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z]+")


def gendered_words(lex: Lexicon) -> dict[str, str]:
    """Singular gendered nouns and names -> "m" / "f"."""
    words = {sg: g for g, pairs in lex.gendered_nouns.items() for sg, _ in pairs}
    words.update({name.lower(): g for g, names in lex.names.items() for name in names})
    return words


def _side(words: list[str], genders: dict[str, str], gender: str) -> str | None:
    """Which of `words`' first and nearest gendered words a pronoun of `gender` follows: first / nearest where
    the two differ, undecided where they agree (or are one word), None with no gendered word."""
    seen = [genders[w] for w in words if w in genders]
    if not seen:
        return None
    if seen[0] == seen[-1]:
        return "undecided"
    return "first" if gender == seen[0] else "nearest"


def tally(lines: Iterable[str], genders: dict[str, str]) -> Counter:
    """(kind, "first" | "nearest" | "undecided") -> count over the text's lines (paragraphs)."""
    counts: Counter = Counter()
    for line in lines:
        sentences = [_WORD.findall(s) for s in _SENTENCE_END.split(line.lower())]
        for prev, words in zip([[]] + sentences, sentences):
            if words and words[0] in PRONOUNS and (side := _side(prev, genders, PRONOUNS[words[0]])):
                counts["next sentence", side] += 1
            for kind, targets in TARGETS.items():
                at = next((i for i, w in enumerate(words) if w in targets), None)
                if at is not None and (side := _side(words[:at], genders, targets[words[at]])):
                    counts[kind, side] += 1
    return counts
