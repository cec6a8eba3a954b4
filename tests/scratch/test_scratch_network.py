"""The network itself: weights, the cost J(Θ), backpropagation, prediction, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from happysad.errors import ConfigError, DataError
from happysad.scratch.network import (
    Backprop,
    MinMaxScaling,
    Network,
    add_bias_column,
    cost,
    cost_and_gradients,
    feedforward,
    gradient_check,
    init_weights,
    numerical_gradients,
    one_hot,
    predict,
    relative_difference,
    roll,
    sigmoid,
    unroll,
    weight_shapes,
)


def sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# -- weights -------------------------------------------------------------------------------


def test_weight_shapes_have_a_bias_column():
    assert weight_shapes([64, 25, 10]) == [(25, 65), (10, 26)]
    assert weight_shapes([3, 5, 4, 2]) == [(5, 4), (4, 6), (2, 5)]


def test_init_is_seeded_and_within_epsilon():
    a = init_weights([400, 25, 10], seed=3)
    b = init_weights([400, 25, 10], seed=3)
    c = init_weights([400, 25, 10], seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    for theta, (s_in, s_out) in zip(a, [(400, 25), (25, 10)]):
        epsilon = math.sqrt(6) / math.sqrt(s_in + s_out)
        assert np.abs(theta).max() <= epsilon
        assert np.abs(theta).max() > 0.9 * epsilon  # uses the whole range
    assert init_weights([2, 3, 1], dtype=np.float32)[0].dtype == np.float32


def test_unroll_and_roll_round_trip_and_roll_gives_views():
    thetas = init_weights([3, 4, 2], seed=0)
    flat = unroll(thetas)
    again = roll(flat, [3, 4, 2])
    assert all(np.array_equal(x, y) for x, y in zip(thetas, again))
    again[1][0, 0] = 123.0
    assert flat[weight_shapes([3, 4, 2])[0][0] * 4] == 123.0  # first entry of Θ^(2)


@pytest.mark.parametrize("sizes", [[3], [], [3, 0, 2], [2, 2.5, 1]])
def test_bad_layer_sizes_are_config_errors(sizes):
    with pytest.raises(ConfigError):
        init_weights(sizes)


# -- the cost, by hand ---------------------------------------------------------------------


def test_cost_of_a_tiny_network_computed_by_hand():
    # Network 2-2-1, two examples, λ = 1.
    theta1 = np.array([[0.1, 0.2, 0.3], [-0.1, 0.4, -0.2]])  # bias in column 0
    theta2 = np.array([[0.5, -0.6, 0.7]])
    X = np.array([[1.0, 2.0], [0.0, 0.0]])
    Y = np.array([[1.0], [0.0]])

    # Example 1, x = (1, 2), y = 1:
    #   z2 = (0.1 + 0.2*1 + 0.3*2, -0.1 + 0.4*1 - 0.2*2) = (0.9, -0.1)
    #   z3 = 0.5 - 0.6*σ(0.9) + 0.7*σ(-0.1);  cost = -log σ(z3)
    h1 = sig(0.5 - 0.6 * sig(0.9) + 0.7 * sig(-0.1))
    cost1 = -math.log(h1)
    # Example 2, x = (0, 0), y = 0:
    #   z2 = (0.1, -0.1);  z3 = 0.5 - 0.6*σ(0.1) + 0.7*σ(-0.1);  cost = -log(1 - σ(z3))
    h2 = sig(0.5 - 0.6 * sig(0.1) + 0.7 * sig(-0.1))
    cost2 = -math.log(1.0 - h2)
    # Penalty, bias column excluded: λ/(2m) Σ Θ² = 1/(2*2) * (0.2² + 0.3² + 0.4² + 0.2² + 0.6² + 0.7²)
    penalty = 1.0 / 4.0 * (0.04 + 0.09 + 0.16 + 0.04 + 0.36 + 0.49)
    expected = (cost1 + cost2) / 2 + penalty

    J, grads = cost_and_gradients([theta1, theta2], X, Y, lam=1.0)
    assert J == pytest.approx(expected, rel=1e-12)
    assert cost([theta1, theta2], X, Y, lam=1.0) == pytest.approx(expected, rel=1e-12)
    assert cost([theta1, theta2], X, Y, lam=0.0) == pytest.approx((cost1 + cost2) / 2, rel=1e-12)

    # Output layer gradient by hand: (1/m) Σ (h - y) [1, a2] + (λ/m) Θ (bias column not penalised)
    a2_1 = np.array([1.0, sig(0.9), sig(-0.1)])
    a2_2 = np.array([1.0, sig(0.1), sig(-0.1)])
    expected_grad2 = ((h1 - 1.0) * a2_1 + (h2 - 0.0) * a2_2) / 2
    expected_grad2[1:] += 1.0 / 2 * theta2[0, 1:]
    np.testing.assert_allclose(grads[1][0], expected_grad2, rtol=1e-12)


def test_multiclass_cost_sums_over_the_output_units():
    thetas = init_weights([3, 4, 3], seed=1)
    X = np.random.default_rng(0).random((5, 3))
    labels = np.array([0, 1, 2, 1, 0])
    Y = one_hot(labels, 3)
    h = feedforward(thetas, X)
    by_loops = 0.0
    for i in range(5):
        for k in range(3):
            by_loops += -(Y[i, k] * math.log(h[i, k]) + (1 - Y[i, k]) * math.log(1 - h[i, k]))
    by_loops /= 5
    assert cost(thetas, X, Y, lam=0.0) == pytest.approx(by_loops, rel=1e-12)


def test_bias_column_is_not_regularised():
    thetas = init_weights([3, 4, 1], seed=2)  # two classes: K = 1 output unit
    X = np.random.default_rng(1).random((6, 3))
    Y = one_hot(np.array([0, 1, 0, 1, 1, 0]), 2)
    _, plain = cost_and_gradients(thetas, X, Y, lam=0.0)
    _, penalised = cost_and_gradients(thetas, X, Y, lam=5.0)
    for g0, g5, theta in zip(plain, penalised, thetas):
        np.testing.assert_allclose(g5[:, 0], g0[:, 0], rtol=0, atol=1e-15)
        np.testing.assert_allclose(g5[:, 1:], g0[:, 1:] + 5.0 / 6 * theta[:, 1:], rtol=1e-12)


def test_saturated_units_give_a_finite_exact_cost():
    thetas = init_weights([2, 3, 2], seed=0)
    thetas[1][:] = np.array([[0.0, 800.0, 800.0, 800.0], [0.0, -800.0, -800.0, -800.0]])
    thetas[0][:] = 50.0  # hidden sigmoids saturate at 1
    X = np.array([[1.0, 1.0]])
    # No overflow, no log(0), no invalid value anywhere (underflow to 0 is harmless).
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        right = cost(thetas, X, np.array([[1.0, 0.0]]), lam=0.0)
        wrong, grads = cost_and_gradients(thetas, X, np.array([[0.0, 1.0]]), lam=0.0)
    assert right == pytest.approx(0.0, abs=1e-12)
    # h = σ(±2400) rounds to exactly 1/0, yet the cost is the exact softplus: 2400 per unit.
    assert wrong == pytest.approx(4800.0, rel=1e-12)
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_sigmoid_never_overflows_into_nan():
    with np.errstate(over="raise", invalid="raise"):
        values = sigmoid(np.array([-1e6, -745.0, -30.0, 0.0, 30.0, 1e6]))
    assert values[0] == 0.0 and values[-1] == 1.0 and values[3] == 0.5
    assert np.all(np.diff(values) >= 0)


def test_float32_matches_float64():
    thetas = init_weights([5, 6, 3], seed=0)
    X = np.random.default_rng(0).random((20, 5))
    Y = one_hot(np.random.default_rng(1).integers(0, 3, 20), 3)
    J64, g64 = cost_and_gradients(thetas, X, Y, lam=1.0)
    J32, g32 = cost_and_gradients(thetas, X, Y, lam=1.0, dtype=np.float32)
    assert g32[0].dtype == np.float32
    assert J32 == pytest.approx(J64, rel=1e-5)
    np.testing.assert_allclose(unroll(g32), unroll(g64), rtol=1e-3, atol=1e-5)


# -- backpropagation against numerical gradients ---------------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("lam", [0.0, 1.0])
@pytest.mark.parametrize("sizes", [[4, 5, 3], [3, 5, 1], [2, 1], [5, 4, 6, 3], [3, 6, 5, 4, 2]])
def test_gradient_check(sizes, activation, lam):
    check = gradient_check(sizes, activation, lam=lam, examples=7, seed=sum(sizes))
    assert check.relative_difference < 1e-7, check.relative_difference
    assert check.passed
    assert check.numerical.shape == check.backprop.shape


def test_numerical_gradients_have_the_weight_shapes():
    thetas = init_weights([3, 4, 2], seed=0)
    X = np.random.default_rng(0).random((4, 3))
    Y = np.eye(2)[[0, 1, 1, 0]]
    numeric = numerical_gradients(thetas, X, Y, lam=0.5)
    _, backprop = cost_and_gradients(thetas, X, Y, lam=0.5)
    assert [g.shape for g in numeric] == [t.shape for t in thetas]
    assert relative_difference(unroll(numeric), unroll(backprop)) < 1e-7


def test_relu_gradient_check_keeps_away_from_the_kink():
    check = gradient_check([6, 8, 3], "relu", lam=0.0, examples=10, seed=5)
    assert check.passed, check.relative_difference


def test_gradient_check_detects_a_wrong_gradient():
    check = gradient_check([4, 5, 3], "sigmoid", lam=1.0)
    wrong = check.backprop.copy()
    wrong[3] += 1e-3
    assert relative_difference(check.numerical, wrong) > 1e-7


def test_backprop_buffers_are_reused_for_smaller_batches():
    sizes = [4, 6, 3]
    theta = unroll(init_weights(sizes, seed=0))
    rng = np.random.default_rng(0)
    X = rng.random((10, 4))
    Y = np.eye(3)[rng.integers(0, 3, 10)]
    bp = Backprop(sizes, capacity=10)
    grad = np.empty_like(theta)
    for m in (10, 3, 7):
        J = bp.cost_and_gradient(theta, add_bias_column(X[:m]), Y[:m], 0.3, grad)
        expected_J, expected = cost_and_gradients(roll(theta, sizes), X[:m], Y[:m], 0.3)
        assert J == pytest.approx(expected_J, rel=1e-13)
        np.testing.assert_allclose(grad, unroll(expected), rtol=1e-12)


# -- prediction and files -------------------------------------------------------------------


def test_predict_uses_argmax_and_a_half_threshold_for_one_output():
    thetas = [np.array([[0.0, 1.0, -1.0]])]  # K = 1: h = σ(x1 - x2)
    X = np.array([[2.0, 1.0], [1.0, 2.0], [1.0, 1.0]])
    assert predict(thetas, X).tolist() == [1, 0, 1]  # h = 0.5 counts as class 1
    thetas = [np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.0, 0.0]])]  # z = (x1, x2, 0.5)
    X = np.array([[2.0, 1.0], [1.0, 2.0], [0.2, 0.1]])
    assert predict(thetas, X).tolist() == [0, 1, 2]


def test_min_max_scaling_handles_constant_features():
    scaling = MinMaxScaling.fit(np.array([[0.0, 3.0, 10.0], [4.0, 3.0, 20.0]]))
    with np.errstate(divide="raise", invalid="raise"):
        out = scaling.transform(np.array([[2.0, 3.0, 15.0], [4.0, 9.0, 10.0]]))
    np.testing.assert_allclose(out, [[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]])


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((15, 4)) * 100
    network = Network(init_weights([4, 6, 5, 3], seed=1), "relu", ["a", "b", "c"],
                      MinMaxScaling.fit(X))
    path = network.save(tmp_path / "net.npz")
    loaded = Network.load(path)
    assert loaded.layer_sizes == [4, 6, 5, 3]
    assert loaded.hidden_activation == "relu"
    assert loaded.class_names == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.predict_proba(X), network.predict_proba(X))
    assert loaded.predict(X).tolist() == network.predict(X).tolist()
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left nothing behind


def test_save_and_load_without_scaling_and_binary(tmp_path):
    network = Network(init_weights([3, 2, 1], seed=1), "sigmoid", ["sad", "happy"])
    loaded = Network.load(network.save(tmp_path / "n.npz"))
    assert loaded.scaling is None and loaded.class_names == ["sad", "happy"]
    X = np.random.default_rng(0).random((4, 3))
    assert set(loaded.predict(X)) <= {"sad", "happy"}


def test_load_rejects_bad_and_foreign_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        Network.load(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="not a saved scratch network"):
        Network.load(garbage)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(DataError, match="foreign"):
        Network.load(foreign)

    good = Network(init_weights([3, 4, 2], seed=0))
    path = good.save(tmp_path / "good.npz")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["theta_2"] = np.zeros((5, 5))
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, **arrays)
    with pytest.raises(DataError, match="do not match layer sizes"):
        Network.load(tampered)
    del arrays["theta_2"]
    np.savez(tampered, **arrays)
    with pytest.raises(DataError, match="missing array"):
        Network.load(tampered)


def test_network_rejects_inputs_of_the_wrong_width():
    network = Network(init_weights([3, 2, 1], seed=1))
    with pytest.raises(DataError, match="3 features"):
        network.predict(np.zeros((2, 4)))
