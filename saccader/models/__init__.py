"""Model zoo: BagNet, Saccader, DRAM, Saccader-ClassNet and the full-image CNNs, registered by name."""
from .registry import ModelCfg, create_model, get_model_cfg, list_models, register_model

__all__ = ["ModelCfg", "create_model", "get_model_cfg", "list_models", "register_model"]

from . import bagnet, saccader, dram, classnet, fullimage  # noqa: F401,E402  (registers every model)
