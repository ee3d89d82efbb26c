"""``TrainConfig``: every knob of every training stage in one dataclass (nanoGPT style).

A config is resolved in this order, later wins: the dataclass defaults, the preset's common
settings, the preset's settings for the stage (``presets.py``), a YAML file (``--config``), the
``--set key=value`` overrides, the explicit command-line flags (``--data-dir``, ``--init-from``).
Values given as strings are converted to the field's type; an unknown key is an error that lists
the valid ones. ``config_hash`` identifies a config for checkpoints and the run cache.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

STAGES = ("representation", "location", "policy", "classnet", "dram", "fullimage")


class ConfigError(ValueError):
    """A config problem the user can fix (the message says how)."""


@dataclass
class TrainConfig:
    """All settings of one training run. ``batch_size`` is global (split across DDP ranks)."""

    # what to train
    stage: str = "representation"
    preset: str = ""
    model: str = ""
    model_kwargs: dict = field(default_factory=dict)
    init_from: str = ""  # run dir or checkpoint of the previous stage (see stages.REQUIRES)
    init_location: str = "pretrained"  # policy stage: "pretrained" (from a location run) | "scratch" (from a representation run)
    freeze_saccader: bool = True  # classnet stage: train only the ClassNet on the frozen Saccader's glimpses

    # data
    dataset: str = "clutter"
    dataset_kwargs: dict = field(default_factory=dict)
    data_dir: str = ""
    train_split: str = "train"
    eval_split: str = "val"
    test_split: str = "test"  # held-out split of the final evaluation ("" to skip)
    augment: bool = True
    max_train_images: int = 0  # 0 = all
    max_eval_images: int = 0  # 0 = all

    # length
    batch_size: int = 64  # global batch (all ranks together)
    eval_batch_size: int = 0  # 0 = batch_size
    epochs: int = 1
    steps: int = 0  # > 0: train this many steps (overrides epochs)

    # optimization
    optimizer: str = "sgd-nesterov"  # "sgd-nesterov" | "sgd" | "adamw"
    lr: float = 0.1
    momentum: float = 0.9
    betas: tuple = (0.9, 0.999)
    weight_decay_mode: str = "normalized_l2"  # "normalized_l2" (official: 8e-5 x mean of squares) | "standard" | "none"
    weight_decay: float = 0.0  # decoupled/SGD weight decay, used when weight_decay_mode == "standard"
    l2_weight: float = 8e-5  # official l2_loss_wt (classification variables)
    l2_loc_weight: float = 8e-5  # official l2_loss_loc_wt (location variables)
    schedule: str = "cosine"  # "cosine" (linear warmup then cosine, official cosine_decay_with_warmup) | "constant"
    warmup_steps: int = 0
    warmup_epochs: float = 0.0  # added to warmup_steps after conversion
    min_lr_ratio: float = 0.0  # final lr = lr * min_lr_ratio
    grad_clip: float = 0.0  # max global grad norm (0 = off)
    label_smoothing: float = 0.0

    # losses
    representation_loss: str = "per_location"
    """Step-1 objective (SPEC 3.1, Eq. 1, exact form UNCONFIRMED). "per_location": the softmax
    cross-entropy of every one of the G x G cells against the label, averaged over cells; this is
    the reading of Eq. 1 as a product over positions of p(y | patch) and it trains each patch (each
    future glimpse) to classify on its own, which is what the Saccader later reads out.
    "mean_logits": the cross-entropy of the spatially averaged logits (the BagNet's image logits)."""
    num_glimpses: int = 6  # T during training (6 for policy/dram/classnet; location pretraining uses 12)
    eval_glimpses: int = 0  # 0 = num_glimpses (policy/dram: also the T of the reported accuracy)
    teacher_forcing: bool = False  # location stage: update the cell state with the targets instead of the samples
    reinforce_weight: float = 1.0
    xent_weight: float = 1.0
    dram_reinforce_weight: float = 0.1
    use_punishment: bool = False  # rewards in {-1, +1} instead of {0, 1}

    # system
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    amp: str = "auto"  # "auto" (bf16 on cuda, none on cpu) | "bf16" | "fp16" | "none"
    compile: bool = False
    channels_last: str = "auto"  # "auto" (on cuda) | "true" | "false"
    sync_bn: bool = True  # SyncBatchNorm when world_size > 1
    deterministic: bool = False  # torch.use_deterministic_algorithms

    # bookkeeping
    log_every: int = 10  # steps
    ckpt_every_steps: int = 200  # 0 = only at the end
    eval_every: int = 1  # epochs (0 = only at the end)
    tensorboard: bool = False
    run_dir: str = ""

    # ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(d["betas"])
        return d

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self, **changes) -> "TrainConfig":
        return apply_overrides(self, changes)

    @property
    def total_glimpses_eval(self) -> int:
        return self.eval_glimpses or self.num_glimpses

    def validate(self) -> "TrainConfig":
        choices = {
            "stage": STAGES,
            "optimizer": ("sgd-nesterov", "sgd", "adamw"),
            "weight_decay_mode": ("normalized_l2", "standard", "none"),
            "schedule": ("cosine", "constant"),
            "representation_loss": ("per_location", "mean_logits"),
            "init_location": ("pretrained", "scratch"),
            "amp": ("auto", "bf16", "fp16", "none"),
            "channels_last": ("auto", "true", "false"),
        }
        for key, valid in choices.items():
            if getattr(self, key) not in valid:
                raise ConfigError(f"{key}={getattr(self, key)!r} is not valid; choose one of {', '.join(valid)}")
        for key in ("batch_size", "num_glimpses"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.steps <= 0 and self.epochs <= 0:
            raise ConfigError("set epochs > 0 or steps > 0 (e.g. --set steps=100)")
        if not self.model:
            raise ConfigError("no model name: set it in the preset or with --set model=NAME")
        return self


# Keys that do not change what is trained: left out of the config hash.
NON_RESULT_KEYS = frozenset({
    "log_every", "ckpt_every_steps", "eval_every", "tensorboard", "run_dir", "num_workers", "data_dir",
})


def config_hash(cfg: TrainConfig | dict) -> str:
    """Short content hash of the settings that change the result (``NON_RESULT_KEYS`` excluded)."""
    d = cfg.to_dict() if isinstance(cfg, TrainConfig) else dict(cfg)
    d = {k: v for k, v in d.items() if k not in NON_RESULT_KEYS}
    blob = json.dumps(d, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def config_diff(a: dict, b: dict) -> dict:
    """{key: (a value, b value)} for the result-changing keys that differ."""
    keys = (set(a) | set(b)) - NON_RESULT_KEYS
    return {k: (a.get(k), b.get(k)) for k in sorted(keys) if a.get(k) != b.get(k)}


# ------------------------------------------------------------------------------------------------
# typed overrides
# ------------------------------------------------------------------------------------------------

def _field_types() -> dict[str, object]:
    return typing.get_type_hints(TrainConfig)


def _convert(key: str, value, kind):
    """Convert ``value`` (often a string from the command line) to the field type ``kind``."""
    origin = typing.get_origin(kind)
    if origin is typing.Union or str(origin) == "types.UnionType":
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        kind = args[0]
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{key}={value!r}: expected a boolean (true/false)")
    if kind is int:
        try:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                value = float(value) if any(c in value for c in ".eE") and not value.lstrip("-").isdigit() else int(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r}: expected an integer") from None
    if kind is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r}: expected a number") from None
    if kind is str:
        return "" if value is None else str(value)
    if kind is dict or origin is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{key}={value!r}: expected a mapping, e.g. {key}={{a: 1}} or {key}.a=1")
        return dict(value)
    if kind is tuple or origin is tuple:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}={value!r}: expected a list, e.g. {key}=[0.9,0.999]")
        return tuple(value)
    return value


