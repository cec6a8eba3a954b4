"""The scratch network's jobs, as plain functions the CLI calls.

* ``train_run(config)``: load the data, hold out a stratified validation split, train,
  and write a run folder (config.yaml, history.csv/json, network.npz, metrics.json);
* ``cross_validate(config)``: stratified k-fold accuracy, mean ± std;
* ``gradcheck(...)``: backpropagation against central differences on a small network.

``fit`` is the part they share: scale, train with the chosen optimiser, record history.

Example:
    >>> from happysad.config import load_config
    >>> config = load_config(ScratchConfig, overrides={"data": "seeds.txt", "hidden": [5]})  # doctest: +SKIP
    >>> result = cross_validate(config)                                          # doctest: +SKIP
    >>> f"{result.mean:.3f} ± {result.std:.3f}"                                  # doctest: +SKIP
    '0.948 ± 0.028'
"""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, TrainingError
from .config import ScratchConfig
from .network import (
    GradientCheck,
    MinMaxScaling,
    Network,
    gradient_check,
    init_weights,
    roll,
    unroll,
)
from .optimize import Objective, OptimizeResult, gradient_descent, lbfgs, sgd
from .tables import Dataset, load_dataset

Progress = Callable[[dict[str, Any], int], None]  # (history row, total epochs)


# ---------------------------------------------------------------------------------------
# Splits: stratified and seeded, so every class keeps its share.
# ---------------------------------------------------------------------------------------


