"""Saccader-ClassNet: glimpse placement on the high-resolution image, shapes, freezing, local weights.

The ClassNet machinery is tested with a small stand-in Saccader (same call signature and output
field); the tests marked ``needs_saccader`` use the registered Saccaders and are skipped, with the
reason, while ``saccader33_tiny`` / ``saccader77`` are not registered.
"""
from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from saccader.models import ModelCfg, create_model, get_model_cfg, list_models
from saccader.models.classnet import (
    ClassNetOutput,
    SaccaderClassNet,
    StateDictMismatchError,
    build_backbone,
    classnet_glimpse_size,
    glimpses_at_indices,
    load_state_dict_file,
)

PAPER_SACCADER_NASNET = 124_537_764  # Table Supp.1, incl. BN moving statistics, 1001 classes
PAPER_SACCADER = 35_583_913
NASNET_PART = PAPER_SACCADER_NASNET - PAPER_SACCADER  # 88,953,851

needs_saccader = pytest.mark.skipif(
    not {"saccader33_tiny", "saccader77"} <= set(list_models()),
    reason="saccader.models.saccader (saccader33_tiny, saccader77) is not registered yet",
)


def _count(module):
    params = sum(p.numel() for p in module.parameters())
    return params + sum(b.numel() for n, b in module.named_buffers() if not n.endswith("num_batches_tracked"))


@dataclass
class _StubOut:
    indices: torch.Tensor


class _StubSaccader(nn.Module):
    """Stand-in with the Saccader's interface: scores the 8 x 8 cells with a conv, picks the top T."""

    cfg = ModelCfg(name="stub", input_size=(3, 96, 96), glimpse_size=33, grid_size=8, num_classes=10, label_offset=0)

    def __init__(self):
        super().__init__()
        self.score = nn.Conv2d(3, 1, 3, padding=1)

    def forward(self, images, num_glimpses=6, policy="learned", sample=None):
        assert images.shape[-2:] == (96, 96)
        s = F.adaptive_avg_pool2d(self.score(images), 8).flatten(1)  # (B, 64)
        return _StubOut(s.topk(num_glimpses, dim=1).indices)


def _stub_model(**kw):
    torch.manual_seed(0)
    return SaccaderClassNet(_StubSaccader(), build_backbone("tiny", 10), hires_size=144, **kw).eval()


@pytest.fixture(scope="module")
def hires():
    torch.manual_seed(1)
    return torch.randn(2, 3, 144, 144)


def _check_crops(glimpses, indices, hires, grid, size, scale):
    lin = torch.linspace(-1, 1, grid)
    for b in range(indices.shape[0]):
        for t in range(indices.shape[1]):
            r, c = divmod(int(indices[b, t]), grid)
            top = int((144 * (float(lin[r]) * scale + 3) - size) / 2) - 144
            left = int((144 * (float(lin[c]) * scale + 3) - size) / 2) - 144
            assert 0 <= top <= 144 - size and 0 <= left <= 144 - size  # always inside the image
            assert torch.equal(glimpses[b, t], hires[b, :, top : top + size, left : left + size])


# ------------------------------------------------------------------------------------------------
# always run
# ------------------------------------------------------------------------------------------------
def test_glimpse_sizes_and_cfgs():
    assert classnet_glimpse_size(331, 224, 77) == 113
    assert classnet_glimpse_size(144, 96, 33) == 49
    nas = get_model_cfg("saccader_classnet_nasnet")
    assert nas.glimpse_size == 113 and nas.input_size == (3, 331, 331) and nas.num_classes == 1001
    assert nas.label_offset == 1
    cfg = get_model_cfg("saccader_classnet_tiny")
    assert cfg.glimpse_size == 49 and cfg.input_size == (3, 144, 144) and cfg.num_classes == 10
    assert cfg.label_offset == 0


def test_nasnet_backbone_count_is_the_paper_difference():
    # Table Supp.1: Saccader-NASNet - Saccader = slim NASNet-A Large (no aux head) at 1001 classes
    assert _count(build_backbone("nasnet", 1001)) == NASNET_PART


