"""From images in memory to the tf.data pipelines that ``model.fit`` reads.

The training stream is built so that epoch ``e`` always sees the same order for a given
seed, whichever epoch training starts from: each epoch's order is a stateless shuffle
keyed by ``(seed, e)``. That is what lets an interrupted run resume with the history an
uninterrupted run would have had.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .augment import batch_seed, random_transform
from .errors import DataError
from .images import ImageSet

# Pixels arrive as uint8 and the network sees [0, 1], as with the lab's rescale=1/255.
PIXEL_SCALE = 1.0 / 255.0


def stratified_split(
    y: np.ndarray, val_fraction: float, seed: int, class_names: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so that each class keeps about ``val_fraction`` for validation.

    Every class keeps at least one example on each side; a class too small for that is an
    error rather than a validation set that silently lacks it.

    Returns:
        (train indices, validation indices), each sorted.
    """
    if val_fraction <= 0:
        return np.arange(len(y)), np.arange(0)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if len(members) < 2:
            name = class_names[label] if class_names else str(label)
            raise DataError(
                f"class {name} has only {len(members)} image; a validation split needs at "
                "least 2 per class: add images, set val_split: 0, or pass --val-data"
            )
        members = rng.permutation(members)
        n_val = min(max(1, round(val_fraction * len(members))), len(members) - 1)
        val.extend(members[:n_val])
        train.extend(members[n_val:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))


@dataclass
class Batches:
    """A training stream: the dataset plus how many batches make one epoch."""

    dataset: object  # tf.data.Dataset of (images, labels)
    steps_per_epoch: int


def scale_pixels(x: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1] (the network's input)."""
    return x.astype(np.float32) * np.float32(PIXEL_SCALE)


def training_batches(
    images: ImageSet,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    steps_per_epoch: int | None = None,
    augment: bool = False,
) -> Batches:
    """Shuffled batches for epochs ``first_epoch`` .. ``epochs - 1``, in one stream.

    Args:
        images: the training images.
        batch_size: images per batch (the last batch of an epoch may be smaller).
        seed: the run's seed; with the epoch number it fixes that epoch's order.
        first_epoch: the epoch to start from (0, or where a resumed run left off).
        epochs: the epoch to stop before.
        steps_per_epoch: batches per epoch; default one pass over the images. More
            than one pass draws further shuffled passes within the epoch.
        augment: randomly flip, rotate and zoom each batch (``augment.random_transform``),
            with a seed drawn from (seed, epoch, step): a resumed run draws the same.

    Returns:
        Batches with a dataset holding exactly the batches of those epochs.
    """
    import tensorflow as tf

    n = len(images)
    one_pass = math.ceil(n / batch_size)
    steps = steps_per_epoch or one_pass
    passes = 1 if steps_per_epoch is None else math.ceil(steps * batch_size / n)
    x = tf.constant(scale_pixels(images.x))
    y = tf.constant(images.y.astype(np.float32))

    def epoch_order(epoch):
        # One epoch: `passes` independent shuffles, each keyed by (seed, epoch, pass).
        orders = [
            tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64),
                seed=tf.stack([tf.constant(seed, tf.int64), epoch * 1000 + p]),
            )
            for p in range(passes)
        ]
        order = tf.concat(orders, axis=0)
        # One pass, the last batch smaller, as the lab's generator did; or `steps` batches.
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        if steps_per_epoch is not None:
            batches = batches.take(steps)
        return batches.enumerate().map(lambda step, idx: (epoch, step, idx))

    def gather(epoch, step, idx):
        xb = tf.gather(x, idx)
        if augment:
            xb = random_transform(xb, batch_seed(seed, epoch, step))
        return xb, tf.gather(y, idx)

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_order)
    # Two batches ahead is all a step needs. No autotuning: its thread made a stream cut
    # short by Ctrl-C take ~10 s to close (4 of 10 interrupted runs waited that long to exit).
    options = tf.data.Options()
    options.autotune.enabled = False
    ds = ds.map(gather).prefetch(2).with_options(options)
    return Batches(ds, steps)


def evaluation_batches(images: ImageSet, batch_size: int):
    """Batches in file order, for validation and evaluation (no shuffling)."""
    import tensorflow as tf

    x = scale_pixels(images.x)
    y = images.y.astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache().prefetch(
        tf.data.AUTOTUNE
    )
