"""Presets: the settings of every stage at a given scale.

``tiny``: the embedded clutter data set (96 px, its default kind "parts": an object of 4 shared parts,
larger than a glimpse) and the tiny models; every stage trains on a CPU (bf16 autocast where the CPU
has native bf16), and the whole chain takes about 11 minutes on 2 cores (6.5 of them DRAM's).

``imagenette``: the 10-class Imagenette photographs (``--data-dir``) at 96 px with the tiny
models (a glimpse is 0.34 of the image side, as on ImageNet); about an hour of training on 2 cores.

``imagenet``: the paper's geometry (BagNet-77-lowD at 224 px, 19 x 19 grid, 77-px glimpses,
NASNet ClassNet at 331 px) on ILSVRC-2012 (``--data-dir`` required).

The paper's optimizer, learning rates, batch sizes and epochs are UNCONFIRMED (SPEC 3.5: no
training script was released). The values below are choices; each carries its reason. The loss
weights and the normalized L2 (8e-5) are the official config's.
"""
from __future__ import annotations

from saccader.train.config import STAGES, ConfigError, TrainConfig, apply_overrides, load_yaml

PRESETS: dict[str, dict] = {
    "tiny": {
        "common": {
            "dataset": "clutter",
            "dataset_kwargs": {},  # ClutterConfig defaults: kind "parts", 96 px, 10 classes, objects of 4 parts
            "max_train_images": 2048,  # keeps an epoch of the BagNet under 40 s on 2 cores
            "max_eval_images": 500,  # val and test: +-2 % standard error on accuracy, cheap to evaluate
            "batch_size": 32,  # small batches = more updates per CPU second
            "optimizer": "adamw",  # adaptive steps train tiny from-scratch models fast without lr tuning
            "betas": (0.9, 0.999),
            "weight_decay_mode": "normalized_l2",  # the official penalty (8e-5 x mean of squared weights)
            "schedule": "cosine",  # the official helper is cosine decay with linear warmup
            "device": "cpu",  # the tiny preset is the CPU reference (use --set device=auto to use a GPU)
            # bf16 autocast and channels_last, as on a GPU (the Saccader cell stays fp32 under autocast, as
            # officially): on a CPU with native bf16 (AVX512-BF16; torch.ops.mkldnn._is_mkldnn_bf16_supported())
            # a training step is 1.5-2x faster (benchmark below: representation 506 -> 261 ms, policy 644 ->
            # 302 ms per batch of 32 on 2 threads). On a CPU without it bf16 is emulated and slower: there
            # use --set amp=none channels_last=false
            "amp": "bf16",
            "channels_last": "true",
            # one thread count wherever a run is trained (test, notebook, command line), so that the same
            # config gives the same weights (the thread count changes the rounding). 1, and the runs that
            # do not wait for each other train side by side, one per core (runs.train_runs: the book,
            # `evaluate`): a second thread speeds one step of most stages up 1.6-1.9x but DRAM's only 1.29x
            # (its six small glimpse batches a step; ms per step of 32, 1 / 2 threads: representation 774 /
            # 399, policy 892 / 473, classnet 409 / 254, DRAM 519 / 401, full-image CNN 159 / 80), so DRAM
            # on one core beside the Saccader chain on the other trains the tiny chain in about 460 s of
            # wall time instead of 637 s with 2 threads one run after the other. A single run trained
            # alone is up to 2x slower: --set cpu_threads=2 for speed (other rounding, other weights)
            "cpu_threads": 1,
            "log_every": 10,
            "ckpt_every_steps": 100,
            "eval_every": 1,
        },
        "representation": {
            "model": "bagnet33_tiny",
            "lr": 2e-3,  # AdamW default-range lr for a small CNN trained from scratch
            "warmup_steps": 20,  # avoids the early-step blow-up of Adam on freshly initialized BN nets
            # on the parts set, val accuracy (full image) was 0.10 / 0.49 / 0.63 / 0.66 after epochs 1-4 of a
            # 4-epoch schedule, still rising: 6 epochs bring it nearer its plateau for 50 s more
            "epochs": 6,
        },
        "location": {
            "model": "saccader33_tiny",
            "num_glimpses": 12,  # the official pretraining unroll (T = 12, SPEC 3.2)
            "eval_glimpses": 6,
            "lr": 2e-3,  # only the small attention/mix/cell head trains: a large Adam step is safe
            "warmup_steps": 10,
            "epochs": 2,  # imitation of ordered logits is an easy supervised target
        },
        "policy": {
            "model": "saccader33_tiny",
            "num_glimpses": 6,  # the paper's T = 6
            "lr": 3e-4,  # whole model fine-tuned from pretrained weights: a smaller step keeps the BagNet
            "warmup_steps": 10,
            "epochs": 3,  # REINFORCE with a batch-mean baseline needs a few epochs of samples
        },
        "classnet": {
            "model": "saccader_classnet_tiny",
            "num_glimpses": 6,
            "lr": 2e-3,  # the ClassNet trains from scratch on glimpses: same setting as the BagNet
            "warmup_steps": 20,
            "epochs": 3,
        },
        "dram": {
            "model": "dram_tiny",
            "num_glimpses": 6,  # config default num_times = 6, the Saccader's T
            "lr": 1e-3,  # LSTM core + REINFORCE: a middle Adam step is the stable choice
            "warmup_steps": 20,
            # trains from scratch, like the representation, and learns only with more epochs: after 4 (the
            # former setting, the DRAM study's short_schedule variant) it had learned little (test top-1
            # with 6 glimpses 17.4% on one machine, 27.8% on the machine of the committed results; 10% is
            # chance; lr 3e-3 and the per-step cross-entropy did not make 4 epochs learn: 25.6% and 17.0%
            # val; 12 bf16 epochs: 28.6%); with 16, the same configuration trained with 2 threads reached
            # 47.0%, 34.8% and 59.6% test on three machines (other rounding), and with 1 thread (the
            # committed results) 59.8%. 16 epochs is where those runs' val curves flatten; on one core
            # beside the Saccader chain it trains in about 7.5 minutes (about 2 for 4 epochs), the
            # longest run of the tiny chain. Its spread over training seeds is in
            # data/results/tiny/training_seeds.csv
            "epochs": 16,
            # fp32: the recurrent core's learning under bf16 autocast is not established at length (12 bf16
            # epochs reached 28.6% val), and bf16 saves DRAM only 1.4x
            "amp": "none",
            "channels_last": "false",
        },
        "fullimage": {
            "model": "resnet_tiny_full",
            "lr": 2e-3,  # same setting as the other from-scratch CNN (the BagNet)
            "warmup_steps": 20,
            # to its plateau: on the parts set val accuracy was 0.90 / 0.95 / 0.96 after epochs 4 / 6 / 12 of a
            # 12-epoch schedule
            "epochs": 6,
        },
    },
    "imagenet": {
        "common": {
            "dataset": "imagenet",
            # the official preprocessing (data_provider.py): TF's sample_distorted_bounding_box crop and TF1
            # resize_bicubic on floats (no antialiasing); --set dataset_kwargs.crop=torchvision /
            # dataset_kwargs.resize=pil for torchvision's RandomResizedCrop scheme / PIL's antialiased bicubic
            "dataset_kwargs": {"crop": "tf", "resize": "tf1"},
            "batch_size": 1024,  # a common global batch for ResNet-50-size models on 8+ accelerators
            "eval_batch_size": 1024,
            "test_split": "",  # the ImageNet validation set is the paper's test set (no separate held-out split)
            "optimizer": "sgd-nesterov",  # the standard choice for ResNet-style ImageNet training
            "momentum": 0.9,
            "weight_decay_mode": "normalized_l2",  # the official code's L2 (8e-5 x mean of squares; weak)
            "schedule": "cosine",  # official cosine_decay_with_warmup helper
            "num_workers": 8,  # JPEG decoding needs parallel workers per GPU
            "device": "auto",
            "log_every": 50,
            "ckpt_every_steps": 1000,  # about 1 checkpoint per epoch at batch 1024
            "eval_every": 5,
        },
        "representation": {
            "model": "bagnet77_lowd",
            "lr": 0.4,  # linear scaling rule: 0.1 per 256 images (Goyal et al. 2017)
            "warmup_epochs": 5,  # the warmup that goes with the linear scaling rule
            "epochs": 90,  # the standard ResNet-50 ImageNet budget (the BagNet is a ResNet-50 variant)
        },
        "location": {
            "model": "saccader77",
            "num_glimpses": 12,  # official pretraining unroll T = 12
            "eval_glimpses": 6,
            "optimizer": "adamw",  # freshly initialized head on a frozen backbone: adaptive steps converge quickly
            "lr": 1e-3,
            "warmup_epochs": 1,
            "epochs": 10,  # a short supervised imitation stage
        },
        "policy": {
            "model": "saccader77",
            "num_glimpses": 6,  # the paper's T = 6
            "lr": 0.004,  # fine-tuning at 1/100 of the representation lr keeps the pretrained weights
            "warmup_epochs": 1,
            "epochs": 30,  # REINFORCE is noisy; a third of the pretraining budget
        },
        "classnet": {
            "model": "saccader_classnet_nasnet",
            "num_glimpses": 6,
            "batch_size": 512,  # NASNet-A Large at 331 px needs about twice the memory per image
            "lr": 0.2,  # linear scaling of 0.1 per 256
            "warmup_epochs": 5,
            "epochs": 90,
        },
        "dram": {
            "model": "dram",
            "num_glimpses": 6,  # official config default num_times = 6 (the paper's table uses up to 8)
            "optimizer": "adamw",  # LSTM + REINFORCE train more stably with adaptive steps
            "lr": 1e-3,
            "warmup_epochs": 2,
            "epochs": 90,
            "grad_clip": 5.0,  # recurrent core: clip exploding gradients
        },
        "fullimage": {
            "model": "resnetv2_50_full",
            "lr": 0.4,  # the standard ResNet-50 recipe: linear scaling, 0.1 per 256 images
            "warmup_epochs": 5,
            "epochs": 90,
        },
    },
}