def test_glimpses_at_indices_corners_and_centre(hires):
    idx = torch.tensor([[0, 63, 7], [56, 27, 36]])
    g = glimpses_at_indices(hires, idx, grid_size=8, location_scale=1 - 33 / 96, size=49)
    assert g.shape == (2, 3, 3, 49, 49)
    assert torch.equal(g[0, 0], hires[0, :, :49, :49])  # top-left cell -> top-left corner
    # bottom-right cell: int((144 * (3 + 0.65625) - 49) / 2) - 144 = 94, one pixel short of the corner
    assert torch.equal(g[0, 1], hires[0, :, 94:143, 94:143])
    _check_crops(g, idx, hires, 8, 49, 1 - 33 / 96)


def test_forward_shapes_and_crops_with_stub(hires):
    model = _stub_model()
    out = model(hires, num_glimpses=3, return_glimpses=True)
    assert isinstance(out, ClassNetOutput)
    assert out.logits.shape == (2, 10) and out.step_logits.shape == (2, 3, 10)
    assert out.indices.shape == (2, 3) and out.indices.dtype == torch.long
    assert torch.allclose(out.logits, out.step_logits.mean(1))
    # indices: the Saccader's run on the bicubic antialiased 96 px view
    lo = F.interpolate(hires, size=(96, 96), mode="bicubic", align_corners=False, antialias=True)
    with torch.no_grad():
        assert torch.equal(out.indices, model.saccader(lo, num_glimpses=3).indices)
    _check_crops(out.glimpses, out.indices, hires, 8, 49, 1 - 33 / 96)
    with torch.no_grad():  # each step's logits are the classifier on that glimpse
        assert torch.allclose(out.step_logits[:, 2], model.classnet(out.glimpses[:, 2]), atol=1e-5)
    # an explicit Saccader view is used as given
    same = model(hires, images_saccader=lo, num_glimpses=3)
    assert torch.equal(same.indices, out.indices)
    with pytest.raises(ValueError, match="144 px"):
        model(torch.zeros(1, 3, 96, 96))


def test_frozen_saccader_only_classnet_learns(hires):
    model = _stub_model().train()
    assert not model.saccader.training
    assert not any(p.requires_grad for p in model.saccader.parameters())
    model(hires, num_glimpses=2).logits.sum().backward()
    assert all(p.grad is None for p in model.saccader.parameters())
    assert sum(float(p.grad.abs().sum()) for p in model.classnet.parameters() if p.grad is not None) > 0
    unfrozen = _stub_model(freeze_saccader=False).train()
    assert unfrozen.saccader.training and all(p.requires_grad for p in unfrozen.saccader.parameters())


