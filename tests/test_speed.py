"""The speed-ups must not change what is learned."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from happysad.speed import fuse_rmsprop, keep_freed_memory


def _train(fused: bool, steps: int = 6):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((300,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.RMSprop(0.001), "binary_crossentropy")
    if fused:
        assert fuse_rmsprop(model.optimizer, min_elements=1000)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 300)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model.fit(x, y, batch_size=40 // steps, epochs=1, shuffle=False, verbose=0)
    return [w.numpy() for w in model.weights]


def test_fused_rmsprop_learns_the_same_weights():
    stock, fused = _train(False), _train(True)
    for a, b in zip(stock, fused):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    assert not np.allclose(stock[0], _initial_kernel())  # training did move the weights


def _initial_kernel():
    keras.utils.set_random_seed(0)
    layer = keras.layers.Dense(256)
    layer.build((None, 300))
    return layer.kernel.numpy()


@pytest.mark.parametrize("optimizer", [keras.optimizers.Adam(), keras.optimizers.RMSprop(momentum=0.9),
                                       keras.optimizers.RMSprop(centered=True)])
def test_other_optimizers_are_left_alone(optimizer):
    assert fuse_rmsprop(optimizer) is False


def test_keep_freed_memory_is_harmless():
    assert keep_freed_memory() in (True, False)
    assert np.ones(10_000_000).sum() == 10_000_000  # large allocations still work
