"""Train a language model: python scripts/train.py [experiment=NAME] [key=value ...] (Hydra; -m for sweeps)."""

import hydra
from omegaconf import DictConfig

from lm.config import register_resolvers
from lm.errors import exit_on_user_error
from lm.train import train


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    return metrics.get("val/loss")  # the value a sweeper minimises


if __name__ == "__main__":
    register_resolvers()
    main()
