"""Models registered by name, each with its preprocessing and geometry config (timm style)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import torch.nn as nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelCfg:
    """What a model expects of its input and how its glimpses are laid out."""

    name: str
    input_size: tuple[int, int, int] = (3, 224, 224)
    glimpse_size: int = 77
    grid_size: int = 19
    stride: int = 8
    receptive_field: int = 77
    num_classes: int = 1001
    label_offset: int = 1
    crop_fraction: float = 224 / 246
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def image_size(self) -> int:
        return self.input_size[-1]

    def replace(self, **changes) -> "ModelCfg":
        return replace(self, **changes)


_REGISTRY: dict[str, tuple[Callable[..., nn.Module], ModelCfg]] = {}


def register_model(cfg: ModelCfg):
    """Decorator: ``@register_model(ModelCfg(name=...))`` over a factory ``fn(cfg, **kwargs) -> nn.Module``."""

    def wrap(fn):
        if cfg.name in _REGISTRY:
            raise ValueError(f"model {cfg.name!r} is registered twice")
        _REGISTRY[cfg.name] = (fn, cfg)
        return fn

    return wrap


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_model_cfg(name: str) -> ModelCfg:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _REGISTRY[name][1]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model. ``kwargs`` override the factory's keyword hyperparameters
    (``num_classes`` also updates the model's ``cfg``)."""
    cfg = get_model_cfg(name)
    fn = _REGISTRY[name][0]
    if "num_classes" in kwargs:
        cfg = cfg.replace(num_classes=int(kwargs["num_classes"]))
    model = fn(cfg, **kwargs)
    model.cfg = cfg
    return model
