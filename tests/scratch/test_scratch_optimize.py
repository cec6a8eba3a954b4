"""Training: gradient descent, SGD and L-BFGS reduce J and learn; splits and folds."""

from __future__ import annotations

import numpy as np
import pytest

from happysad.config import load_config
from happysad.errors import DataError, TrainingError
from happysad.scratch.config import ScratchConfig
from happysad.scratch.network import (
    cost_and_gradients,
    init_weights,
    one_hot,
    roll,
    unroll,
)
from happysad.scratch.optimize import Objective, gradient_descent, lbfgs, sgd
from happysad.scratch.run import fit, stratified_folds, stratified_split

from .conftest import blobs

SIZES = [2, 8, 4]


@pytest.fixture
def problem():
    X, y = blobs(n_per_class=30, n_classes=4, seed=0)
    return X, y, Objective(SIZES, X, y, n_classes=4, lam=0.1)


def test_objective_matches_the_plain_cost_function(problem):
    X, y, objective = problem
    theta = unroll(init_weights(SIZES, seed=0))
    grad = np.empty_like(theta)
    J = objective.value_and_grad(theta, grad)
    expected_J, expected = cost_and_gradients(roll(theta, SIZES), X, one_hot(y, 4), 0.1)
    assert J == pytest.approx(expected_J, rel=1e-13)
    np.testing.assert_allclose(grad, unroll(expected), rtol=1e-12)
    assert objective.value(theta) == pytest.approx(J, rel=1e-13)


def test_minibatch_gradients_average_to_the_full_gradient(problem):
    # The penalty uses the training set's m, so batch gradients are unbiased.
    _, _, objective = problem
    theta = unroll(init_weights(SIZES, seed=1))
    full = np.empty_like(theta)
    objective.value_and_grad(theta, full)
    batches = np.array_split(np.random.default_rng(0).permutation(objective.m), 4)
    total = np.zeros_like(theta)
    grad = np.empty_like(theta)
    for rows in batches:
        objective.batch_gradient(theta, rows, grad)
        total += grad * rows.size / objective.m
    np.testing.assert_allclose(total, full, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "lbfgs"])
def test_each_optimizer_reduces_the_cost(problem, optimizer):
    _, _, objective = problem
    theta0 = unroll(init_weights(SIZES, seed=0))
    start = objective.value(theta0)
    seen = []
    on_epoch = lambda epoch, theta, cost: seen.append((epoch, cost))
    if optimizer == "gd":
        result = gradient_descent(objective, theta0, learning_rate=1.0, epochs=100, on_epoch=on_epoch)
    elif optimizer == "sgd":
        result = sgd(objective, theta0, learning_rate=0.5, epochs=20, batch_size=16, seed=0, on_epoch=on_epoch)
    else:
        result = lbfgs(objective, theta0, max_iter=50, on_epoch=on_epoch)
    assert result.costs[-1] < 0.5 * start
    assert [e for e, _ in seen] == list(range(1, result.epochs + 1))
    assert [c for _, c in seen] == result.costs
    # The reported cost is J at the returned weights, on all examples.
    assert result.costs[-1] == pytest.approx(objective.value(result.theta), rel=1e-9)
    assert not np.array_equal(theta0, result.theta)


def test_gradient_descent_cost_goes_down_every_epoch_with_a_small_step(problem):
    _, _, objective = problem
    result = gradient_descent(objective, unroll(init_weights(SIZES, seed=0)), learning_rate=0.1, epochs=30)
    assert np.all(np.diff(result.costs) < 0)


def test_sgd_is_seeded(problem):
    _, _, objective = problem
    theta0 = unroll(init_weights(SIZES, seed=0))
    a = sgd(objective, theta0, learning_rate=0.5, epochs=3, batch_size=7, seed=4)
    b = sgd(objective, theta0, learning_rate=0.5, epochs=3, batch_size=7, seed=4)
    c = sgd(objective, theta0, learning_rate=0.5, epochs=3, batch_size=7, seed=5)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.theta, c.theta)


def test_a_diverging_learning_rate_is_a_training_error():
    # One step of 1e300 x the gradient: the penalty's ΣΘ² overflows to inf.
    X = np.array([[0.0], [1.0]])
    objective = Objective([1, 3, 1], X, np.array([0, 1]), n_classes=2, lam=1.0)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingError, match="lower the learning rate"):
        gradient_descent(objective, unroll(init_weights([1, 3, 1], seed=0)), learning_rate=1e300, epochs=5)


@pytest.mark.parametrize("optimizer,activation,dtype", [
    ("lbfgs", "sigmoid", "float64"),
    ("lbfgs", "relu", "float32"),
    ("sgd", "sigmoid", "float64"),
    ("sgd", "relu", "float32"),
    ("gd", "sigmoid", "float64"),
])
def test_learns_a_four_class_problem(optimizer, activation, dtype):
    X, y = blobs(n_per_class=40, n_classes=4, seed=3)
    train, val = stratified_split(y, 0.25, seed=0)
    config = load_config(ScratchConfig, overrides={
        "hidden": [10], "optimizer": optimizer, "activation": activation, "dtype": dtype,
        "epochs": {"lbfgs": 100, "sgd": 60, "gd": 1500}[optimizer], "learning_rate": 0.5,
    })
    result = fit(config, X[train], y[train], ["a", "b", "c", "d"], X[val], y[val])
    assert result.train_accuracy >= 0.95
    assert result.val_accuracy >= 0.95
    assert result.network.thetas[0].dtype == np.dtype(dtype)
    assert result.network.layer_sizes == [2, 10, 4]
    rows = result.history
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    assert set(rows[-1]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert rows[-1]["accuracy"] == pytest.approx(result.train_accuracy)
    assert rows[-1]["val_accuracy"] == pytest.approx(result.val_accuracy)
    predicted = result.network.predict(X[val])
    assert np.mean(predicted == np.array(["a", "b", "c", "d"])[y[val]]) == pytest.approx(result.val_accuracy)


def test_validation_loss_uses_the_training_penalty():
    X, y = blobs(n_per_class=20, n_classes=3, seed=0)
    config = load_config(ScratchConfig, overrides={"hidden": [4], "epochs": 5, "regularization": 10.0})
    # Validation = the training set itself: then val_loss must equal loss.
    result = fit(config, X, y, ["a", "b", "c"], X, y)
    for row in result.history:
        assert row["val_loss"] == pytest.approx(row["loss"], rel=1e-12)


# -- splits -------------------------------------------------------------------------------


def test_stratified_split_keeps_class_shares_and_is_seeded():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val = stratified_split(y, 0.2, seed=0)
    assert len(val) == 20 and len(train) == 80
    assert np.bincount(y[val]).tolist() == [10, 6, 4]
    assert not set(train) & set(val)
    again, _ = stratified_split(y, 0.2, seed=0)
    other, _ = stratified_split(y, 0.2, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    all_train, none = stratified_split(y, 0.0)
    assert len(all_train) == 100 and len(none) == 0


def test_stratified_folds_cover_every_example_once():
    y = np.array([0] * 23 + [1] * 12 + [2] * 7)
    folds = stratified_folds(y, 5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(42))
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for c, n in ((0, 23), (1, 12), (2, 7)):
        per_fold = [int(np.sum(y[f] == c)) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == n
    with pytest.raises(DataError, match="folds"):
        stratified_folds(y, 50)


def test_a_split_that_would_hold_a_class_out_whole_is_refused():
    from happysad.errors import DataError

    with pytest.raises(DataError, match="too few examples .* val_split=0"):
        stratified_split(np.array([0, 1]), 0.5, seed=0)
