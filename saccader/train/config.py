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
import math
import re
import tempfile
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from saccader.errors import UserError

STAGES = ("representation", "location", "policy", "classnet", "dram", "fullimage")
# stages trained from scratch: they refuse an init_from (the others need one, see stages.required_stage)
SCRATCH_STAGES = ("representation", "dram", "fullimage")


class ConfigError(UserError, ValueError):
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
    location_bn: str = "batch"
    """Location stage: the frozen representation's batch norms (issue 12, item 3). "batch"
    (official: the code calls the representation with ``is_training`` passed through and only
    stops its gradient): batch statistics, running averages left as the representation run saved
    them. "batch_update": batch statistics, running averages updated as well (what a TF1 training
    script does if it runs every op of ``UPDATE_OPS``; no script was released). "running": the
    running statistics (eval mode), this port's earlier behaviour."""
    policy_xent: str = "mean_logits"
    """Policy stage: the supervised cross-entropy (issue 12, item 5; the paper's Eq. 3 is not
    confirmed and the code has no training script). "mean_logits": CE of the prediction, the mean
    over the T steps of the step logits. "per_step": the mean over t of CE(z^t)."""
    reinforce_weight: float = 1.0
    xent_weight: float = 1.0
    dram_reinforce_weight: float = 0.1
    dram_xent: str = "final"
    """DRAM stage: which logits its cross-entropy and its reward use (issue 12, item 8b; the official
    code released no training script, so nothing decides). "final" (default): the model's final
    prediction only (the last step's logits under the model's default ``prediction="last"``): CE of
    those logits, and reward r = 1[argmax == label] given to every step's location log-likelihood.
    "per_step": CE averaged over the T steps' logits, and reward r_t = 1[argmax of step t's logits
    == label] paired with the log-likelihood of location l_t (the glimpse step t classified), the
    batch-mean baseline taken over all B x T rewards -- what the official
    ``losses.reinforce_loss_continuous`` computes when given the per-step lists ``logits_t``."""
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
    cpu_threads: int = 0
    """torch's intra-op threads while training on the CPU (0: leave the process's setting). The
    thread count changes the order of floating-point sums, so two runs of one config agree bit
    for bit only at the same count: a preset that fixes it trains the same weights from a test,
    a notebook or the command line whatever the caller's own setting (OMP_NUM_THREADS, ...)."""

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
        """Check every key's type and range (and the names it refers to: model, data set, data set
        keywords, device). A bad key raises ``ConfigError`` with one line ``key=value: what is
        wrong; how to fix it``. Checks that need the files (the data folder, the ``init_from``
        checkpoint, the run folder) are ``engine.preflight``'s."""
        _check_types(self)
        choices = {
            "stage": STAGES,
            "optimizer": ("sgd-nesterov", "sgd", "adamw"),
            "weight_decay_mode": ("normalized_l2", "standard", "none"),
            "schedule": ("cosine", "constant"),
            "representation_loss": ("per_location", "mean_logits"),
            "location_bn": ("batch", "batch_update", "running"),
            "policy_xent": ("mean_logits", "per_step"),
            "init_location": ("pretrained", "scratch"),
            "dram_xent": ("final", "per_step"),
            "amp": ("auto", "bf16", "fp16", "none"),
            "channels_last": ("auto", "true", "false"),
        }
        for key, valid in choices.items():
            if getattr(self, key) not in valid:
                raise ConfigError(f"{key}={getattr(self, key)!r} is not valid; choose one of {', '.join(valid)}")
        for key in ("batch_size", "num_glimpses"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        for key, note in _COUNT_KEYS.items():
            _check_range(self, key, 0, note=note)
        _check_range(self, "log_every", 1, note="steps between log lines")
        if self.steps <= 0 and self.epochs <= 0:
            raise ConfigError("set epochs > 0 or steps > 0 (e.g. --set steps=100)")
        # numbers
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r}: the learning rate must be a finite number > 0; pass e.g. --set lr=0.01")
        for key in ("momentum", "label_smoothing"):
            _check_range(self, key, 0.0, 1.0, high_open=True)
        _check_range(self, "min_lr_ratio", 0.0, 1.0, note="final lr = lr x min_lr_ratio")
        for key in _NON_NEGATIVE_FLOATS:
            _check_range(self, key, 0.0)
        betas = tuple(self.betas)
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                                      for b in betas):
            raise ConfigError(f"betas={list(betas)!r}: expected two numbers in [0, 1) (AdamW's beta1, beta2); "
                              "pass e.g. --set betas=[0.9,0.999]")
        # names
        if not self.model:
            raise ConfigError("no model name: set it in the preset or with --set model=NAME")
        from saccader.models import list_models

        if self.model not in list_models():
            raise ConfigError(f"model={self.model!r} is not a registered model; choose one of "
                              f"{', '.join(list_models())} (python -m saccader models describes them)")
        if not isinstance(self.model_kwargs, dict) or not all(isinstance(k, str) for k in self.model_kwargs):
            raise ConfigError(f"model_kwargs={self.model_kwargs!r}: expected a mapping of keyword: value; "
                              "pass e.g. --set model_kwargs.num_classes=10")
        check_device(self.device)
        if self.init_from and self.stage in SCRATCH_STAGES:
            raise ConfigError(f"init_from={self.init_from!r}: stage {self.stage!r} trains from scratch and does not "
                              "use a previous run; remove --init-from (only location, policy and classnet take one)")
        _check_dataset(self)
        return self


