"""Saccader-ClassNet (SPEC 2.7): Saccader picks the locations, a separate CNN classifies the glimpses.

Data flow for a high-resolution batch ``x_hi`` (B, 3, S_hi, S_hi), e.g. S_hi = 331::

    x_lo      = resize(x_hi, S_lo)  (bicubic, antialias; S_lo = the Saccader's input size, 224)
    indices   = Saccader(x_lo).indices                  (B, T)  argmax cells on the G x G grid
    l         = linspace(-1, 1, G)[row, col] * (1 - g_lo / S_lo)   normalized (y, x) locations
    glimpses  = crop(x_hi, l, size = int(S_hi / S_lo * g_lo))      (B, T, 3, 113, 113) for 331 px
    step_logits = ClassNet(glimpses)                    (B, T, C)
    logits      = mean_t step_logits                    (B, C)

The crop follows the official ``utils.extract_glimpse`` (top-left ``int((S(l+3) - s)/2) - S``,
edge pixels replicated), i.e. the same normalized locations as the 77 px glimpses of the Saccader.

Backbones: timm ``nasnetalarge`` (slim NASNet-A Large without aux head; 88,953,851 parameters at
1001 classes counting BN running statistics, so Saccader-NASNet totals 124,537,764 as in Table
Supp.1), timm ``resnetv2_50`` (optional; timm's layout, not slim's), and a small timm ResNet for the
tiny CPU variant. Weights are never downloaded: ``pretrained_path`` / ``saccader_path`` load local
state dicts.

Glimpse size (issue 12, item 7): 113 px by default, 77 px with ``glimpse_size=77``. The released
``saccader_classnet_config`` sets ``glimpse_shape = (77, 77)`` ("computed after calling the
model"), and ``SaccaderClassNet.__call__`` applies the rule ``int(S_hi / S_lo * g_lo)`` = 113 only
when ``glimpse_shape_classnet[0] < 0``: run as released, the code cuts 77-px glimpses from the
331-px image. We keep 113 because (1) later readers of the paper list Saccader-NASNet's glimpses
as "113 x 6" (SPEC 2.6); (2) a 113-px glimpse covers nearly the same fraction of the 331-px image
(11.65 %) as a 77-px glimpse of the 224-px image (11.82 %), with the same normalized placement, so
the coverage of Saccader-NASNet is close to the Saccader's at the same locations, while 77-px glimpses would cover (77/113)^2 =
0.46 times as much per glimpse (at most 6 x 5.41 % = 32.5 % for 6 disjoint glimpses, so the paper's
29.47 +- 0.26 % would need six nearly disjoint glimpses, unlike the Saccader's neighbouring cells);
(3) the rule exists in the code only to produce that size.

Batch norms of the slim ClassNets (item 7): PyTorch momentum 1 - decay, i.e. 3e-4 for NASNet
(``nasnet_large_arg_scope``: decay 0.9997, eps 1e-3; timm's eps is already 1e-3) and 3e-3 for
ResNet-v2-50 (``resnet_arg_scope``: 0.997); ``bn_momentum=0.1`` gives timm's default back. Their
weights start from the slim arg scope's variance-scaling initializer (``init="torch"``: timm's).

UNCONFIRMED in the paper (SPEC 2.7, 3.4): whether Saccader is frozen while the classifier is
fine-tuned, and how the classifier was initialised. Here ``freeze_saccader=True`` by default: the
Saccader's parameters get ``requires_grad=False``, it runs in eval mode (argmax locations, BN
running statistics) and under ``torch.no_grad``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .init import check_init, set_bn_momentum_, slim_init_
from .registry import ModelCfg, create_model, get_model_cfg, register_model

try:  # register the Saccaders first, so that the configs below read their geometry
    from . import saccader as _saccader_models  # noqa: F401
except ImportError:  # pragma: no cover - the Saccader module is optional at import time
    _saccader_models = None

__all__ = [
    "ClassNetOutput",
    "build_backbone",
    "SaccaderClassNet",
    "StateDictMismatchError",
    "classnet_glimpse_size",
    "glimpses_at_indices",
    "load_state_dict_file",
]


@dataclass
class ClassNetOutput:
    """What :class:`SaccaderClassNet` returns.

    logits       (B, C)        mean over T of ``step_logits``.
    step_logits  (B, T, C)     classifier logits of each glimpse.
    indices      (B, T) long   Saccader's grid cells (row-major on its G x G grid).
    glimpses     (B, T, 3, s, s) the high-resolution glimpses, only with ``return_glimpses=True``.
    saccader     the Saccader's own output (SaccaderOutput), only with ``return_glimpses=True``.
    """

    logits: torch.Tensor
    step_logits: torch.Tensor
    indices: torch.Tensor
    glimpses: Optional[torch.Tensor] = None
    saccader: Any = None


# --------------------------------------------------------------------------------------------
# Glimpses
# --------------------------------------------------------------------------------------------
def classnet_glimpse_size(hires_size: int, saccader_size: int, saccader_glimpse: int) -> int:
    """int(S_hi / S_lo * g_lo): 331 px with the 224/77 Saccader -> 113; 144 with 96/33 -> 49."""
    return int(hires_size / saccader_size * saccader_glimpse)


def indices_to_locations(indices: torch.Tensor, grid_size: int, location_scale: float) -> torch.Tensor:
    """Grid cells (B, T) -> normalized (y, x) locations (B, T, 2): linspace(-1, 1, G) * location_scale."""
    grid = torch.linspace(-1.0, 1.0, grid_size, device=indices.device)
    rows = torch.div(indices, grid_size, rounding_mode="floor")
    cols = indices % grid_size
    return torch.stack([grid[rows], grid[cols]], dim=-1) * float(location_scale)


def glimpses_at_indices(
    images: torch.Tensor, indices: torch.Tensor, *, grid_size: int, location_scale: float, size: int
) -> torch.Tensor:
    """Crop ``size`` x ``size`` glimpses of ``images`` (B, C, H, W) at the Saccader's cells (B, T).

    Returns (B, T, C, size, size). Same rule as ``saccader.models.dram.extract_glimpses`` (and the
    official ``utils.extract_glimpse``), batched over T without copying the images.
    """
    if indices.dim() != 2 or indices.shape[0] != images.shape[0]:
        raise ValueError(f"indices must be (B, T) with B = {images.shape[0]}, got {tuple(indices.shape)}")
    b, c, h, w = images.shape
    loc = indices_to_locations(indices, grid_size, location_scale)  # (B, T, 2)
    ar = torch.arange(int(size), device=images.device)
    top = torch.floor((h * (loc[..., 0:1] + 3.0) - size) / 2.0).long() - h  # (B, T, 1)
    left = torch.floor((w * (loc[..., 1:2] + 3.0) - size) / 2.0).long() - w
    rows = (top + ar).clamp_(0, h - 1)  # (B, T, size)
    cols = (left + ar).clamp_(0, w - 1)
    bi = torch.arange(b, device=images.device)[:, None, None, None]
    out = images[bi, :, rows[..., :, None], cols[..., None, :]]  # (B, T, size, size, C)
    return out.permute(0, 1, 4, 2, 3)


# --------------------------------------------------------------------------------------------
# Local weights
# --------------------------------------------------------------------------------------------
class StateDictMismatchError(ValueError):
    """A local state dict does not fit the module it is loaded into."""


def _unwrap(obj: Any, path: str) -> dict:
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state", "model_state_dict", "state_dict_ema"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise StateDictMismatchError(f"{path} does not hold a state dict (a dict of tensors by name)")
    return obj


def load_state_dict_file(
    module: nn.Module, path: str | os.PathLike, *, prefix: str = "", num_classes: int | None = None
) -> nn.Module:
    """Load a local checkpoint into ``module`` strictly; never downloads anything.

    Accepts a bare state dict or a dict holding one under "state_dict"/"model"/...; strips a
    "module." prefix (DataParallel) and, when ``prefix`` is given (e.g. "classnet."), keeps only the
    keys under it (so a whole Saccader-ClassNet checkpoint can seed one part). A classifier saved
    with ``num_classes - 1`` outputs (a 1000-class timm checkpoint for a 1001-class model) gets a
    background row 0 prepended: zero weights and a bias 20 below the smallest bias, so it never wins.

    Raises FileNotFoundError for a missing file and StateDictMismatchError (a ValueError) naming the
    missing/unexpected keys or the mismatching shapes.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"checkpoint {path!r} not found; pass the path of a local state dict (weights are never "
            f"downloaded), or pretrained_path=None for random initialisation"
        )
    sd = _unwrap(torch.load(path, map_location="cpu", weights_only=True), path)
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
    if prefix and any(k.startswith(prefix) for k in sd):
        sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    if missing or unexpected:
        raise StateDictMismatchError(
            f"{path!r} does not match {type(module).__name__}: {len(missing)} missing key(s) "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}, {len(unexpected)} unexpected key(s) "
            f"{unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}. Use a checkpoint of the same "
            f"architecture (same registry name and width) or pretrained_path=None."
        )
    fixed = {}
    for k, v in sd.items():
        target = own[k]
        if v.shape != target.shape:
            background = (
                num_classes is not None
                and target.dim() >= 1
                and target.shape[0] == num_classes
                and v.shape[0] == num_classes - 1
                and v.shape[1:] == target.shape[1:]
            )
            if not background:
                raise StateDictMismatchError(
                    f"{path!r}: shape of {k!r} is {tuple(v.shape)} in the file but {tuple(target.shape)} "
                    f"in the model; check num_classes and the architecture"
                )
            row = v.new_zeros((1,) + tuple(v.shape[1:]))
            if v.dim() == 1:  # bias
                row.fill_(float(v.min()) - 20.0)
            v = torch.cat([row, v], dim=0)
        fixed[k] = v
    module.load_state_dict(fixed, strict=True)
    return module


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------
class SaccaderClassNet(nn.Module):
    """Saccader locations + a CNN on larger glimpses of the high-resolution image.

    Args:
        saccader: a Saccader model (``model(images, num_glimpses=T, policy=..., sample=...)`` with
            ``.indices`` (B, T) and a ``.cfg`` giving its input size, glimpse size and grid size).
        classnet: any classifier (N, 3, s, s) -> (N, C).
        hires_size: S_hi, side of the images given to :meth:`forward`.
        glimpse_size: side s of the classifier's glimpses (default int(S_hi / S_lo * g_lo)).
        num_glimpses: default T (6 in the paper).
        freeze_saccader: see the module docstring (UNCONFIRMED; default True).
        input_mean, input_std: normalization of the images given to :meth:`forward`.
        classnet_mean, classnet_std: if set, glimpses are re-normalized to what the classifier
            expects (e.g. (0.5,)*3 for timm's TF-ported NASNet weights); default: unchanged, as in
            the official code.
    """

    def __init__(
        self,
        saccader: nn.Module,
        classnet: nn.Module,
        *,
        hires_size: int,
        glimpse_size: int | None = None,
        num_glimpses: int = 6,
        freeze_saccader: bool = True,
        input_mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
        input_std: tuple[float, float, float] = (0.229, 0.224, 0.225),
        classnet_mean: tuple[float, float, float] | None = None,
        classnet_std: tuple[float, float, float] | None = None,
    ):
        super().__init__()
        scfg = getattr(saccader, "cfg", None)
        if scfg is None:
            raise ValueError("the saccader needs a .cfg (ModelCfg); build it with create_model(...)")
        self.saccader = saccader
        self.classnet = classnet
        self.hires_size = int(hires_size)
        self.saccader_size = int(scfg.input_size[-1])
        self.grid_size = int(scfg.grid_size)
        self.location_scale = 1.0 - scfg.glimpse_size / self.saccader_size
        self.glimpse_size = int(
            glimpse_size or classnet_glimpse_size(self.hires_size, self.saccader_size, scfg.glimpse_size)
        )
        self.num_glimpses = int(num_glimpses)
        self.freeze_saccader = bool(freeze_saccader)
        if (classnet_mean is None) != (classnet_std is None):
            raise ValueError("give both classnet_mean and classnet_std, or neither")
        self._renorm = None
        if classnet_mean is not None:
            mi, si = torch.tensor(input_mean), torch.tensor(input_std)
            mo, so = torch.tensor(classnet_mean), torch.tensor(classnet_std)
            # x_out = (x_in * s_in + m_in - m_out) / s_out = a * x_in + b
            self._renorm = ((si / so).view(3, 1, 1), ((mi - mo) / so).view(3, 1, 1))
        if self.freeze_saccader:
            for p in self.saccader.parameters():
                p.requires_grad_(False)
            self.saccader.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_saccader:
            self.saccader.eval()
        return self

    def classnet_parameters(self):
        return self.classnet.parameters()

    def saccader_input(self, images_hires: torch.Tensor) -> torch.Tensor:
        """The high-resolution batch resized to the Saccader's input size (bicubic, antialias)."""
        if images_hires.shape[-1] == self.saccader_size and images_hires.shape[-2] == self.saccader_size:
            return images_hires
        return F.interpolate(
            images_hires, size=(self.saccader_size,) * 2, mode="bicubic", align_corners=False, antialias=True
        )

    def forward(
        self,
        images_hires: torch.Tensor,
        images_saccader: torch.Tensor | None = None,
        *,
        num_glimpses: int | None = None,
        policy: str = "learned",
        sample: bool | None = None,
        return_glimpses: bool = False,
    ) -> ClassNetOutput:
        """images_hires (B, 3, S_hi, S_hi) -> :class:`ClassNetOutput`.

        ``images_saccader`` (B, 3, S_lo, S_lo): the Saccader's view, if the caller has it (else the
        bicubic resize of ``images_hires``). ``sample=None``: argmax when the Saccader is frozen or in
        eval mode, samples when it is trained.
        """
        if images_hires.dim() != 4 or images_hires.shape[-1] != images_hires.shape[-2]:
            raise ValueError(f"expected square images (B, 3, S, S), got {tuple(images_hires.shape)}")
        if images_hires.shape[-1] != self.hires_size:
            raise ValueError(
                f"expected {self.hires_size} px images, got {images_hires.shape[-1]} px; resize them or "
                f"build the model with hires_size={images_hires.shape[-1]}"
            )
        t = int(num_glimpses or self.num_glimpses)
        x_lo = self.saccader_input(images_hires) if images_saccader is None else images_saccader
        if self.freeze_saccader:
            with torch.no_grad():
                sacc = self.saccader(x_lo, num_glimpses=t, policy=policy, sample=bool(sample))
        else:
            sacc = self.saccader(x_lo, num_glimpses=t, policy=policy, sample=sample)
        indices = sacc.indices
        glimpses = glimpses_at_indices(
            images_hires,
            indices,
            grid_size=self.grid_size,
            location_scale=self.location_scale,
            size=self.glimpse_size,
        )
        b = images_hires.shape[0]
        x = glimpses.reshape(b * t, *glimpses.shape[2:])
        if self._renorm is not None:
            a, c = (v.to(x) for v in self._renorm)
            x = x * a + c
        step_logits = self.classnet(x).reshape(b, t, -1)
        return ClassNetOutput(
            logits=step_logits.mean(dim=1),
            step_logits=step_logits,
            indices=indices,
            glimpses=glimpses if return_glimpses else None,
            saccader=sacc if return_glimpses else None,
        )


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
# The official ClassNets are slim networks built under their arg scopes (SPEC 2.7):
# nasnet_large_arg_scope (BN decay 0.9997, eps 1e-3; variance scaling fan_out) and, for
# classnet_type "resnet_v2_50", resnet_arg_scope through nets_factory (decay 0.997; fan_in).
# PyTorch momentum = 1 - TF decay. The tiny backbone is ours: timm's defaults (momentum 0.1).
SLIM_BN_MOMENTUM = {"nasnet": 3e-4, "resnetv2_50": 3e-3}
SLIM_INIT_MODE = {"nasnet": "fan_out", "resnetv2_50": "fan_in"}


