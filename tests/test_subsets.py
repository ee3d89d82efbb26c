"""``max_train_images`` / ``max_eval_images`` on a folder data set keep every class in proportion."""
from __future__ import annotations

from collections import Counter

import pytest

from imagenet_tree import write_imagenet_tree
from saccader.data.subsets import stratified_indices
from saccader.models import get_model_cfg
from saccader.train.batches import build_split
from saccader.train.presets import resolve_config


def test_every_class_in_proportion_and_seeded():
    targets = [0] * 50 + [1] * 30 + [2] * 20  # class-sorted, as a folder data set lists them
    idx = stratified_indices(targets, 10, seed=0)
    assert len(idx) == 10 and idx == sorted(idx) and len(set(idx)) == 10
    assert Counter(targets[i] for i in idx) == {0: 5, 1: 3, 2: 2}
    assert stratified_indices(targets, 10, seed=0) == idx
    assert stratified_indices(targets, 10, seed=1) != idx
    assert stratified_indices(targets, 200) == list(range(100))


def test_left_over_places_go_to_the_largest_remainders():
    targets = [0] * 5 + [1] * 3 + [2] * 2
    counts = Counter(targets[i] for i in stratified_indices(targets, 4))
    assert counts == {0: 2, 1: 1, 2: 1}  # exact shares 2.0, 1.2, 0.8
    with pytest.raises(ValueError, match="at least one image"):
        stratified_indices(targets, 0)


def test_build_split_limit_keeps_every_class(tmp_path):
    """The old behaviour (the first N of the class-sorted list) kept 2 of the 3 classes here."""
    root = write_imagenet_tree(tmp_path / "tree", images_per_class=4, sizes=((40, 40),))
    cfg = resolve_config("representation", "imagenet", data_dir=str(root),
                         overrides={"max_train_images": 6, "max_eval_images": 3, "model": "bagnet33_tiny"})
    net_cfg = get_model_cfg("bagnet33_tiny")
    train = build_split(cfg, "train", net_cfg, train=True)
    val = build_split(cfg, "val", net_cfg, train=False)
    full = train.dataset.targets
    assert len(train) == 6 and sorted(Counter(full[i] for i in train.indices).values()) == [2, 2, 2]
    assert len(val) == 3 and len({val.dataset.targets[i] for i in val.indices}) == 3


def test_evaluation_batches_of_a_folder_set_keep_every_class():
    """``--max-images`` on a class-sorted folder data set evaluates every class, not the first ones."""
    import torch

    from saccader.evaluation.curves import batches

    class Sorted(torch.utils.data.Dataset):
        targets = [0] * 6 + [1] * 6 + [2] * 6

        def __len__(self):
            return len(self.targets)

        def __getitem__(self, i):
            return torch.full((1,), float(i)), self.targets[i]

    seen = torch.cat([y for _, y in batches(Sorted(), batch_size=4, max_images=6)])
    assert sorted(seen.tolist()) == [0, 0, 1, 1, 2, 2]
    inner = torch.utils.data.Subset(Sorted(), list(range(0, 18, 2)))  # as the engine's stratified subset
    seen = torch.cat([y for _, y in batches(inner, batch_size=4, max_images=3)])
    assert sorted(seen.tolist()) == [0, 1, 2]
    everything = torch.cat([x for x, _ in batches(Sorted(), batch_size=4)])
    assert everything.flatten().tolist() == list(range(18))  # all images, in order
