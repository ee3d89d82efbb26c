"""Where the official code decides (issue 12): the cell's precision, the initializers, the BN mode
of location pretraining, the policy cross-entropy switch, the slim ClassNets' BN momentum and the
Saccader-NASNet glimpse size. The L2 filter is in test_losses.py."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from saccader.models import create_model, get_model_cfg, list_models
from saccader.models.bagnet import BagNet, Bottleneck
from saccader.models.classnet import SaccaderClassNet
from saccader.models.dram import DRAM, TFLSTMCell
from saccader.models.init import tf_fans
from saccader.models.saccader import Saccader, SaccaderCell
from saccader.train import stages
from saccader.train.config import ConfigError, TrainConfig
from saccader.train.presets import resolve_config

# ================================================================================================
# item 1: the cell runs in float32 under bf16 autocast
# ================================================================================================


def _cell_inputs(seed=0, b=4, d=64, g=9, c=10):
    gen = torch.Generator().manual_seed(seed)
    mixed = torch.randn(b, d, g, g, generator=gen) * 2.0
    logits2d = torch.randn(b, c, g, g, generator=gen)
    return mixed, logits2d


def test_cell_under_bf16_autocast_equals_float32():
    torch.manual_seed(0)
    cell = SaccaderCell(64)
    mixed, logits2d = _cell_inputs()
    steps, idx, loc = cell(mixed, logits2d, 12, sample=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        steps_a, idx_a, loc_a = cell(mixed, logits2d, 12, sample=False)
    assert loc_a.dtype == torch.float32 and steps_a.dtype == torch.float32
    assert torch.equal(idx_a, idx)  # the same cells
    assert (loc_a - loc).abs().max().item() <= 1e-5  # the same location logits
    assert (steps_a - steps).abs().max().item() <= 1e-5


def test_saccader_cell_gets_float32_under_autocast():
    """In the whole model under autocast, the location logits are the float32 cell's on the
    (autocast) mixed features, and the step logits are float32."""
    torch.manual_seed(0)
    net = create_model("saccader33_tiny").eval()
    seen = {}
    net.mix.register_forward_hook(lambda m, i, o: seen.__setitem__("mixed", o.detach()))
    images = torch.randn(2, 3, 96, 96)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(images, num_glimpses=6)
    assert seen["mixed"].dtype == torch.bfloat16  # the convs do run in bf16
    with torch.no_grad():
        _, idx, loc = net.cell(seen["mixed"].float(), out.logits2d.float(), 6, sample=False)
    assert out.location_logits.dtype == torch.float32 and out.step_logits.dtype == torch.float32
    assert torch.equal(out.indices, idx)
    assert (out.location_logits - loc).abs().max().item() <= 1e-5


# ================================================================================================
# item 2: initializers
# ================================================================================================

OFFICIAL = [n for n in list_models() if not n.endswith("_full")]  # the full-image CNNs are ours
_BUILT: dict = {}


def _model(name, **kw):
    key = (name, tuple(sorted(kw.items())))
    if key not in _BUILT:
        torch.manual_seed(0)
        _BUILT[key] = create_model(name, **kw)
    return _BUILT[key]


def _check_glorot(m: nn.Module, where: str) -> None:
    fan_in, fan_out = tf_fans(m)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    w = m.weight.detach()
    assert w.abs().max().item() <= limit * (1 + 1e-6), where
    if w.numel() >= 2000:
        assert w.std().item() == pytest.approx(math.sqrt(2.0 / (fan_in + fan_out)), rel=0.05), where
    if w.numel() >= 100:  # uniform over the whole range, not a narrower one
        assert w.abs().max().item() >= 0.9 * limit, where
    if getattr(m, "bias", None) is not None:
        assert torch.all(m.bias == 0), where


def _check_variance_scaling(m: nn.Module, mode: str, where: str) -> None:
    fan_in, fan_out = tf_fans(m)
    n = fan_in if mode == "fan_in" else fan_out
    w = m.weight.detach()
    assert w.abs().max().item() <= 2 * math.sqrt(2.6 / n) * (1 + 1e-6), where  # truncated at 2 std
    if w.numel() >= 2000:  # the truncation brings the std back to ~sqrt(2 / n)
        assert w.std().item() == pytest.approx(math.sqrt(2.0116 / n), rel=0.05), where
    if getattr(m, "bias", None) is not None:
        assert torch.all(m.bias == 0), where


def _check_bns(module: nn.Module, zero_gamma: set = frozenset()) -> None:
    for name, m in module.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            assert torch.all(m.bias == 0), name
            assert torch.all(m.weight == (0.0 if id(m) in zero_gamma else 1.0)), name


def _check_bagnet(net: BagNet) -> None:
    for name, m in net.named_modules():
        if isinstance(m, nn.Conv2d):
            _check_glorot(m, name)
    last = {id(m.bn_c) for m in net.modules() if isinstance(m, Bottleneck)}
    assert last  # gamma 0 on the last BN of each bottleneck, 1 elsewhere (the downsample BN too)
    _check_bns(net, last)


def _check_saccader(net: Saccader) -> None:
    _check_bagnet(net.representation)
    for part in (net.attention, net.mix, net.cell):
        for name, m in part.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                _check_glorot(m, name)
    _check_bns(net.attention)


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_initialization_ranges(name):
    net = _model(name)
    if isinstance(net, BagNet):
        _check_bagnet(net)
    elif isinstance(net, Saccader):
        _check_saccader(net)
    elif isinstance(net, DRAM):
        for mname, m in net.glimpse_net.named_modules():
            if isinstance(m, nn.Conv2d):
                _check_variance_scaling(m, "fan_in", mname)
        _check_bns(net.glimpse_net)
        for m in (net.rnn_classification.kernel, net.rnn_location.kernel, net.classifier, net.emission):
            _check_glorot(m, "dram head")
    elif isinstance(net, SaccaderClassNet):
        _check_saccader(net.saccader)
        kind = get_model_cfg(name).extra["backbone"]
        mode = {"nasnetalarge": "fan_out", "resnetv2_50": "fan_in"}.get(kind)
        if mode is not None:  # the slim ClassNets; the tiny one is ours (timm's init)
            for mname, m in net.classnet.named_modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    _check_variance_scaling(m, mode, mname)
            _check_bns(net.classnet)
    else:
        pytest.fail(f"{name}: a model of the official code without an initialization check")


def test_torch_init_switch_gives_the_earlier_scheme():
    torch.manual_seed(0)
    old = create_model("saccader33_tiny", init="torch")
    rep = old.representation
    assert rep.logits2d.weight.std().item() == pytest.approx(0.01, rel=0.05)
    conv = rep.groups[0][0].conv_a  # kaiming-normal fan_out: std sqrt(2 / fan_out)
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2.0 / conv.weight.shape[0]), rel=0.1)
    # the cell's dense layer keeps PyTorch's bound 1/sqrt(D), 2.4x below glorot's sqrt(6/(D+1)) at D = 512
    big = _model("saccader77")
    d = big.cell.attention_weights.weight.shape[1]
    assert big.cell.attention_weights.weight.abs().max().item() > 1.0 / math.sqrt(d)
    torch.manual_seed(0)
    cell = create_model("saccader77", init="torch").cell.attention_weights.weight
    assert cell.abs().max().item() <= 1.0 / math.sqrt(d)
    assert math.sqrt(6.0 / (d + 1)) * math.sqrt(d) == pytest.approx(2.44, abs=0.01)
    # the switch reaches every family; a bad value is refused
    for name in ("bagnet33_tiny", "dram_tiny", "saccader_classnet_tiny"):
        create_model(name, init="torch")
    with pytest.raises(ValueError, match="init='tf'"):
        create_model("bagnet33_tiny", init="tf")


# ================================================================================================
# item 3: BN of the frozen representation during location pretraining
# ================================================================================================

def _location_setup(mode):
    cfg = resolve_config("location", "tiny", overrides={"location_bn": mode})
    torch.manual_seed(0)
    net = stages.location_build(cfg, load=False)  # representation frozen (requires_grad off)
    stages.location_train_mode(net, cfg)
    return cfg, net


def _running(net):
    return {k: v.clone() for k, v in net.representation.state_dict().items()
            if "running" in k or "num_batches" in k}


@pytest.mark.parametrize("mode", ["batch", "batch_update", "running"])
def test_location_bn_modes(mode):
    cfg, net = _location_setup(mode)
    images = torch.randn(8, 3, 96, 96)
    labels = torch.randint(0, 10, (8,))
    assert net.representation.stem[1].training == (mode != "running") and net.attention[1].training
    # what the representation gives with the statistics the mode says (computed on a copy)
    ref_net = copy.deepcopy(net.representation).train(mode != "running")
    with torch.no_grad(), stages._running_stats_frozen(ref_net):
        ref = ref_net(images)["logits2d"]
    seen = []
    net.representation.register_forward_hook(lambda m, i, o: seen.append(o["logits2d"].detach()))
    before = _running(net)
    loss, _ = stages.location_loss(net, net, images, labels, cfg)
    loss.backward()
    after = _running(net)
    changed = any(not torch.equal(before[k], after[k]) for k in before)
    assert changed == (mode == "batch_update")  # running averages updated only by batch_update
    assert all(m.track_running_stats for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert net.representation.stem[0].weight.grad is None  # frozen in every mode
    assert len(seen) == 1 and torch.allclose(seen[0], ref, atol=1e-5)  # logits2d -> ordered-logits targets


def test_location_bn_batch_differs_from_running():
    images = torch.randn(8, 3, 96, 96)
    outs = {}
    for mode in ("batch", "running"):
        cfg, net = _location_setup(mode)
        with torch.no_grad(), stages._running_stats_frozen(net.representation, mode == "batch"):
            outs[mode] = net.representation(images)["logits2d"]
    assert not torch.allclose(outs["batch"], outs["running"], atol=1e-3)


def test_location_bn_and_policy_xent_are_validated():
    for key in ("location_bn", "policy_xent"):
        with pytest.raises(ConfigError, match=key):
            resolve_config("policy", "tiny", overrides={key: "other"})
    assert TrainConfig().location_bn == "batch" and TrainConfig().policy_xent == "mean_logits"


# ================================================================================================
# item 5: the policy stage's cross-entropy
# ================================================================================================

def test_policy_xent_switch_hand_values():
    torch.manual_seed(0)
    net = create_model("saccader33_tiny")
    net.train()
    images = torch.randn(4, 3, 96, 96)
    labels = torch.tensor([0, 1, 2, 3])
    got = {}
    for mode in ("mean_logits", "per_step"):
        cfg = resolve_config("policy", "tiny", overrides={"policy_xent": mode, "l2_weight": 0.0,
                                                          "l2_loc_weight": 0.0, "reinforce_weight": 0.0})
        torch.manual_seed(3)
        _, metrics = stages.policy_loss(net, net, images, labels, cfg)
        got[mode] = metrics["xent"].item()
    torch.manual_seed(3)
    out = net(images, num_glimpses=6, policy="learned")
    mean = F.cross_entropy(out.logits, labels).item()
    per_step = sum(F.cross_entropy(out.step_logits[:, t], labels).item() for t in range(6)) / 6
    assert got["mean_logits"] == pytest.approx(mean, rel=1e-5)
    assert got["per_step"] == pytest.approx(per_step, rel=1e-5)
    assert per_step != pytest.approx(mean, rel=1e-3)


# ================================================================================================
# item 7: Saccader-NASNet: slim BN momentum, 113-px glimpses (77 as a switch)
# ================================================================================================

def test_slim_classnet_bn_momentum():
    net = _model("saccader_classnet_nasnet")
    moms = {m.momentum for m in net.classnet.modules() if isinstance(m, nn.BatchNorm2d)}
    assert moms == {3e-4}  # slim nasnet_large_arg_scope: decay 0.9997
    assert {m.eps for m in net.classnet.modules() if isinstance(m, nn.BatchNorm2d)} == {1e-3}
    # the Saccader inside keeps the BagNet's (TF momentum 0.9)
    assert {m.momentum for m in net.saccader.modules() if isinstance(m, nn.BatchNorm2d)} == {0.1}
    res = _model("saccader_classnet_resnetv2_50")
    assert {m.momentum for m in res.classnet.modules() if isinstance(m, nn.BatchNorm2d)} == {3e-3}
    tiny = create_model("saccader_classnet_tiny")  # ours: timm's default
    assert {m.momentum for m in tiny.classnet.modules() if isinstance(m, nn.BatchNorm2d)} == {0.1}
    assert {m.momentum for m in create_model("saccader_classnet_tiny", bn_momentum=0.01).classnet.modules()
            if isinstance(m, nn.BatchNorm2d)} == {0.01}


def test_classnet_glimpse_113_by_default_and_77_as_a_switch():
    assert get_model_cfg("saccader_classnet_nasnet").glimpse_size == 113
    assert _model("saccader_classnet_nasnet").glimpse_size == 113
    # the released config's (77, 77): the rule int(331 / 224 * 77) = 113 runs only for a negative size
    tiny = create_model("saccader_classnet_tiny", glimpse_size=33).eval()
    assert tiny.glimpse_size == 33
    out = tiny(torch.randn(1, 3, 144, 144), num_glimpses=2, return_glimpses=True)
    assert out.glimpses.shape[-2:] == (33, 33)
    # coverage of one glimpse: 113 px of 331 is the Saccader's 77 of 224 (11.7 % vs 11.8 %)
    assert (113 / 331) ** 2 == pytest.approx((77 / 224) ** 2, rel=0.02)
    assert 6 * (77 / 331) ** 2 == pytest.approx(0.325, abs=1e-3)  # 6 disjoint 77-px glimpses at most