# integer keys that must be >= 0 (and what 0 means)
_COUNT_KEYS = {
    "eval_batch_size": "0 = batch_size", "epochs": "", "steps": "0 = use epochs", "warmup_steps": "",
    "max_train_images": "0 = all", "max_eval_images": "0 = all", "eval_glimpses": "0 = num_glimpses",
    "num_workers": "", "ckpt_every_steps": "0 = only at the end", "eval_every": "0 = only at the end",
    "seed": "", "cpu_threads": "0 = leave the process's setting",
}
# float keys that must be finite and >= 0
_NON_NEGATIVE_FLOATS = ("warmup_epochs", "weight_decay", "l2_weight", "l2_loc_weight", "grad_clip",
                        "reinforce_weight", "xent_weight", "dram_reinforce_weight")
_KIND_WORDS = {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "a string",
               dict: "a mapping", tuple: "a list"}


def _check_types(cfg: "TrainConfig") -> None:
    """Every key holds a value of its field's type (a config made in Python is not converted)."""
    for key, kind in _field_types().items():
        value = getattr(cfg, key)
        origin = typing.get_origin(kind) or kind
        if origin is bool:
            ok = isinstance(value, bool)
        elif origin is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif origin is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok and not math.isfinite(value):
                default = TrainConfig.__dataclass_fields__[key].default
                raise ConfigError(f"{key}={value!r}: must be a finite number; pass e.g. --set {key}={default}")
        elif origin is tuple:
            ok = isinstance(value, (tuple, list))
        elif origin in (str, dict):
            ok = isinstance(value, origin)
        else:
            continue
        if not ok:
            what = _KIND_WORDS.get(origin, origin.__name__)
            raise ConfigError(f"{key}={value!r}: expected {what}; fix it in the config file or with "
                              f"--set {key}=VALUE")


def _check_range(cfg: "TrainConfig", key: str, low, high=None, high_open: bool = False, note: str = "") -> None:
    value = getattr(cfg, key)
    ok = value >= low and (high is None or (value < high if high_open else value <= high))
    if ok:
        return
    if high is None:
        rng = f">= {low}"
    else:
        rng = f"in [{low}, {high}{')' if high_open else ']'}"
    default = TrainConfig.__dataclass_fields__[key].default
    example = default if isinstance(default, (int, float)) and not isinstance(default, bool) else low
    raise ConfigError(f"{key}={value!r}: must be {rng}{f' ({note})' if note else ''}; pass e.g. --set {key}={example}")


