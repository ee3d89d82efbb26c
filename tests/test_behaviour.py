"""What a trained run does, for the stage chapters (saccader.evaluation.behaviour), on an untrained
tiny Saccader and a few generated images."""
from __future__ import annotations

import pytest
import torch

from saccader.data import build_dataset
from saccader.evaluation import behaviour
from saccader.models import create_model


@pytest.fixture(scope="module")
def images():
    return build_dataset("clutter", "test", num_images=10, use_cache=False)


def test_glimpse_accuracy_of_several_runs_is_each_run_s_own(images, monkeypatch):
    torch.manual_seed(0)
    nets = {"run a": create_model("saccader33_tiny").eval(), "run b": create_model("saccader33_tiny").eval()}
    monkeypatch.setattr(behaviour, "load_net", lambda run, device="cpu": nets[run])
    runs = {"A": ("run a", ("learned", "random")), "B": ("run b", ("learned",))}
    df = behaviour.runs_glimpse_accuracy(runs, images, max_glimpses=3, batch_size=5)
    assert list(df.columns) == ["policy", "glimpses", "accuracy", "images", "model"]
    assert df.groupby("model", sort=False).policy.unique().map(list).to_dict() == {"A": ["learned", "random"],
                                                                                  "B": ["learned"]}
    one = behaviour.glimpse_accuracy(nets["run b"], images, ("learned",), max_glimpses=3, batch_size=5)
    assert df[df.model == "B"].drop(columns="model").reset_index(drop=True).equals(one)
    assert (df.images == 10).all() and df.accuracy.between(0, 1).all()