def stratified_split(y: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about ``fraction`` of the examples, the same share of every class.

    Returns:
        ``(train_indices, val_indices)``, each sorted; ``val_indices`` is empty for
        ``fraction == 0`` and otherwise holds at least one example.

    Example:
        >>> train, val = stratified_split(np.array([0] * 8 + [1] * 2), 0.5)
        >>> len(train), len(val), int(np.sum(np.array([0] * 8 + [1] * 2)[val]))
        (5, 5, 1)
    """
    y = np.asarray(y)
    m = y.shape[0]
    if fraction <= 0:
        return np.arange(m), np.arange(0)
    n_val = min(m - 1, max(1, round(m * fraction)))
    if n_val < 1:
        raise DataError(f"{m} example(s) are too few to hold out a validation split; set val_split=0")
    classes, counts = np.unique(y, return_counts=True)
    # Largest-remainder rounding: class quotas that add up to exactly n_val.
    quota = counts * n_val / m
    take = np.floor(quota).astype(np.int64)
    extra = np.argsort(-(quota - take), kind="stable")[: n_val - int(take.sum())]
    take[extra] += 1
    rng = np.random.default_rng([seed, 1])
    val = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:t] for c, t in zip(classes, take)]
    )
    val.sort()
    train = np.setdiff1d(np.arange(m), val)
    lost = np.setdiff1d(classes, y[train])
    if lost.size:  # a class held out whole would be one the network never sees
        raise DataError(
            f"class {lost[0]} has too few examples ({counts[classes == lost[0]][0]}) to keep "
            "one for training after the validation split; add examples or set val_split=0"
        )
    return train, val


def stratified_folds(y: np.ndarray, k: int, seed: int = 0) -> list[np.ndarray]:
    """Split the examples into ``k`` folds with (nearly) the same class shares.

    Each class is shuffled and dealt round-robin over the folds, continuing where the
    previous class stopped so the folds also have (nearly) equal sizes.

    Returns:
        ``k`` sorted arrays of test indices that together cover every example once.

    Example:
        >>> [len(f) for f in stratified_folds(np.array([0] * 6 + [1] * 4), 2)]
        [5, 5]
    """
    y = np.asarray(y)
    if k > y.shape[0]:
        raise DataError(f"{k} folds need at least {k} examples, the data has {y.shape[0]}; lower --folds")
    rng = np.random.default_rng([seed, 2])
    fold_of = np.empty(y.shape[0], dtype=np.int64)
    position = 0
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        fold_of[members] = (position + np.arange(members.size)) % k
        position += members.size
    return [np.flatnonzero(fold_of == f) for f in range(k)]


# ---------------------------------------------------------------------------------------
# Fitting one network.
# ---------------------------------------------------------------------------------------


@dataclass
class Fit:
    """One trained network and how it got there.

    Attributes:
        network: weights, activation, class names and input scaling.
        history: one row per epoch: epoch, loss, accuracy (+ val_loss, val_accuracy).
        optimization: the optimiser's result (final weights, costs, stop message).
        train_accuracy, val_accuracy: at the end (val None without a validation set).
        wall_time_s: seconds spent training.
    """

    network: Network
    history: list[dict[str, Any]]
    optimization: OptimizeResult
    train_accuracy: float
    val_accuracy: float | None
    train_loss: float
    val_loss: float | None
    wall_time_s: float


def fit(
    config: ScratchConfig,
    X_train: np.ndarray,
    y_train: np.ndarray,
    class_names: Sequence[str],
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    progress: Progress | None = None,
    history: list[dict[str, Any]] | None = None,
) -> Fit:
    """Train a network on raw features; the min-max scaling is fitted on ``X_train``.

    Args:
        config: model and optimiser settings (data settings are not used here).
        X_train, y_train: training features (raw) and class indices.
        class_names: names of the class indices (their count fixes the output layer).
        X_val, y_val: optional validation examples, evaluated after every epoch.
        progress: called with each history row and the epoch budget.
        history: a list to append the history rows to (default a new one); it keeps
            the epochs done when training fails.

    Returns:
        A ``Fit``.

    Raises:
        ConfigError: the network is too large for the data (see ``check_network_size``).
        TrainingError: the cost became NaN or infinite.
    """
    n_classes = len(class_names)
    sizes = config.check_network_size(X_train.shape[1], n_classes, X_train.shape[0])
    dtype = np.dtype(config.dtype)
    scaling = MinMaxScaling.fit(X_train)
    lam = config.regularization
    train = Objective(sizes, scaling.transform(X_train), y_train, n_classes, lam, config.activation, dtype)
    val = None
    if X_val is not None and len(X_val):
        # The training set's penalty λ/(2m): val_loss and loss differ only in the data term.
        val = Objective(
            sizes, scaling.transform(X_val), y_val, n_classes, lam, config.activation, dtype,
            penalty_examples=train.m,
        )
    epochs = config.resolved_epochs()
    if history is None:
        history = []

    def on_epoch(epoch: int, theta: np.ndarray, cost: float) -> None:
        row: dict[str, Any] = {"epoch": epoch, "loss": cost, "accuracy": train.accuracy(theta)}
        if val is not None:
            row["val_loss"], row["val_accuracy"] = val.evaluate(theta)
        history.append(row)
        if progress is not None:
            progress(row, epochs)

    theta0 = unroll(init_weights(sizes, seed=config.seed, dtype=dtype))
    started = time.perf_counter()
    if config.optimizer == "lbfgs":
        result = lbfgs(train, theta0, max_iter=epochs, on_epoch=on_epoch)
    elif config.optimizer == "gd":
        result = gradient_descent(
            train, theta0, learning_rate=config.learning_rate, epochs=epochs, on_epoch=on_epoch
        )
    else:
        result = sgd(
            train,
            theta0,
            learning_rate=config.learning_rate,
            epochs=epochs,
            batch_size=config.batch_size,
            seed=config.seed,
            on_epoch=on_epoch,
        )
    wall_time = time.perf_counter() - started
    train_loss, train_accuracy = train.evaluate(result.theta)
    val_loss, val_accuracy = val.evaluate(result.theta) if val is not None else (None, None)
    network = Network(
        [t.copy() for t in roll(result.theta, sizes)], config.activation, list(class_names), scaling
    )
    return Fit(network, history, result, train_accuracy, val_accuracy, train_loss, val_loss, wall_time)


# ---------------------------------------------------------------------------------------
# The jobs.
# ---------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What ``train_run`` did: the run folder and the fit."""

    run_dir: Path
    fit: Fit
    dataset: Dataset
    metrics: dict[str, Any] = field(default_factory=dict)


def _require_data(config: ScratchConfig) -> Dataset:
    if not config.data:
        raise ConfigError("no data given: pass --data PATH (a table, a .mat file, or an image folder/zip)")
    return load_dataset(config.data, config.image_size)


def train_run(config: ScratchConfig, progress: Progress | None = None) -> TrainResult:
    """Train on ``config.data`` and write a run folder under ``config.runs_dir``.

    The folder holds ``config.yaml`` (the resolved config, epochs filled in),
    ``history.csv``/``history.json`` (epoch, loss, accuracy, val_loss, val_accuracy; loss
    is J(Θ) on the training examples), ``network.npz`` and ``metrics.json``.

    Returns:
        A ``TrainResult``.
    """
    import scipy

    from .. import __version__
    from ..config import save_config
    from ..runs import RunFolder, create_run_dir

    # Every check on the data and the settings comes before the run folder exists.
    dataset = _require_data(config)
    train_idx, val_idx = stratified_split(dataset.y, config.val_split, config.seed)
    sizes = config.check_network_size(dataset.X.shape[1], dataset.n_classes, int(train_idx.size))
    resolved = dataclasses.replace(config, epochs=config.resolved_epochs())
    run = RunFolder(create_run_dir(Path(config.runs_dir), config.name))
    save_config(resolved, run.config_path)

    history: list[dict[str, Any]] = []
    try:
        result = fit(
            resolved,
            dataset.X[train_idx],
            dataset.y[train_idx],
            dataset.class_names,
            dataset.X[val_idx] if val_idx.size else None,
            dataset.y[val_idx] if val_idx.size else None,
            progress,
            history,
        )
    except TrainingError as exc:
        # Like a failed Keras run: the folder records what happened and how far it got.
        if history:
            run.write_history(history)
        run.write_metrics({
            "kind": "scratch",
            "status": "failed",
            "stop_reason": str(exc),
            "data": str(config.data),
            "data_kind": dataset.kind,
            "examples": {"train": int(train_idx.size), "val": int(val_idx.size)},
            "layer_sizes": sizes,
            "hidden_activation": config.activation,
            "class_names": list(dataset.class_names),
            "optimizer": config.optimizer,
            "regularization": config.regularization,
            "learning_rate": config.learning_rate,
            "dtype": config.dtype,
            "epochs": len(history),
            "epochs_run": len(history),
            "max_epochs": resolved.epochs,
            "seed": config.seed,
        })
        raise TrainingError(f"{exc}. The run folder {run.path} records the failed run") from None
    run.write_history(result.history)
    result.network.save(run.network_path)
    final = {"loss": result.train_loss, "accuracy": result.train_accuracy}
    if result.val_accuracy is not None:
        final.update(val_loss=result.val_loss, val_accuracy=result.val_accuracy)
    metrics = {
        "kind": "scratch",
        "status": "finished",
        "data": str(config.data),
        "data_kind": dataset.kind,
        "examples": {"train": int(train_idx.size), "val": int(val_idx.size)},
        "layer_sizes": result.network.layer_sizes,
        "hidden_activation": config.activation,
        "class_names": list(dataset.class_names),
        "optimizer": config.optimizer,
        "regularization": config.regularization,
        "dtype": config.dtype,
        "epochs": result.optimization.epochs,
        "epochs_run": result.optimization.epochs,  # the key the Keras runs use ('happysad runs')
        "max_epochs": resolved.epochs,
        "stop_reason": result.optimization.message,
        "cost_evaluations": result.optimization.evaluations,
        "train_accuracy": result.train_accuracy,
        "val_accuracy": result.val_accuracy,
        "final": final,
        "wall_time_s": round(result.wall_time_s, 4),
        "seed": config.seed,
        "versions": {
            "happysad": __version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "python": platform.python_version(),
        },
    }
    run.write_metrics(metrics)
    return TrainResult(run.path, result, dataset, metrics)


@dataclass
class CrossValidation:
    """Stratified k-fold results: one test accuracy per fold, their mean and std."""

    fold_accuracies: list[float]
    fold_sizes: list[int]
    layer_sizes: list[int]
    wall_time_s: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_accuracies))  # population std, as scikit-learn reports