_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device(device, key: str = "device", flag: str | None = None) -> str:
    """``device`` is "auto", "cpu", "cuda" or "cuda:N", and a requested GPU exists. Returns it;
    raises ``ConfigError`` naming ``key`` (or the command-line ``flag``) otherwise."""
    name = f"{flag} " if flag else f"{key}="
    fix = f"{flag} cpu" if flag else f"--set {key}=cpu"
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ConfigError(f"{name}{device!r} is not a device; use auto, cpu, cuda or cuda:N (e.g. {fix})")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"{name}{device!r} but no CUDA GPU is visible (torch.cuda.is_available() is False); "
                              f"use {fix} or auto")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{name}{device!r} but only {torch.cuda.device_count()} GPU(s) are visible; "
                              f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}, or auto")
    return device


# keywords of the data sets that the training engine does not set itself
_CLUTTER_KWARGS = ("num_images", "cache_dir", "use_cache", "normalize", "mean", "std")
_IMAGENET_KWARGS = ("image_size", "crop_fraction", "label_offset", "on_corrupt", "verify", "interpolation", "mean",
                    "std", "classes", "extensions", "workers", "crop", "resize")
_ENGINE_SET = {"augment": "use --set augment=true/false", "data_dir": "use --data-dir DIR",
               "transform": "the engine sets the transform", "cfg": "set the ClutterConfig fields themselves"}


def _check_dataset(cfg: "TrainConfig") -> None:
    """The data set name, its splits and ``dataset_kwargs`` (names and, for clutter, values)."""
    from saccader.data import DATASETS

    if cfg.dataset not in DATASETS:
        raise ConfigError(f"dataset={cfg.dataset!r} is not a data set; choose one of {', '.join(DATASETS)}")
    kw = cfg.dataset_kwargs
    if not all(isinstance(k, str) for k in kw):
        raise ConfigError(f"dataset_kwargs={kw!r}: expected a mapping of keyword: value; pass e.g. "
                          "--set dataset_kwargs.seed=1")
    if cfg.dataset == "clutter":
        from saccader.data.synthetic import SPLITS, ClutterConfig

        splits = tuple(SPLITS)
        valid = [f.name for f in dataclasses.fields(ClutterConfig)] + list(_CLUTTER_KWARGS)
    else:
        from saccader.data.imagenet import SPLIT_FOLDERS

        splits = tuple(SPLIT_FOLDERS)
        valid = list(_IMAGENET_KWARGS) + (["size"] if cfg.dataset == "imagenette" else [])
    for key in kw:
        if key in _ENGINE_SET and key not in valid:
            raise ConfigError(f"dataset_kwargs.{key}={kw[key]!r}: the training engine sets {key!r} itself; remove it "
                              f"({_ENGINE_SET[key]})")
        if key not in valid:
            raise ConfigError(f"dataset_kwargs.{key}={kw[key]!r}: the {cfg.dataset} data set has no keyword {key!r}; "
                              f"valid keywords: {', '.join(valid)}")
    for key in ("train_split", "eval_split", "test_split"):
        value = getattr(cfg, key)
        if value == "" and key == "test_split":
            continue
        if value not in splits:
            empty = ' (or "" to skip the held-out evaluation)' if key == "test_split" else ""
            raise ConfigError(f"{key}={value!r} is not a split of the {cfg.dataset} data set; choose one of "
                              f"{', '.join(splits)}{empty}")
    if cfg.dataset == "clutter":
        fields = {k: v for k, v in kw.items() if k not in _CLUTTER_KWARGS}
        try:
            ClutterConfig.from_overrides(fields)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"dataset_kwargs={kw!r}: {err}; fix the value with --set dataset_kwargs.KEY=VALUE") \
                from None
        n = kw.get("num_images")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ConfigError(f"dataset_kwargs.num_images={n!r}: expected an integer >= 1; pass e.g. "
                              "--set dataset_kwargs.num_images=1000 (or max_train_images=N)")
        for key in ("mean", "std"):
            v = kw.get(key)
            if v is not None and (not isinstance(v, (list, tuple)) or len(v) != 3):
                raise ConfigError(f"dataset_kwargs.{key}={v!r}: expected 3 numbers (one per RGB channel)")
    else:
        checks = {"on_corrupt": ("skip", "raise"), "verify": ("lazy", "header", "full"),
                  "crop": ("tf", "torchvision"), "resize": ("tf1", "pil")}
        for key, options in checks.items():
            if key in kw and kw[key] not in options:
                raise ConfigError(f"dataset_kwargs.{key}={kw[key]!r} is not valid; choose one of {', '.join(options)}")
        for key, low in (("label_offset", 0), ("image_size", 1), ("workers", 1)):
            v = kw.get(key)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < low):
                raise ConfigError(f"dataset_kwargs.{key}={v!r}: expected an integer >= {low}")


