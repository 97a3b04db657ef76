"""GRPO training with the RewardMap curriculum (``mapkit train``).

Importing this package is cheap: torch and transformers load when ``train`` (or a
module that needs them) is first used. The data half of mapkit never imports it.
"""
from __future__ import annotations

from mapkit.train.config import GRPOConfig, StageConfig

__all__ = ["GRPOConfig", "StageConfig", "train"]


def __getattr__(name: str):
    if name == "train":
        from mapkit.train.trainer import train

        return train
    raise AttributeError(name)