def build_backbone(kind: str, num_classes: int, **kw) -> nn.Module:
    """Classifier for the glimpses, randomly initialised: "nasnet" (timm nasnetalarge), "resnetv2_50"
    (timm), or "tiny" (timm ResNet with BasicBlocks ``layers=(1, 1, 1, 1)`` at ``width=0.25``:
    channels 16, 32, 64, 128)."""
    import timm

    if kind == "nasnet":
        # slim NASNet-A Large, use_aux_head=0, drop_path_keep_prob=1.0 (timm has no aux head)
        return timm.create_model("nasnetalarge", pretrained=False, num_classes=num_classes, **kw)
    if kind == "resnetv2_50":
        return timm.create_model("resnetv2_50", pretrained=False, num_classes=num_classes, **kw)
    if kind == "tiny":
        from timm.models.resnet import BasicBlock, ResNet

        width = kw.pop("width", 0.25)
        ch = tuple(max(4, int(round(c * width))) for c in (64, 128, 256, 512))
        return ResNet(BasicBlock, kw.pop("layers", (1, 1, 1, 1)), num_classes=num_classes, channels=ch,
                      stem_width=ch[0], **kw)
    raise ValueError(f"unknown classnet backbone {kind!r}; known: nasnet, resnetv2_50, tiny")


