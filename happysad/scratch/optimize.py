"""Training the scratch network: full-batch gradient descent, mini-batch SGD and L-BFGS.

All three minimise the same J(Θ) (see ``network``) over one unrolled weight vector θ:

* ``gradient_descent``: θ ← θ - α ∇J(θ) on all examples, once per epoch;
* ``sgd``: shuffle every epoch, then θ ← θ - α ∇J_B(θ) for each mini-batch B;
* ``lbfgs``: ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)``, one epoch per
  iteration; no learning rate to tune, usually the fastest to a low cost.

Each calls ``on_epoch(epoch, theta, cost)`` after every epoch (iteration) with the cost
J(θ) on all training examples, which is what the history records. A cost that becomes
NaN or infinite (a diverging learning rate, a huge λ) stops training with a
``TrainingError`` naming the epoch; the arithmetic runs under ``np.errstate`` so that
NumPy's overflow warnings do not reach the user first.

Example:
    >>> import numpy as np
    >>> from happysad.scratch.network import init_weights, unroll
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((40, 2)); labels = (X[:, 0] > X[:, 1]).astype(int)
    >>> objective = Objective([2, 4, 1], X, labels, n_classes=2, lam=0.0)
    >>> result = lbfgs(objective, unroll(init_weights([2, 4, 1])), max_iter=50)
    >>> result.costs[-1] < result.costs[0]
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import TrainingError
from .network import (
    Backprop,
    add_bias_column,
    check_regularization,
    count_weights,
    labels_of_outputs,
    one_hot,
)

EpochCallback = Callable[[int, np.ndarray, float], None]


class Objective:
    """J(Θ) and ∂J/∂Θ on one data set, in the form the optimisers want.

    Holds the inputs with their bias column, the one-hot targets, λ and the reusable
    buffers of a ``Backprop``; all methods take the unrolled weights ``theta``.

    Args:
        layer_sizes: ``[s_1, ..., s_L]``.
        X: inputs (m x s_1), already scaled.
        labels: class indices 0..n_classes-1 (m,).
        n_classes: the number of classes (K = 1 output for 2, else K = n_classes).
        lam: λ.
        hidden_activation: "sigmoid" or "relu".
        dtype: float64 (default) or float32 for the arithmetic. Optimisers may pass
            float64 vectors either way; they are converted into a buffer.
        penalty_examples: the m of the penalty λ/(2m) ΣΘ²; default this set's m. A
            validation set passes the training set's m, so that its J differs from the
            training J only in the data term (as Keras's val_loss does).
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        X: np.ndarray,
        labels: np.ndarray,
        n_classes: int,
        lam: float,
        hidden_activation: str = "sigmoid",
        dtype: np.dtype | type = np.float64,
        penalty_examples: int | None = None,
    ):
        self.layer_sizes = list(layer_sizes)
        self.dtype = np.dtype(dtype)
        self.lam = check_regularization(lam, "lam")
        self.hidden_activation = hidden_activation
        self.X1 = add_bias_column(X, self.dtype)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.Y = one_hot(self.labels, n_classes, self.dtype)
        self.m = self.X1.shape[0]
        self.penalty_examples = int(penalty_examples or self.m)
        if self.Y.shape[1] != self.layer_sizes[-1]:
            raise ValueError(f"{n_classes} classes need {self.Y.shape[1]} outputs, not {self.layer_sizes[-1]}")
        self.full = Backprop(self.layer_sizes, self.m, hidden_activation, self.dtype)
        self._batch: Backprop | None = None
        n = count_weights(self.layer_sizes)
        self._cast = np.empty(n, self.dtype)  # float64 optimiser vectors -> self.dtype
        self._grad = np.empty(n, self.dtype)
        # The full-batch output buffer still holds the last forward pass; remember for
        # which weights, so that the accuracy at that point costs no second pass.
        self._output_theta = np.empty(n, self.dtype)
        self._output_cost: float | None = None
        self.evaluations = 0

    def _own(self, theta: np.ndarray) -> np.ndarray:
        if theta.dtype == self.dtype:
            return theta
        np.copyto(self._cast, theta, casting="unsafe")
        return self._cast

    def _remember(self, theta: np.ndarray, cost: float) -> None:
        np.copyto(self._output_theta, theta)
        self._output_cost = cost

    def value_and_grad(self, theta: np.ndarray, grad: np.ndarray) -> float:
        """J(θ) on all examples; ∂J/∂θ written into ``grad`` (any float dtype)."""
        theta = self._own(theta)
        own_grad = grad if grad.dtype == self.dtype else self._grad
        cost = self.full.cost_and_gradient(
            theta, self.X1, self.Y, self.lam, own_grad, self.penalty_examples
        )
        if own_grad is not grad:
            np.copyto(grad, own_grad)
        self._remember(theta, cost)
        self.evaluations += 1
        return cost

    def value(self, theta: np.ndarray) -> float:
        """J(θ) on all examples (a forward pass only)."""
        theta = self._own(theta)
        z_out = self.full.forward(theta, self.X1)
        cost = self.full.cost_of_output(z_out, self.Y, theta, self.lam, self.penalty_examples)
        self._remember(theta, cost)
        return cost

    def evaluate(self, theta: np.ndarray) -> tuple[float, float]:
        """``(J(θ), accuracy)`` on all examples; reuses the last pass if θ is unchanged."""
        theta = self._own(theta)
        if self._output_cost is None or not np.array_equal(theta, self._output_theta):
            self.value(theta)
        z_out = self.full.z[-1][: self.m]
        predicted = labels_of_outputs(z_out, threshold=0.0)  # σ(z) >= 0.5  <=>  z >= 0
        return self._output_cost, float(np.mean(predicted == self.labels))

    def accuracy(self, theta: np.ndarray) -> float:
        return self.evaluate(theta)[1]

    def batch_gradient(self, theta: np.ndarray, rows: np.ndarray, grad: np.ndarray) -> None:
        """∂J_B/∂θ on the examples ``rows`` into ``grad`` (same dtype as the objective).

        The data term is averaged over the batch; the penalty keeps the full training
        set's λ/m, so the batch gradient is an unbiased estimate of ∇J.
        """
        if self._batch is None or self._batch.capacity < rows.shape[0]:
            self._batch = Backprop(self.layer_sizes, rows.shape[0], self.hidden_activation, self.dtype)
        bp = self._batch
        X1, Y = bp.gather(self.X1, self.Y, rows)
        bp.forward(theta, X1)
        bp.backward(theta, Y, self.lam, grad, m_total=self.penalty_examples)


