"""The DRAM study: DRAM's curves under random and centre locations through its trained classifier,
the study's table and the sentences generated from it."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from saccader.data import build_dataset
from saccader.evaluation import curves, dram_study
from saccader.models import create_model


@pytest.fixture(scope="module")
def images():
    return build_dataset("clutter", "test", num_images=10, use_cache=False)


def test_dram_curves_read_random_and_centre_locations_with_the_same_classifier(images):
    torch.manual_seed(2)
    dram = create_model("dram_tiny").eval()
    x, y = images.get_batch(range(10))
    centre = curves.dram_curves(dram, images, max_glimpses=2, batch_size=5, policy="center")
    assert centre.policy.unique().tolist() == ["center"]
    assert centre.coverage.tolist() == pytest.approx([(33 / 96) ** 2] * 2, rel=1e-6)  # every glimpse at the centre
    with torch.no_grad():
        out = dram(x, num_glimpses=2, policy="center")
    assert centre.top1.tolist() == pytest.approx([(out.step_logits[:, t].argmax(-1) == y).float().mean().item() * 100
                                                  for t in range(2)])
    rand = curves.dram_curves(dram, images, max_glimpses=3, batch_size=5, policy="random", seeds=(0, 1))
    assert sorted(rand.seed.unique().tolist()) == [0, 1]  # the random policy once per seed
    again = curves.dram_curves(dram, images, max_glimpses=3, batch_size=5, policy="random", seeds=(1,))
    pd.testing.assert_frame_equal(again.reset_index(drop=True), rand[rand.seed == 1].reset_index(drop=True))
    assert rand[rand.glimpses == 3].coverage.mean() > centre.coverage.iloc[-1]  # random glimpses spread out


def _study(rows):
    return pd.DataFrame([{"variant": v, "method": "dram", "policy": p, "glimpses": 6, "coverage": 0.3, "top1": t,
                          "top5": 50.0, "images": 500, "seed": 0} for v, p, t in rows])[dram_study.STUDY_COLUMNS]


def test_study_findings_follow_the_numbers():
    df = _study([("official", "learned", 14.0), ("official", "random", 11.0), ("official", "center", 12.0),
                 ("no_clutter", "learned", 80.0), ("no_clutter", "random", 55.0), ("no_clutter", "center", 40.0),
                 ("short_schedule", "learned", 16.0), ("short_schedule", "random", 25.0),
                 ("short_schedule", "center", 15.0)])
    table = dram_study.study_table(df, 6).set_index("variant")
    assert table.loc["no_clutter", "top-1 random"] == 55.0
    assert table.loc["official", "change"] == dram_study.DRAM_VARIANTS["official"][1]
    lines = dict(zip(table.index, dram_study.study_findings(df, 6, num_classes=10)))
    assert "stays at chance" in lines["official"] and "no better than random" in lines["official"]
    assert "+3.0 +- 4.1 points, 500 images" in lines["official"]  # 1.96 x sqrt(.14 x .86 / 500 + .11 x .89 / 500) = 4.1
    assert "reads the glimpses" in lines["no_clutter"] and "beat random ones" in lines["no_clutter"]
    assert "do worse than random" in lines["short_schedule"]


def test_one_change_variants_train_a_quarter_of_the_preset_epochs():
    from saccader.train.presets import resolve_config

    preset_epochs = resolve_config("dram", "tiny").epochs
    assert dram_study.variant_overrides("official", "tiny") == {}
    for variant in dram_study.SHORT_VARIANTS:
        cfg = resolve_config("dram", "tiny", overrides=dram_study.variant_overrides(variant, "tiny"))
        assert cfg.epochs == preset_epochs // 4, variant
    # every one-change variant is short_schedule with that one change
    short = dram_study.variant_overrides("short_schedule", "tiny")
    for variant in set(dram_study.SHORT_VARIANTS) - {"short_schedule"}:
        changed = {k: v for k, v in dram_study.variant_overrides(variant, "tiny").items() if short.get(k) != v}
        assert changed == dram_study.DRAM_VARIANTS[variant][0], variant


def test_unknown_variant_is_named():
    with pytest.raises(ValueError, match="unknown DRAM variant 'bigger'.*official"):
        dram_study.variant_overrides("bigger")
