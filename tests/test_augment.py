"""Stateless augmentation: reproducible per (seed, epoch, step), and geometrically sound."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from happysad.augment import batch_seed, random_transform


def _batch(n=8, size=31, seed=0):
    return tf.constant(np.random.default_rng(seed).random((n, size, size, 3), dtype=np.float32))


def test_the_same_batch_seed_draws_the_same_transformations():
    images = _batch()
    a = random_transform(images, batch_seed(7, 2, 3)).numpy()
    b = random_transform(images, batch_seed(7, 2, 3)).numpy()
    np.testing.assert_array_equal(a, b)
    for other in (batch_seed(7, 2, 4), batch_seed(7, 3, 3), batch_seed(8, 2, 3)):
        assert not np.allclose(a, random_transform(images, other).numpy())


def test_without_rotation_or_zoom_each_image_is_kept_or_mirrored():
    images = _batch(n=32)
    out = random_transform(images, batch_seed(1, 0, 0), rotation=0.0, zoom=0.0).numpy()
    kept = [np.array_equal(o, i) for o, i in zip(out, images.numpy())]
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images.numpy())]
    assert all(k or m for k, m in zip(kept, mirrored))
    assert 4 < sum(mirrored) < 28  # about half


def test_rotation_and_zoom_turn_about_the_centre_and_only_mix_pixels():
    images = _batch(n=16)
    out = random_transform(images, batch_seed(3, 0, 0)).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    # The centre pixel of an odd-sized image maps onto itself (flips keep it too).
    np.testing.assert_allclose(out[:, 15, 15], images.numpy()[:, 15, 15], atol=1e-6)
    # Bilinear weights and reflected borders: every value is a mix of input values.
    assert out.min() >= images.numpy().min() - 1e-6 and out.max() <= images.numpy().max() + 1e-6
    assert not np.allclose(out, images.numpy())


def test_rotation_stays_within_its_limit():
    # A vertical bar turned by angle t stays within |t| of vertical: measure how far the
    # bright pixels spread sideways at the top row, against the largest angle allowed.
    bar = np.zeros((1, 41, 41, 1), np.float32)
    bar[0, :, 20] = 1.0
    spreads = []
    for step in range(20):
        out = random_transform(tf.constant(bar), batch_seed(0, 0, step), rotation=0.02,
                               zoom=0.0).numpy()[0, :, :, 0]
        cols = np.nonzero(out[5] > 0.25)[0]
        spreads.append(abs(cols.mean() - 20) if cols.size else 0.0)
    limit = 15 * np.tan(0.02 * 2 * np.pi)  # 15 rows above the centre, 7.2 degrees at most
    assert max(spreads) <= limit + 1.0 and max(spreads) > 0.3