@dataclass
class OptimizeResult:
    """What an optimiser returns.

    Attributes:
        theta: the final unrolled weights.
        costs: J(θ) on all training examples after each epoch (iteration).
        epochs: epochs (iterations) run.
        message: why it stopped.
        evaluations: full-batch J/∇J evaluations (L-BFGS's line search may make several
            per iteration).
    """

    theta: np.ndarray
    costs: list[float] = field(default_factory=list)
    epochs: int = 0
    message: str = ""
    evaluations: int = 0


# Overflow (huge weights), inf - inf, 0 * inf: they end in a non-finite cost, which the
# optimisers turn into one clear TrainingError instead of NumPy's RuntimeWarnings.
_QUIET = {"over": "ignore", "invalid": "ignore", "divide": "ignore", "under": "ignore"}


def _check_finite(cost: float, epoch: int, hint: str) -> None:
    """Raise a TrainingError naming the epoch (0: the initial weights) unless J is finite."""
    if not math.isfinite(cost):
        where = "for the initial weights (epoch 0)" if epoch == 0 else f"at epoch {epoch}"
        raise TrainingError(f"the cost became {cost} {where}; {hint}")


def _step_hint(objective: Objective, learning_rate: float) -> str:
    return (
        f"training diverged: lower the learning rate (now {learning_rate:g}) "
        f"or lambda (now {objective.lam:g}) and train again"
    )


def _lbfgs_hint(objective: Objective) -> str:
    return (
        f"training diverged: lower lambda (now {objective.lam:g}), or try --optimizer gd "
        "with a small learning rate"
    )


def gradient_descent(
    objective: Objective,
    theta: np.ndarray,
    *,
    learning_rate: float,
    epochs: int,
    on_epoch: EpochCallback | None = None,
) -> OptimizeResult:
    """Full-batch gradient descent: θ ← θ - α ∇J(θ), ``epochs`` times.

    Args:
        objective: J and ∇J on the training set.
        theta: initial unrolled weights (not modified).
        learning_rate: α.
        epochs: number of steps (each uses every example).
        on_epoch: called as ``on_epoch(epoch, theta, cost)`` after every step.

    Returns:
        An ``OptimizeResult``.
    """
    theta = np.array(theta, dtype=objective.dtype)
    grad = np.empty_like(theta)
    result = OptimizeResult(theta)
    hint = _step_hint(objective, learning_rate)
    with np.errstate(**_QUIET):
        # ∇J(θ_0) for the first step.
        _check_finite(objective.value_and_grad(theta, grad), 0, hint)
        for epoch in range(1, epochs + 1):
            theta -= learning_rate * grad
            # J(θ_epoch) for the history and, in the same pass, the slope for the next step.
            cost = objective.value_and_grad(theta, grad)
            _check_finite(cost, epoch, hint)
            result.costs.append(cost)
            if on_epoch is not None:
                on_epoch(epoch, theta, cost)
    result.epochs, result.message = epochs, f"ran {epochs} epochs"
    result.evaluations = objective.evaluations
    return result


