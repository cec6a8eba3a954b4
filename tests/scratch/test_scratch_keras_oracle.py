"""An independent oracle: the same weights in Keras give the same J(Θ) and gradients.

Keras builds the network from Dense layers (kernel = Θ[:, 1:]ᵀ, bias = Θ[:, 0]); the
cost is binary cross-entropy summed over the K outputs, averaged over the examples,
plus λ/(2m) Σ kernel² (biases not penalised); tf.GradientTape gives the gradients.
TensorFlow is slow to import, so these tests are marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest

from happysad.scratch.network import cost_and_gradients, init_weights, one_hot

pytestmark = pytest.mark.slow


def keras_cost_and_gradients(thetas, X, Y, lam, hidden_activation):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")

    layers = []
    for i, theta in enumerate(thetas):
        last = i == len(thetas) - 1
        layer = keras.layers.Dense(
            theta.shape[0], activation=None if last else hidden_activation, dtype="float64"
        )
        layer.build((None, theta.shape[1] - 1))
        layer.set_weights([theta[:, 1:].T.copy(), theta[:, 0].copy()])
        layers.append(layer)
    m, K = Y.shape
    x = tf.constant(X, dtype=tf.float64)
    y = tf.constant(Y, dtype=tf.float64)
    variables = [v for layer in layers for v in (layer.kernel, layer.bias)]
    with tf.GradientTape() as tape:
        a = x
        for layer in layers:
            a = layer(a)
        # a holds the output logits; Keras's binary cross-entropy averages over the K
        # outputs, so K x it is the sum over outputs the lab's J uses.
        per_example = K * keras.losses.binary_crossentropy(y, a, from_logits=True)
        data_term = tf.reduce_mean(per_example)
        penalty = lam / (2 * m) * tf.add_n([tf.reduce_sum(layer.kernel**2) for layer in layers])
        J = data_term + penalty
    grads = tape.gradient(J, variables)
    as_thetas = []
    for kernel_grad, bias_grad in zip(grads[0::2], grads[1::2]):
        as_thetas.append(np.hstack([bias_grad.numpy()[:, None], kernel_grad.numpy().T]))
    return float(J.numpy()), as_thetas


@pytest.mark.parametrize("sizes,activation,lam", [
    ([4, 5, 3], "sigmoid", 0.0),
    ([4, 5, 3], "sigmoid", 1.0),
    ([6, 7, 5, 4], "relu", 0.7),
    ([3, 4, 1], "sigmoid", 2.0),
    ([8, 10, 6, 10], "relu", 0.0),
])
def test_cost_and_gradients_match_keras(sizes, activation, lam):
    rng = np.random.default_rng(sum(sizes))
    thetas = init_weights(sizes, seed=1)
    m = 11
    X = rng.uniform(-1, 1, size=(m, sizes[0]))
    K = sizes[-1]
    Y = rng.integers(0, 2, size=(m, 1)).astype(float) if K == 1 else one_hot(rng.integers(0, K, m), K)
    J, grads = cost_and_gradients(thetas, X, Y, lam, hidden_activation=activation)
    J_keras, grads_keras = keras_cost_and_gradients(thetas, X, Y, lam, activation)
    assert J == pytest.approx(J_keras, rel=1e-6, abs=1e-9)
    for ours, theirs in zip(grads, grads_keras):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)


def test_saturated_outputs_match_keras():
    thetas = init_weights([3, 4, 2], seed=0)
    thetas[1] *= 200.0  # outputs far in the flat tails of the sigmoid
    X = np.random.default_rng(0).uniform(-1, 1, size=(6, 3))
    Y = one_hot(np.array([0, 1, 1, 0, 0, 1]), 2 + 1)[:, :2]  # some rows all-zero targets
    J, grads = cost_and_gradients(thetas, X, Y, 0.5)
    J_keras, grads_keras = keras_cost_and_gradients(thetas, X, Y, 0.5, "sigmoid")
    assert np.isfinite(J) and J == pytest.approx(J_keras, rel=1e-6)
    for ours, theirs in zip(grads, grads_keras):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
