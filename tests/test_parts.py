"""The default kind of the generated data set, "parts": an object of several shared parts, larger than
a glimpse, amid clutter of the same parts."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from saccader.data.parts import SLOTS, class_names, class_parts, evidence
from saccader.data.synthetic import ClutterConfig, ClutterDataset, describe, generate

CFG = ClutterConfig()


@pytest.fixture(scope="module")
def val600():
    return generate(CFG, "val", 600)


def test_parts_is_the_default_kind_with_its_own_clutter():
    assert CFG.kind == "parts" and CFG.num_distractors == 2
    assert ClutterConfig(kind="object").num_distractors == 4
    assert CFG.replace(kind="object").num_distractors == 4  # a new kind brings its default
    assert CFG.replace(num_distractors=3).replace(kind="object").num_distractors == 3  # unless changed


def test_class_parts_share_parts_evenly_and_no_two_classes_share_three():
    table = class_parts(10, 8, 4)
    assert table.shape == (10, 4)
    member = np.zeros((10, 8), int)
    member[np.arange(10)[:, None], table] = 1
    assert (member.sum(1) == 4).all()  # four distinct parts per class
    assert (member.sum(0) == 5).all()  # every part type in 5 classes: one part leaves 5 candidates
    overlap = member @ member.T
    np.fill_diagonal(overlap, 0)
    assert overlap.max() == 2
    assert len({tuple(sorted(r)) for r in table.tolist()}) == 10
    assert np.array_equal(class_parts(10, 8, 4), table)  # deterministic
    assert len(set(class_names(10))) == 10
    with pytest.raises(ValueError, match="num_part_types"):
        class_parts(80, 8, 4)  # C(8, 4) = 70 sets


def test_generator_fingerprint(val600):
    """Cached files are keyed by GENERATOR_VERSION: if this fails after a change to the generator,
    bump GENERATOR_VERSION in saccader/data/synthetic.py and update the numbers here."""
    d = generate(CFG, "val", 8)
    blob = b"".join(d[k].tobytes() for k in ("labels", "object_boxes", "part_boxes", "distractor_ids"))
    assert hashlib.sha256(blob).hexdigest()[:16] == "9189bf3506facb9c"
    assert np.array_equal(d["images"], val600["images"][:8])


def test_parts_sit_at_the_corners_of_a_square_larger_than_a_glimpse(val600):
    pb, ob = val600["part_boxes"], val600["object_boxes"]
    s, g, h = CFG.part_size, CFG.glimpse_size, CFG.image_size
    assert pb.shape == (600, 4, 4) and ((pb[..., 2] - pb[..., 0]) == s).all()
    spacing = pb[:, 1, 0] - pb[:, 0, 0]
    assert spacing.min() >= CFG.part_spacing and spacing.max() <= CFG.part_spacing_max
    assert spacing.min() < CFG.part_spacing + 3 and spacing.max() > CFG.part_spacing_max - 3  # it varies
    slots = np.array(SLOTS)
    assert np.array_equal(pb[:, :, :2] - pb[:, :1, :2], slots[None] * spacing[:, None, None])
    assert np.array_equal(ob[:, :2], pb[:, 0, :2]) and np.array_equal(ob[:, 2:], pb[:, 3, 2:])
    assert (ob[:, :2] >= 0).all() and (ob[:, 2:] <= h).all()
    # the gap between two neighbouring parts is wider than a glimpse minus a part: one glimpse
    # cannot hold two whole parts, and the object is wider than a glimpse
    assert (spacing - s > g - 2 * s).all() and ((ob[:, 2] - ob[:, 0]) > g).all()


def test_clutter_parts_do_not_cover_the_object_parts(val600):
    pb, db = val600["part_boxes"][:, :, None], val600["distractor_boxes"][:, None]
    hit = ((db[..., 0] < pb[..., 2]) & (db[..., 2] > pb[..., 0]) & (db[..., 1] < pb[..., 3]) & (db[..., 3] > pb[..., 1]))
    assert not hit.any()
    assert val600["distractor_ids"].shape == (600, CFG.num_distractors, 2)
    assert set(np.unique(val600["distractor_ids"][..., 0])) == set(range(CFG.num_part_types))


def test_evidence_is_spread_over_the_parts(val600):
    """One part leaves about 5 candidate classes; three name the class; the clutter makes a bag of all
    the image's parts weaker than the object's parts, but far above one part."""
    table = evidence(CFG, val600).set_index(["sees", "parts"])["accuracy"]
    one, two, three = (table["parts of the object", k] for k in (1, 2, 3))
    assert 0.12 < one < 0.3 and 0.35 < two < 0.65 and three == 1.0
    bag = table["all parts of the image (bag of parts)"].iloc[0]
    assert 0.7 < bag < 0.95
    rand = table["random parts of the image"]
    assert rand.is_monotonic_increasing and rand.iloc[0] < one + 0.05


def test_dataset_and_describe(tmp_path):
    ds = ClutterDataset(CFG, "val", 50, cache_dir=tmp_path)
    assert ds.part_boxes.shape == (50, 4, 4)
    assert ds.class_names == class_names(10)
    info = describe(ds)["summary"]
    assert info["kind"] == "parts" and info["object_area_fraction"] > 0.3
    obj = ClutterDataset(ClutterConfig(kind="object"), "val", 20, cache_dir=tmp_path)
    assert obj.part_boxes.shape == (20, 1, 4) and obj.class_names[0] == "red disk"


@pytest.mark.parametrize("changes, words", [
    (dict(num_parts=5), "num_parts"),
    (dict(num_part_types=13), "num_part_types"),
    (dict(num_classes=71), "num_classes"),
    (dict(part_spacing=10), "part_spacing"),
    (dict(part_spacing_max=90), "part_spacing_max"),
    (dict(kind="blobs"), "kind"),
])
def test_invalid_parts_configs_are_rejected_with_a_clear_message(changes, words):
    with pytest.raises(ValueError, match=words):
        ClutterConfig(**changes)


def test_centred_places_the_object_at_the_centre_for_both_kinds():
    for cfg in (ClutterConfig.from_overrides({"centred": "true"}), ClutterConfig(kind="object", centred=True)):
        box = generate(cfg, "val", 20)["object_boxes"]
        centre = (box[:, :2] + box[:, 2:]) / 2
        assert np.abs(centre - cfg.image_size / 2).max() <= 1, cfg.kind
    with pytest.raises(ValueError, match="centred"):
        ClutterConfig.from_overrides({"centred": "maybe"})