def sgd(
    objective: Objective,
    theta: np.ndarray,
    *,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    on_epoch: EpochCallback | None = None,
) -> OptimizeResult:
    """Mini-batch stochastic gradient descent, reshuffled every epoch (seeded).

    Args:
        objective: J and ∇J on the training set.
        theta: initial unrolled weights (not modified).
        learning_rate: α, constant.
        epochs: passes over the training examples.
        batch_size: examples per step (the last batch of an epoch may be smaller).
        seed: seeds the shuffling.
        on_epoch: called as ``on_epoch(epoch, theta, cost)`` with J on all examples.

    Returns:
        An ``OptimizeResult``.
    """
    from scipy.linalg import blas

    theta = np.array(theta, dtype=objective.dtype)
    grad = np.empty_like(theta)
    axpy = blas.get_blas_funcs("axpy", (theta,))  # θ += a·g in place, one BLAS call
    rng = np.random.default_rng(seed)
    m = objective.m
    batch_size = max(1, min(int(batch_size), m))
    starts = range(0, m, batch_size)
    result = OptimizeResult(theta)
    hint = _step_hint(objective, learning_rate)
    with np.errstate(**_QUIET):
        for epoch in range(1, epochs + 1):
            order = rng.permutation(m)
            for start in starts:
                objective.batch_gradient(theta, order[start : start + batch_size], grad)
                axpy(grad, theta, a=-learning_rate)
            cost = objective.value(theta)
            _check_finite(cost, epoch, hint)
            result.costs.append(cost)
            if on_epoch is not None:
                on_epoch(epoch, theta, cost)
    result.epochs, result.message = epochs, f"ran {epochs} epochs"
    result.evaluations = objective.evaluations
    return result


# Reasons for SciPy's L-BFGS-B status codes, for messages that carry none.
_LBFGS_STATUS = {
    0: "the gradient is below the tolerance",
    1: "the iteration or evaluation limit was reached",
    2: "the line search found no step that lowers the cost",
}


def lbfgs(
    objective: Objective,
    theta: np.ndarray,
    *,
    max_iter: int,
    on_epoch: EpochCallback | None = None,
    gtol: float = 1e-5,
) -> OptimizeResult:
    """Minimise J with scipy's L-BFGS-B on the unrolled weights (one epoch = one iteration).

    Args:
        objective: J and ∇J on the training set.
        theta: initial unrolled weights (not modified).
        max_iter: at most this many iterations; it stops sooner once converged.
        on_epoch: called as ``on_epoch(iteration, theta, cost)`` after every iteration.
        gtol: stop once every component of the (projected) gradient is below this
            (scipy's default 1e-5); it also stops when J no longer decreases.

    Returns:
        An ``OptimizeResult``; ``message`` is scipy's reason for stopping.

    Raises:
        TrainingError: J is NaN or infinite at the start, after an iteration, or at the end.
    """
    from scipy.optimize import minimize

    start_evaluations = objective.evaluations
    grad = np.empty(theta.size, dtype=np.float64)  # scipy works in float64
    result = OptimizeResult(np.array(theta, dtype=objective.dtype))
    hint = _lbfgs_hint(objective)

    def cost_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        cost = objective.value_and_grad(x, grad)
        if objective.evaluations == start_evaluations + 1:
            _check_finite(cost, 0, hint)  # the initial weights: nothing to search from
        return cost, grad.copy()  # a copy: scipy may hold on to the array it is given

    def callback(intermediate_result) -> None:
        result.epochs += 1
        cost = float(intermediate_result.fun)
        _check_finite(cost, result.epochs, hint)
        result.costs.append(cost)
        if on_epoch is not None:
            on_epoch(result.epochs, intermediate_result.x, cost)

    with np.errstate(**_QUIET):
        found = minimize(
            cost_and_gradient,
            np.asarray(theta, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={"maxiter": int(max_iter), "gtol": gtol},
        )
    # A NaN gradient ends the search at once, with a NaN cost and no iteration.
    _check_finite(float(found.fun), result.epochs + 1, hint)
    result.theta = np.asarray(found.x, dtype=objective.dtype)
    # SciPy says e.g. "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"; keep it, in plain case.
    # Some messages have nothing after the colon (SciPy 1.15+: "ABNORMAL: "): never an
    # empty reason.
    detail = str(found.message).split(":", 1)[-1].strip().lower()
    if not detail:
        detail = _LBFGS_STATUS.get(int(found.status), f"scipy status {found.status}")
        head = str(found.message).split(":", 1)[0].strip().lower()
        if head and head not in detail:
            detail = f"{head} ({detail})"
    result.message = f"L-BFGS {'converged' if found.success else 'stopped'}: {detail}"
    result.evaluations = objective.evaluations - start_evaluations
    return result
