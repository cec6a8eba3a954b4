"""The stratified split and the per-epoch shuffled training stream."""

from __future__ import annotations

import numpy as np
import pytest

from happysad.dataset import stratified_split, training_batches
from happysad.errors import DataError
from happysad.images import load_images


def test_split_is_stratified_seeded_and_disjoint():
    y = np.array([0] * 40 + [1] * 40)
    train, val = stratified_split(y, 0.2, seed=5)
    assert len(val) == 16 and (y[val] == 0).sum() == 8
    assert not set(train) & set(val) and len(train) + len(val) == 80
    assert np.array_equal(val, stratified_split(y, 0.2, seed=5)[1])
    assert not np.array_equal(val, stratified_split(y, 0.2, seed=6)[1])


def test_split_keeps_every_class_on_both_sides():
    y = np.array([0] * 30 + [1] * 2)
    train, val = stratified_split(y, 0.1, seed=0)
    assert set(y[val]) == {0, 1} and set(y[train]) == {0, 1}


def test_split_refuses_a_class_with_one_image():
    with pytest.raises(DataError, match="class sad has only 1 image"):
        stratified_split(np.array([0, 0, 0, 1]), 0.25, 0, ["happy", "sad"])
    train, val = stratified_split(np.array([0, 1]), 0.0, 0)
    assert len(val) == 0 and len(train) == 2


def _epochs(batches, steps):
    labels = [b[1].numpy().tolist() for b in batches.dataset]
    return [sum(labels[i:i + steps], []) for i in range(0, len(labels), steps)]


def test_each_epoch_order_depends_only_on_seed_and_epoch(image_folder):
    images = load_images(image_folder, 24)
    images.y = np.arange(len(images))  # labels that identify each image
    full = training_batches(images, 5, seed=1, first_epoch=0, epochs=3)
    assert full.steps_per_epoch == 3  # 12 images, batch 5: 5 + 5 + 2
    epochs = _epochs(full, 3)
    assert all(sorted(e) == list(range(12)) for e in epochs)
    assert epochs[0] != epochs[1]
    later = _epochs(training_batches(images, 5, seed=1, first_epoch=2, epochs=3), 3)
    assert later == [epochs[2]]  # a resumed run sees what the uninterrupted one saw
    other = _epochs(training_batches(images, 5, seed=2, first_epoch=0, epochs=1), 3)
    assert other != [epochs[0]]


def test_steps_per_epoch_beyond_one_pass(image_folder):
    images = load_images(image_folder, 24)
    batches = training_batches(images, 4, seed=0, first_epoch=0, epochs=2, steps_per_epoch=5)
    sizes = [int(b[0].shape[0]) for b in batches.dataset]
    assert sizes == [4] * 10
    first = next(iter(batches.dataset))[0].numpy()
    assert first.dtype == np.float32 and 0.0 <= first.min() and first.max() <= 1.0


def test_augmented_batches_depend_only_on_seed_epoch_and_step(image_folder):
    images = load_images(image_folder, 24)

    def pixels(first_epoch, augment=True):
        batches = training_batches(images, 5, seed=1, first_epoch=first_epoch, epochs=3,
                                   augment=augment)
        return [(b[0].numpy(), b[1].numpy()) for b in batches.dataset]

    full, plain = pixels(0), pixels(0, augment=False)
    assert all(np.array_equal(a[1], p[1]) for a, p in zip(full, plain))  # same images, labels
    assert not all(np.array_equal(a[0], p[0]) for a, p in zip(full, plain))
    resumed = pixels(2)  # a run resumed before epoch 3 draws what the whole run drew
    assert len(resumed) == 3
    for (xa, ya), (xb, yb) in zip(full[6:], resumed):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
