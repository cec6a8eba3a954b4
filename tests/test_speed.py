"""The speed-ups must not change what is learned."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from happysad.speed import fast_dense_input_gradient, fuse_rmsprop, keep_freed_memory


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


def _dense_model(seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6, 50)), keras.layers.Flatten(),
                              keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.RMSprop(0.001), "sparse_categorical_crossentropy")
    return model


def _gradients(model, x, y):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
    return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


def test_fast_dense_input_gradient_gives_the_same_gradients():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 6, 50)).astype("float32")
    y = rng.integers(0, 3, size=10)
    stock, fast = _dense_model(), _dense_model()
    assert fast_dense_input_gradient(fast, min_elements=1000) == 1  # the hidden layer only
    np.testing.assert_allclose(fast(x), stock(x), rtol=1e-6)
    for a, b in zip(_gradients(stock, x, y), _gradients(fast, x, y)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    # The gradient with respect to the input is the changed product: check it directly.
    import tensorflow as tf

    hidden = [layer for layer in fast.layers if isinstance(layer, keras.layers.Dense)][0]
    flat = tf.constant(x.reshape(10, -1))
    grads = []
    for layer in (hidden, [lay for lay in stock.layers if isinstance(lay, keras.layers.Dense)][0]):
        with tf.GradientTape() as tape:
            tape.watch(flat)
            out = tf.reduce_sum(layer(flat) * np.arange(256, dtype="float32"))
        grads.append(tape.gradient(out, flat).numpy())
    # Sums of 256 terms of either sign: compare to rounding of the largest element.
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6 * np.abs(grads[1]).max())
    assert np.abs(grads[0]).max() > 0


def test_fast_dense_input_gradient_saves_a_plain_model(tmp_path):
    model = _dense_model()
    fast_dense_input_gradient(model, min_elements=1000)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in _dense_model().layers]
    assert "call" not in vars(loaded.layers[1])
    x = np.ones((2, 6, 50), "float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_fast_dense_input_gradient_leaves_small_and_nd_layers_stock():
    model = _dense_model()
    assert fast_dense_input_gradient(model, min_elements=300 * 256 + 1) == 0
    keras.utils.set_random_seed(0)
    nd = keras.Sequential([keras.Input((4, 300)), keras.layers.Dense(256)])
    assert fast_dense_input_gradient(nd, min_elements=1000) == 1
    x = np.ones((2, 4, 300), "float32")
    assert nd(x).shape == (2, 4, 256)  # N-D input takes the stock path
    np.testing.assert_allclose(nd(x), x @ nd.layers[0].kernel.numpy() + nd.layers[0].bias.numpy(),
                               rtol=1e-5)
