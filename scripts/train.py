"""Train a language model: python scripts/train.py [experiment=NAME] [key=value ...] (Hydra; -m for sweeps)."""

from lm.cli import train

if __name__ == "__main__":
    train()