# presets that copy another one's settings (and, where the value is the same, the reason beside it)
PRESET_BASES = {"imagenette": "tiny"}
_TINY = PRESETS["tiny"]
PRESETS["imagenette"] = {
    # Imagenette (10 ImageNet classes, 9,469 train / 3,925 val photographs) at 96 px with the tiny
    # models: the BagNet-33's receptive field, hence a glimpse, is 33/96 = 0.34 of the image side, as
    # 77/224 is on ImageNet; a step at 128 px costs about (128/96)^2 = 1.8x, and the whole chain
    # would then not train in about an hour on 2 cores. Every stage's schedule is the tiny preset's
    # (same reasons) unless said below.
    "common": {
        **_TINY["common"],
        "dataset": "imagenette",
        # the photographs shrink 2-3x (224 or 320 px -> 96 px), where TF1's unfiltered resize aliases
        "dataset_kwargs": {"resize": "pil"},  # antialiased resize to 96 px (TF1's would alias); official crop
        "max_train_images": 0,  # all 9,469
        "max_eval_images": 0,  # all 3,925
        "test_split": "",  # no held-out split besides val (as on ImageNet, val is the test set)
        "eval_batch_size": 128,  # evaluation keeps no gradients: larger batches, fewer Python steps
        # the setting its committed runs were trained with (one run after the other, 2 threads each):
        # the tiny preset's 1 would change their rounding
        "cpu_threads": 2,
    },
    "representation": {
        **_TINY["representation"],
        # an epoch of the 9,469 photographs took 105 s on 2 idle cores (0.30 s per step of 32 with its
        # JPEG decoding, 18 s of val); 10 epochs of cosine decay: about 18 minutes, the per-epoch val curve
        # is in the Imagenette chapter
        "epochs": 10,
    },
    "location": dict(_TINY["location"]),
    "policy": dict(_TINY["policy"]),
    "classnet": dict(_TINY["classnet"]),
    "dram": {
        **_TINY["dram"],
        # an epoch of the 9,469 photographs is 4.6x the tiny one: 16 epochs would take about 45 minutes,
        # as long as the rest of the chain; this preset keeps the short schedule (its DRAM under-trained)
        "epochs": 4,
    },
    "fullimage": {
        **_TINY["fullimage"],
        "epochs": 10,  # a from-scratch CNN learns real photographs more slowly than the clutter set (~50 s an epoch)
    },
}


