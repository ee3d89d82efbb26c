"""saccader.report.probes: the DRAM batch-normalization check on an untrained tiny DRAM and random images."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

from saccader.models import create_model
from saccader.report import probes

T = 2


@pytest.fixture(scope="module")
def dram_and_data():
    torch.manual_seed(0)
    net = create_model("dram_tiny").eval()
    g = torch.Generator().manual_seed(1)
    images = torch.randn(12, 3, 96, 96, generator=g)
    labels = torch.randint(0, 10, (12,), generator=g)
    # running statistics unlike any call's input, so that a mismatch shows
    norm = probes._first_norm(net)
    norm.running_mean.fill_(3.0)
    norm.running_var.fill_(9.0)
    return net, [(images[i], int(labels[i])) for i in range(12)], images, labels


def _state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_accuracies_are_those_of_the_running_and_of_the_batch_statistics(dram_and_data):
    net, data, images, labels = dram_and_data
    before = _state(net)
    accuracy, calls = probes.dram_batchnorm_check(net, data, num_glimpses=T, batch_size=6)

    with torch.no_grad():
        running = (net(images, num_glimpses=T).logits.argmax(-1) == labels).float().mean().item()
        own = copy.deepcopy(net)
        for m in own.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.train()
        order = torch.randperm(12, generator=torch.Generator().manual_seed(0))  # the check's seed 0
        hits = sum(int((own(images[idx], num_glimpses=T, sample=False).logits.argmax(-1) == labels[idx]).sum())
                   for idx in (order[:6], order[6:]))
    acc = accuracy.set_index("statistics")
    assert acc.loc["running", "top1"] == pytest.approx(100 * running)
    assert acc.loc["batch", "top1"] == pytest.approx(100 * hits / 12)
    assert list(accuracy.images) == [12, 12]
    assert list(calls.call) == ["context", "glimpse 1", "glimpse 2"]
    # the model is left as it was
    assert not net.training and not any(m.training for m in net.modules())
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_call_whose_statistics_are_the_running_ones_shows_no_mismatch(dram_and_data):
    net, data, images, _ = dram_and_data
    net = copy.deepcopy(net)
    norm = probes._first_norm(net)
    seen = []
    handle = norm.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].double()))
    with torch.no_grad():
        net(images, num_glimpses=T)
    handle.remove()
    context = seen[0]  # the first call of a forward pass is the context step
    norm.running_mean.copy_(context.mean(dim=(0, 2, 3)).float())
    norm.running_var.copy_(context.var(dim=(0, 2, 3), unbiased=False).float())

    _, calls = probes.dram_batchnorm_check(net, data, num_glimpses=T, batch_size=12)
    row = calls.set_index("call").loc["context"]
    assert row.mean_shift == pytest.approx(0.0, abs=1e-4)
    assert row.variance_ratio == pytest.approx(1.0, rel=1e-3)
    # the glimpse calls see other inputs (low resolutions replaced by their means)
    assert calls.mean_shift.iloc[1:].min() > 1e-3


def test_mismatched_running_statistics_are_measured(dram_and_data):
    net, data, _, _ = dram_and_data
    _, calls = probes.dram_batchnorm_check(net, data, num_glimpses=T, batch_size=12)
    assert (calls.mean_shift > 0.1).all()  # running mean 3, running std 3: far from every call's input


class _Listed(list):
    """A data set that records which images are read, in order."""

    def __init__(self, items):
        super().__init__(items)
        self.read = []

    def __getitem__(self, i):
        self.read.append(i)
        return super().__getitem__(i)


def test_batches_mix_a_split_listed_class_by_class(dram_and_data):
    net, data, _, _ = dram_and_data
    listed = _Listed(sorted(data, key=lambda item: item[1]))  # as a folder split is listed: class by class
    probes.dram_batchnorm_check(net, listed, num_glimpses=1, batch_size=4, max_images=10)
    assert sorted(listed.read) == list(range(10))  # the first 10, each once
    assert listed.read != sorted(listed.read)  # not in the listed order
    again = _Listed(listed)
    probes.dram_batchnorm_check(net, again, num_glimpses=1, batch_size=4, max_images=10)
    assert again.read == listed.read  # the order is fixed by the seed


def test_rejects_no_glimpses(dram_and_data):
    net, data, _, _ = dram_and_data
    with pytest.raises(ValueError, match="num_glimpses"):
        probes.dram_batchnorm_check(net, data, num_glimpses=0)
