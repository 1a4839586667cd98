"""Cut a word-level corpus with a fixed vocabulary out of raw text, WikiText style: punctuation split from
words, case kept, words outside the `--vocab` most frequent training types (counting <unk> and <eos>) written as
<unk>. The default gives WikiText-2's sizes (2.09M training words, 33,278 types) from the fiction corpus
(scripts/make_books.py builds it into data/books), for measuring large-vocabulary training without a network:

    python scripts/make_corpus.py --src data/books --out data/books33k

Training lines are spread evenly over the whole source (every k-th paragraph), so every author is in it.
"""

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
SPECIALS = ("<unk>", "<eos>")


def words(line: str) -> list[str]:
    return WORD.findall(line.replace("<", " ").replace(">", " "))  # no stray <unk>/<eos> look-alikes


def pick(path: Path, budget: int) -> list[list[str]]:
    """Every k-th non-empty line of `path`, k chosen so that about `budget` words come out."""
    lines = [ws for ws in map(words, path.read_text(encoding="utf-8").splitlines()) if ws]
    step = max(1.0, sum(map(len, lines)) / budget)
    out, n = [], 0
    for i in range(len(lines)):
        if n >= budget or int(i * step) >= len(lines):
            break
        out.append(lines[int(i * step)])
        n += len(out[-1])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", required=True, help="folder with train.txt, valid.txt, test.txt (raw text)")
    p.add_argument("--out", required=True, help="folder to write train.txt, valid.txt, test.txt")
    p.add_argument("--vocab", type=int, default=33278, help="types including <unk> and <eos> (WikiText-2: 33,278)")
    p.add_argument("--train-words", type=int, default=2_088_628, help="WikiText-2: 2,088,628")
    p.add_argument("--eval-words", type=int, default=217_646, help="per split; WikiText-2 valid: 217,646")
    args = p.parse_args()
    src, out = Path(args.src), Path(args.out)
    missing = [f for f in ("train.txt", "valid.txt", "test.txt") if not (src / f).is_file()]
    if missing:
        sys.exit(f"error: {src} has no {', '.join(missing)}: give --src a folder with the three splits")
    splits = {
        "train": pick(src / "train.txt", args.train_words),
        "valid": pick(src / "valid.txt", args.eval_words),
        "test": pick(src / "test.txt", args.eval_words),
    }
    counts = Counter(w for ws in splits["train"] for w in ws)
    keep = {w for w, _ in counts.most_common(args.vocab - len(SPECIALS))}
    if len(keep) < args.vocab - len(SPECIALS):
        sys.exit(f"error: the training text has only {len(counts)} types, fewer than --vocab {args.vocab}")
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in splits.items():
        text = "".join(" ".join(w if w in keep else "<unk>" for w in ws) + "\n" for ws in lines)
        (out / f"{name}.txt").write_text(text, encoding="utf-8")
    n = {k: sum(map(len, v)) for k, v in splits.items()}
    print(
        f"{out}: train {n['train']:,} / valid {n['valid']:,} / test {n['test']:,} words, "
        f"{len(keep) + len(SPECIALS):,} types with <unk> and <eos>"
    )


if __name__ == "__main__":
    main()