# the data sets read from a folder (--data-dir), with an example of that folder
FOLDER_DATASETS = {"imagenet": "/path/to/ILSVRC2012", "imagenette": "/path/to/imagenette2-320"}


def preset_dataset(preset: str) -> str:
    """The data set a preset trains on (``ConfigError`` for an unknown preset)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; presets: {', '.join(preset_names())}")
    return PRESETS[preset]["common"]["dataset"]


def require_data_dir(preset: str, data_dir: str | None, flag: str = "--data-dir") -> None:
    """``ConfigError`` when ``preset`` reads its data set from a folder and ``data_dir`` is not given."""
    dataset = preset_dataset(preset)
    if dataset in FOLDER_DATASETS and not data_dir:
        raise ConfigError(f"preset {preset!r} reads the {dataset} folder: pass {flag} {FOLDER_DATASETS[dataset]}")


def preset_names() -> list[str]:
    return sorted(PRESETS)


def resolve_config(stage: str, preset: str = "tiny", config_file: str | None = None, overrides: dict | None = None,
                   data_dir: str | None = None, run_dir: str | None = None, init_from: str | None = None) -> TrainConfig:
    """The full config of ``stage`` under ``preset``, then the YAML file, the ``--set`` overrides and
    the explicit flags (later wins). Unknown stage/preset/key -> ``ConfigError`` listing the valid ones."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; presets: {', '.join(preset_names())}")
    cfg = TrainConfig(stage=stage, preset=preset)
    cfg = apply_overrides(cfg, PRESETS[preset]["common"])
    cfg = apply_overrides(cfg, PRESETS[preset].get(stage, {}))
    if config_file:
        cfg = apply_overrides(cfg, load_yaml(config_file))
    cfg = apply_overrides(cfg, overrides or {})
    flags = {k: v for k, v in (("data_dir", data_dir), ("run_dir", run_dir), ("init_from", init_from)) if v}
    cfg = apply_overrides(cfg, flags)
    if cfg.stage != stage:
        raise ConfigError(f"the config says stage={cfg.stage!r} but the command trains {stage!r}; drop 'stage' "
                          "from the config file / --set")
    if cfg.dataset in FOLDER_DATASETS and not cfg.data_dir:
        raise ConfigError(f"preset {preset!r}: the {cfg.dataset} data set needs its folder: pass --data-dir "
                          f"{FOLDER_DATASETS[cfg.dataset]} "
                          "(holding train/<wnid>/*.JPEG and val/<wnid>/*.JPEG)")
    return cfg.validate()


__all__ = ["FOLDER_DATASETS", "PRESET_BASES", "PRESETS", "preset_dataset", "preset_names", "require_data_dir",
           "resolve_config"]
