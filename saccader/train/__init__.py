"""Training: one engine for every stage (``engine.main``), presets, checkpoints with auto-resume,
DDP under ``torchrun``, and a cache of finished runs for the notebooks (``runs.get_trained``)."""
from saccader.train.config import STAGES, ConfigError, TrainConfig, config_hash

__all__ = ["STAGES", "ConfigError", "TrainConfig", "config_hash", "get_trained", "resolve_config", "train"]


def resolve_config(*args, **kwargs) -> TrainConfig:
    from saccader.train.presets import resolve_config as _resolve

    return _resolve(*args, **kwargs)


def train(cfg: TrainConfig) -> dict:
    """Train one stage in this process (see ``engine.main``)."""
    from saccader.train.engine import main

    return main(cfg)


def get_trained(*args, **kwargs):
    from saccader.train.runs import get_trained as _get

    return _get(*args, **kwargs)
