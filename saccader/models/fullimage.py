"""Standard full-image CNNs: the accuracy a classifier reaches when it sees the whole image
(SPEC 8.2: "standard full-image CNNs (ResNet-v2-50 ...) as upper references").

=====================  ======  =======  ==================================================
name                   input   classes  network
=====================  ======  =======  ==================================================
resnetv2_50_full       224     1001     timm ResNet-v2-50 (the slim network of the paper's
                                        references and of DRAM's glimpse network)
resnet_tiny_full       96      10       the tiny preset's ResNet (BasicBlocks (1, 1, 1, 1) at
                                        quarter width, channels 16..128), the same network as
                                        the tiny Saccader-ClassNet's classifier
=====================  ======  =======  ==================================================

``FullImageCNN(images (B, 3, S, S)) -> {"logits": (B, classes)}`` (the key the BagNet uses for
its image-level logits, so one evaluation reads both).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .classnet import build_backbone
from .registry import ModelCfg, register_model


class FullImageCNN(nn.Module):
    """A classifier of the whole image: ``backbone`` from :func:`classnet.build_backbone`."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, images: torch.Tensor) -> dict:
        return {"logits": self.backbone(images)}


def _build(cfg: ModelCfg, kind: str, kwargs: dict) -> FullImageCNN:
    kwargs = dict(kwargs)
    num_classes = int(kwargs.pop("num_classes", cfg.num_classes))
    return FullImageCNN(build_backbone(kind, num_classes, **kwargs))


def _cfg(name: str, size: int, num_classes: int, label_offset: int, crop_fraction: float, backbone: str) -> ModelCfg:
    # one "glimpse" covering the whole image; grid 1 (the image is one cell)
    return ModelCfg(name=name, input_size=(3, size, size), glimpse_size=size, grid_size=1, stride=size,
                    receptive_field=size, num_classes=num_classes, label_offset=label_offset,
                    crop_fraction=crop_fraction, extra={"backbone": backbone, "full_image": True})


@register_model(_cfg("resnetv2_50_full", 224, 1001, 1, 224 / 246, "resnetv2_50"))
def resnetv2_50_full(cfg: ModelCfg, **kwargs) -> FullImageCNN:
    """ResNet-v2-50 on the full 224 px image (the ImageNet preset's full-image reference)."""
    return _build(cfg, "resnetv2_50", kwargs)


@register_model(_cfg("resnet_tiny_full", 96, 10, 0, 1.0, "resnet-tiny"))
def resnet_tiny_full(cfg: ModelCfg, **kwargs) -> FullImageCNN:
    """Quarter-width ResNet-10 on the full 96 px clutter image (the tiny preset's reference)."""
    return _build(cfg, "tiny", kwargs)