def _parse_scalar(text: str):
    """A value for a dict entry (``dataset_kwargs.num_images=100``): YAML scalar parsing."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(cfg: TrainConfig, overrides: dict | None) -> TrainConfig:
    """A copy of ``cfg`` with ``overrides`` applied ({key: value}; ``key.sub`` sets an entry of a
    dict field). Unknown keys raise ``ConfigError`` listing the valid ones."""
    if not overrides:
        return dataclasses.replace(cfg)
    types = _field_types()
    values = cfg.to_dict()
    values["betas"] = tuple(values["betas"])
    for key, value in overrides.items():
        key = str(key).strip().replace("-", "_")
        top, _, sub = key.partition(".")
        if top not in types:
            raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(TrainConfig.field_names())}")
        if sub:
            if types[top] is not dict:
                raise ConfigError(f"{key!r}: only dict fields take a dotted key ({top!r} is not a dict)")
            entry = dict(values[top])
            entry[sub] = _parse_scalar(value) if isinstance(value, str) else value
            values[top] = entry
        else:
            values[top] = _convert(top, value, types[top])
    return TrainConfig(**values)


def parse_set_args(items: list[str] | None) -> dict:
    """``["lr=0.1", "dataset_kwargs.num_images=100"]`` -> ``{"lr": "0.1", ...}`` (converted later)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value (e.g. --set lr=0.01)")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value")
    return data


def save_yaml(cfg: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


__all__ = [
    "STAGES", "ConfigError", "TrainConfig", "NON_RESULT_KEYS", "config_hash", "config_diff", "apply_overrides",
    "parse_set_args", "load_yaml", "save_yaml",
]
