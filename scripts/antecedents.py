"""Count whether "he" / "she" / "himself" / "herself" take the gender of the first or the nearest gendered word
before them in a text (lm/data/antecedents.py): how far the text supports the gender suite's subject rule.

    python scripts/antecedents.py data/books/train.txt
"""

import argparse
from pathlib import Path

from lm.data.antecedents import KINDS, gendered_words, tally
from lm.data.sources import check_text_file
from lm.errors import exit_on_user_error
from lm.probes.vocab import load_vocab
from lm.results.stats import wilson_interval


@exit_on_user_error
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("text", type=Path, help="a UTF-8 text file, one paragraph per line")
    path = check_text_file(p.parse_args().text, "text")
    with open(path, encoding="utf-8") as f:
        counts = tally(f, gendered_words(load_vocab("english")))
    print(f"{path}: the pronoun takes the gender of the first gendered word, where first and nearest differ")
    print(f"{'':16}{'undecided':>10}{'n':>7}{'first':>8}  95% interval")
    for kind in KINDS:
        first, n = counts[kind, "first"], counts[kind, "first"] + counts[kind, "nearest"]
        lo, hi = wilson_interval(first, n)
        print(f"{kind:16}{counts[kind, 'undecided']:10d}{n:7d}{first / max(n, 1):8.3f}  [{lo:.3f}, {hi:.3f}]")


if __name__ == "__main__":
    main()