def check_min(flag: str, value, low: int, example=None):
    """A command-line number that must be >= ``low`` (None passes: the default applies)."""
    if value is not None and value < low:
        raise ConfigError(f"{flag} {value}: must be >= {low}; pass e.g. {flag} {low if example is None else example}")
    return value


def check_output_dir(path, key: str = "run_dir", flag: str = "--run-dir") -> Path:
    """A folder that can be created (or exists) and be written: the nearest existing folder on
    its path is probed by creating and removing a temporary folder. Nothing is left behind."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{key}={str(path)!r}: {p} is a file, not a folder; pass a {flag} that is a folder "
                          "(or a path that does not exist yet)")
    anc = p
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise ConfigError(f"{key}={str(path)!r}: {anc} is a file, so no folder can be made under it; pass a {flag} "
                          "outside it")
    try:
        tempfile.TemporaryDirectory(dir=anc, prefix=".saccader-probe-").cleanup()
    except OSError as err:
        raise ConfigError(f"{key}={str(path)!r}: cannot write in {anc} ({err.strerror or err}); pass a {flag} in a "
                          "writable folder") from None
    return p


# Keys that do not change what is trained: left out of the config hash.
NON_RESULT_KEYS = frozenset({
    "log_every", "ckpt_every_steps", "eval_every", "tensorboard", "run_dir", "num_workers", "data_dir", "cpu_threads",
})


# Keys that name a file or folder: the hash sees them canonical (see ``canonical_path``).
PATH_KEYS = ("init_from",)


def canonical_path(value: str) -> str:
    """One spelling of a path: absolute, symlinks resolved, no trailing slash, and a run's
    ``checkpoint.pt`` named by its run folder (``runs/a``, ``runs/a/``, ``/abs/runs/a`` and
    ``runs/a/checkpoint.pt`` are the same ``init_from``)."""
    import os.path

    if not value:
        return value
    path = os.path.realpath(os.path.expanduser(str(value)))
    if os.path.basename(path) == "checkpoint.pt":
        path = os.path.dirname(path)
    return path


def config_hash(cfg: TrainConfig | dict, canonical_paths: bool = True) -> str:
    """Short content hash of the settings that change the result (``NON_RESULT_KEYS`` excluded).
    The ``PATH_KEYS`` enter canonical (``canonical_path``), so the spelling of a path does not
    change the hash; ``canonical_paths=False`` hashes them as written (the run cache hashes a
    bare run name there, see ``cache.run_dir_for``)."""
    d = cfg.to_dict() if isinstance(cfg, TrainConfig) else dict(cfg)
    d = {k: v for k, v in d.items() if k not in NON_RESULT_KEYS}
    if canonical_paths:
        d.update({k: canonical_path(d[k]) for k in PATH_KEYS if d.get(k)})
    blob = json.dumps(d, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def config_diff(a: dict, b: dict) -> dict:
    """{key: (a value, b value)} for the result-changing keys that differ (paths: canonically)."""
    keys = (set(a) | set(b)) - NON_RESULT_KEYS

    def same(k):
        if k in PATH_KEYS and a.get(k) and b.get(k):
            return canonical_path(a[k]) == canonical_path(b[k])
        return a.get(k) == b.get(k)

    return {k: (a.get(k), b.get(k)) for k in sorted(keys) if not same(k)}


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
    "STAGES", "SCRATCH_STAGES", "ConfigError", "TrainConfig", "NON_RESULT_KEYS", "PATH_KEYS", "config_hash",
    "canonical_path", "config_diff",
    "apply_overrides", "parse_set_args", "load_yaml", "save_yaml", "check_device", "check_output_dir",
    "check_min",
]