def cross_validate(
    config: ScratchConfig, on_fold: Callable[[int, float, int], None] | None = None
) -> CrossValidation:
    """Stratified, seeded k-fold cross-validation of the configured network.

    Each fold trains on the other k-1 folds (scaling fitted on them alone) and is
    scored on its own examples; ``val_split`` is not used.

    Args:
        config: the settings; ``folds`` is k.
        on_fold: called as ``on_fold(fold_number, accuracy, fold_size)`` after each fold.

    Returns:
        A ``CrossValidation``.
    """
    dataset = _require_data(config)
    folds = stratified_folds(dataset.y, config.folds, config.seed)
    config.check_network_size(dataset.X.shape[1], dataset.n_classes, dataset.y.size)
    started = time.perf_counter()
    accuracies = []
    for number, test_idx in enumerate(folds, start=1):
        train_idx = np.setdiff1d(np.arange(dataset.y.size), test_idx)
        result = fit(config, dataset.X[train_idx], dataset.y[train_idx], dataset.class_names)
        predicted = result.network.predict_indices(dataset.X[test_idx])
        accuracy = float(np.mean(predicted == dataset.y[test_idx]))
        accuracies.append(accuracy)
        if on_fold is not None:
            on_fold(number, accuracy, int(test_idx.size))
    sizes = config.layer_sizes(dataset.X.shape[1], dataset.n_classes)
    return CrossValidation(accuracies, [int(f.size) for f in folds], sizes, time.perf_counter() - started)


def gradcheck(
    layer_sizes: Sequence[int] = (4, 5, 3),
    activation: str = "sigmoid",
    lam: float = 1.0,
    seed: int = 0,
) -> GradientCheck:
    """Backpropagation against central differences on a small random network.

    Raises:
        ConfigError: bad layer sizes, activation, or a λ that is not finite and >= 0.
    """
    return gradient_check(layer_sizes, activation, lam, seed=seed)