def _build(cfg: ModelCfg, kind: str, kwargs: dict) -> SaccaderClassNet:
    kwargs = dict(kwargs)
    num_classes = int(kwargs.pop("num_classes", cfg.num_classes))
    saccader_name = kwargs.pop("saccader", cfg.extra["saccader"])
    saccader_kwargs = dict(kwargs.pop("saccader_kwargs", {}) or {})
    classnet_kwargs = dict(kwargs.pop("classnet_kwargs", {}) or {})
    pretrained_path = kwargs.pop("pretrained_path", None)
    saccader_path = kwargs.pop("saccader_path", None)
    init = check_init(kwargs.pop("init", "official"))
    bn_momentum = kwargs.pop("bn_momentum", SLIM_BN_MOMENTUM.get(kind))
    allowed = {"glimpse_size", "num_glimpses", "freeze_saccader", "classnet_mean", "classnet_std"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise TypeError(
            f"unknown Saccader-ClassNet option(s) {sorted(unknown)}; known: {sorted(allowed)} + num_classes, "
            f"saccader, saccader_kwargs, classnet_kwargs, pretrained_path, saccader_path, init, bn_momentum"
        )
    saccader_kwargs.setdefault("init", init)
    saccader = create_model(saccader_name, num_classes=num_classes, **saccader_kwargs)
    if saccader_path is not None:
        load_state_dict_file(saccader, saccader_path, prefix="saccader.", num_classes=num_classes)
    classnet = build_backbone(kind, num_classes, **classnet_kwargs)
    if init == "official" and kind in SLIM_INIT_MODE:
        slim_init_(classnet, SLIM_INIT_MODE[kind])
    if bn_momentum is not None:
        set_bn_momentum_(classnet, bn_momentum)
    if pretrained_path is not None:
        load_state_dict_file(classnet, pretrained_path, prefix="classnet.", num_classes=num_classes)
    kwargs.setdefault("glimpse_size", cfg.glimpse_size)
    return SaccaderClassNet(
        saccader, classnet, hires_size=cfg.image_size, input_mean=cfg.mean, input_std=cfg.std, **kwargs
    )


def _cfg(name: str, saccader: str, hires: int, num_classes: int, label_offset: int, backbone: str) -> ModelCfg:
    try:  # the Saccader's geometry, when its module is already registered
        s = get_model_cfg(saccader)
        s_size, s_glimpse, grid, stride = s.image_size, s.glimpse_size, s.grid_size, s.stride
    except ValueError:
        # SPEC 2.2 arithmetic: 224 px BagNet-77 -> 19 x 19 cells; 96 px tiny BagNet-33
        # (kernel3 = [1, 1, 1, 1]) -> 94, 46, 22, 10, 8 -> 8 x 8 cells; stride 8 for both.
        s_size, s_glimpse, grid, stride = {"saccader77": (224, 77, 19, 8)}.get(saccader, (96, 33, 8, 8))
    return ModelCfg(
        name=name,
        input_size=(3, hires, hires),
        glimpse_size=classnet_glimpse_size(hires, s_size, s_glimpse),
        grid_size=grid,
        stride=stride,
        receptive_field=classnet_glimpse_size(hires, s_size, s_glimpse),
        num_classes=num_classes,
        label_offset=label_offset,
        crop_fraction=hires / (hires + hires // 10),
        extra={"saccader": saccader, "saccader_input_size": s_size, "backbone": backbone},
    )


@register_model(_cfg("saccader_classnet_nasnet", "saccader77", 331, 1001, 1, "nasnetalarge"))
def saccader_classnet_nasnet(cfg: ModelCfg, **kwargs) -> SaccaderClassNet:
    """Saccader-77 on the 224 px view + NASNet-A Large on 113 px glimpses of the 331 px image."""
    return _build(cfg, "nasnet", kwargs)


@register_model(_cfg("saccader_classnet_resnetv2_50", "saccader77", 331, 1001, 1, "resnetv2_50"))
def saccader_classnet_resnetv2_50(cfg: ModelCfg, **kwargs) -> SaccaderClassNet:
    """Saccader-77 + timm ResNet-v2-50 on 113 px glimpses of the 331 px image (code option only)."""
    return _build(cfg, "resnetv2_50", kwargs)


@register_model(_cfg("saccader_classnet_tiny", "saccader33_tiny", 144, 10, 0, "resnet-tiny"))
def saccader_classnet_tiny(cfg: ModelCfg, **kwargs) -> SaccaderClassNet:
    """Tiny Saccader on the 96 px view + a quarter-width ResNet-10 on 49 px glimpses of 144 px images."""
    return _build(cfg, "tiny", kwargs)