def test_renormalization_for_the_classifier(hires):
    model = _stub_model(classnet_mean=(0.5,) * 3, classnet_std=(0.5,) * 3)
    seen = {}
    model.classnet.register_forward_pre_hook(lambda m, a: seen.setdefault("x", a[0]))
    out = model(hires, num_glimpses=1, return_glimpses=True)
    mean = torch.tensor((0.485, 0.456, 0.406)).view(3, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(3, 1, 1)
    expected = (out.glimpses[:, 0] * std + mean - 0.5) / 0.5
    assert torch.allclose(seen["x"], expected, atol=1e-5)


def test_load_state_dict_file(tmp_path):
    torch.manual_seed(0)
    src = build_backbone("tiny", 10)
    torch.save(src.state_dict(), tmp_path / "bare.pt")
    torch.save({"state_dict": {"module." + k: v for k, v in src.state_dict().items()}}, tmp_path / "ddp.pt")
    torch.save({"model": {"classnet." + k: v for k, v in src.state_dict().items()}}, tmp_path / "whole.pt")
    for name in ("bare.pt", "ddp.pt", "whole.pt"):
        torch.manual_seed(5)
        dst = load_state_dict_file(build_backbone("tiny", 10), tmp_path / name, prefix="classnet.")
        for k, v in src.state_dict().items():
            assert torch.equal(v, dst.state_dict()[k]), (name, k)


def test_missing_file_and_mismatching_keys_raise(tmp_path):
    net = build_backbone("tiny", 10)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_state_dict_file(net, tmp_path / "nope.pt")
    bad = dict(net.state_dict())
    bad.pop("conv1.weight")
    bad["extra.weight"] = torch.zeros(1)
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(StateDictMismatchError, match="missing key.*conv1.weight.*unexpected key.*extra.weight"):
        load_state_dict_file(net, tmp_path / "bad.pt")
    wrong = {k: (torch.zeros(5, *v.shape[1:]) if k == "fc.weight" else v) for k, v in net.state_dict().items()}
    torch.save(wrong, tmp_path / "shape.pt")
    with pytest.raises(StateDictMismatchError, match="fc.weight"):
        load_state_dict_file(net, tmp_path / "shape.pt", num_classes=10)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(StateDictMismatchError, match="state dict"):
        load_state_dict_file(net, tmp_path / "list.pt")


def test_background_row_added_to_a_checkpoint_without_it(tmp_path):
    # a 1000-class checkpoint into a 1001-class model, shown at 9 -> 10 classes
    small = build_backbone("tiny", 9)
    torch.save(small.state_dict(), tmp_path / "c9.pt")
    fc = load_state_dict_file(build_backbone("tiny", 10), tmp_path / "c9.pt", num_classes=10).fc
    assert torch.equal(fc.weight[1:], small.fc.weight) and torch.equal(fc.bias[1:], small.fc.bias)
    assert torch.equal(fc.weight[0], torch.zeros_like(fc.weight[0]))
    assert float(fc.bias[0].detach()) < float(small.fc.bias.detach().min())


# ------------------------------------------------------------------------------------------------
# with the registered Saccaders
# ------------------------------------------------------------------------------------------------
@needs_saccader
def test_nasnet_parameter_count_matches_paper():
    model = create_model("saccader_classnet_nasnet")
    assert _count(model.classnet) == NASNET_PART
    assert _count(model.saccader) == PAPER_SACCADER
    assert _count(model) == PAPER_SACCADER_NASNET


@needs_saccader
def test_tiny_forward_and_crops_at_the_saccaders_cells(hires):
    torch.manual_seed(0)
    model = create_model("saccader_classnet_tiny").eval()
    out = model(hires, num_glimpses=4, return_glimpses=True)
    assert out.logits.shape == (2, 10) and out.step_logits.shape == (2, 4, 10) and out.indices.shape == (2, 4)
    lo = F.interpolate(hires, size=(96, 96), mode="bicubic", align_corners=False, antialias=True)
    with torch.no_grad():
        ref = model.saccader(lo, num_glimpses=4, sample=False)
    assert torch.equal(out.indices, ref.indices)
    assert model.grid_size == model.saccader.cfg.grid_size == model.cfg.grid_size
    _check_crops(out.glimpses, out.indices, hires, model.grid_size, 49, 1 - 33 / 96)


@needs_saccader
def test_glimpses_agree_with_geometry(hires):
    geometry = pytest.importorskip("saccader.geometry")
    cfg = get_model_cfg("saccader33_tiny")
    geo = geometry.GlimpseGeometry.from_model_cfg(cfg)
    g = cfg.grid_size
    idx = torch.tensor([[0, g * g - 1, g - 1], [g * (g - 1), g * g // 2, 3]])
    ours = glimpses_at_indices(hires, idx, grid_size=g, location_scale=1 - 33 / 96, size=49)
    theirs = geo.extract_glimpses(hires, idx, size=49, image_size=144)
    assert torch.equal(ours, theirs)


@needs_saccader
def test_registry_loads_local_weights(tmp_path, hires):
    torch.manual_seed(0)
    src = create_model("saccader_classnet_tiny").eval()
    torch.save({"model": src.state_dict(), "step": 3}, tmp_path / "whole.pt")
    torch.manual_seed(123)
    dst = create_model(
        "saccader_classnet_tiny", pretrained_path=str(tmp_path / "whole.pt"), saccader_path=str(tmp_path / "whole.pt")
    ).eval()
    with torch.no_grad():
        assert torch.allclose(dst(hires, num_glimpses=2).logits, src(hires, num_glimpses=2).logits, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="not found"):
        create_model("saccader_classnet_tiny", pretrained_path=str(tmp_path / "nope.pt"))
