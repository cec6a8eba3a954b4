"""A fully connected neural network and backpropagation, from scratch with NumPy.

Notation (the lab's):

* layer sizes ``[s_1, ..., s_L]``: ``s_1`` inputs, ``s_L = K`` outputs, any hidden layers;
* ``Θ^(l)`` (``thetas[l-1]``) maps layer ``l`` to layer ``l+1`` and has shape
  ``(s_{l+1}, s_l + 1)``; column 0 holds the weights of the bias unit (always 1);
* ``a^(1) = x``; ``z^(l+1) = Θ^(l) [1; a^(l)]``; ``a^(l+1) = g(z^(l+1))`` with ``g`` the
  sigmoid or ReLU on hidden layers and the sigmoid on the output layer, ``h = a^(L)``;
* the cost, exactly as the lab writes it::

      J(Θ) = 1/m Σ_i Σ_k -[ y_k log h_k + (1 - y_k) log(1 - h_k) ]
             + λ/(2m) Σ_l Σ_{j, k>=1} (Θ^(l)_{jk})²        (the bias column is not penalised)

All examples go through each layer at once: the rows of a matrix are the examples, so
every layer is one matrix product (BLAS) and there is no Python loop over examples.

Example:
    >>> import numpy as np
    >>> thetas = init_weights([2, 3, 1], seed=0)
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0]]); Y = np.array([[1.0], [0.0]])
    >>> J, grads = cost_and_gradients(thetas, X, Y, lam=1.0)
    >>> [g.shape for g in grads]
    [(3, 3), (1, 4)]
    >>> gradient_check([4, 5, 3]).relative_difference < 1e-7
    True
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError

HIDDEN_ACTIVATIONS = ("sigmoid", "relu")
NETWORK_FORMAT = "happysad-scratch-network"
NETWORK_FORMAT_VERSION = 1
# λ beyond this only pins every weight to 0 (and near 1e308 overflows J): a typo, not a
# setting. The lab's values are 0 to 10.
MAX_REGULARIZATION = 1e6


def check_regularization(lam: float, name: str = "regularization (lambda)") -> float:
    """Return λ as a float, or raise ConfigError unless it is finite and in [0, 1e6].

    Example:
        >>> check_regularization(float("nan"))
        Traceback (most recent call last):
        ...
        happysad.errors.ConfigError: regularization (lambda) must be a number >= 0 and at most 1e+06, got nan; use e.g. 0.1 (0 for none)
    """
    try:
        value = float(lam)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value <= MAX_REGULARIZATION):
        raise ConfigError(
            f"{name} must be a number >= 0 and at most {MAX_REGULARIZATION:g}, got {lam}; "
            "use e.g. 0.1 (0 for none)"
        )
    return value


# ---------------------------------------------------------------------------------------
# Activations: forward and backward side by side.
# ---------------------------------------------------------------------------------------


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """σ(z) = 1 / (1 + e^-z), elementwise, written into ``out`` (may be ``z`` itself).

    For very negative z, e^-z overflows to inf and 1 / (1 + inf) = 0: the right limit,
    never NaN, so that overflow warning is silenced. (Four vectorised passes beat
    ``scipy.special.expit`` here: 10% in float64, 2x in float32, where NumPy's exp is SIMD.)
    """
    out = np.empty_like(z) if out is None else out
    with np.errstate(over="ignore"):
        np.negative(z, out=out)
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


class Sigmoid:
    """g(z) = σ(z) = 1 / (1 + e^-z). Its slope g'(z) = a (1 - a) needs only the output a."""

    name = "sigmoid"

    @staticmethod
    def forward(z: np.ndarray, out: np.ndarray) -> np.ndarray:
        return sigmoid(z, out=out)

    @staticmethod
    def backward(delta: np.ndarray, z: np.ndarray, a: np.ndarray, scratch: np.ndarray) -> None:
        """Multiply ``delta`` in place by g'(z) = a (1 - a)."""
        np.subtract(1.0, a, out=scratch)
        scratch *= a
        delta *= scratch


class ReLU:
    """g(z) = max(z, 0). Its slope is 1 where z > 0 and 0 elsewhere (0 at the kink z = 0)."""

    name = "relu"

    @staticmethod
    def forward(z: np.ndarray, out: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0, out=out)

    @staticmethod
    def backward(delta: np.ndarray, z: np.ndarray, a: np.ndarray, scratch: np.ndarray) -> None:
        """Multiply ``delta`` in place by g'(z) = [z > 0]."""
        np.greater(z, 0.0, out=scratch)  # True/False stored as 1.0/0.0
        delta *= scratch


ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU}


def activation_named(name: str):
    """The activation class for ``name`` ("sigmoid" or "relu"); ConfigError otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(
            f"activation {name!r} is not one of {', '.join(map(repr, HIDDEN_ACTIVATIONS))}"
        ) from None


# ---------------------------------------------------------------------------------------
# Weights: shapes, unrolling, initialisation.
# ---------------------------------------------------------------------------------------


def check_layer_sizes(layer_sizes: Sequence[int]) -> list[int]:
    """Return ``layer_sizes`` as a list of ints, or raise ConfigError saying what is wrong."""
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ConfigError(f"layer sizes {sizes} need at least an input and an output layer, e.g. 4,5,3")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ConfigError(f"layer sizes must be whole numbers >= 1, got {sizes}")
    return [int(s) for s in sizes]


def weight_shapes(layer_sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Shapes of Θ^(1), ..., Θ^(L-1): ``(s_{l+1}, s_l + 1)``, the +1 for the bias unit.

    Example:
        >>> weight_shapes([64, 25, 10])
        [(25, 65), (10, 26)]
    """
    return [(layer_sizes[i + 1], layer_sizes[i] + 1) for i in range(len(layer_sizes) - 1)]


def count_weights(layer_sizes: Sequence[int]) -> int:
    """How many numbers the unrolled weight vector holds."""
    return sum(r * c for r, c in weight_shapes(layer_sizes))


def unroll(thetas: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate the weight matrices into one vector (row-major), as optimisers want it."""
    return np.concatenate([np.asarray(t).ravel() for t in thetas])


def roll(flat: np.ndarray, layer_sizes: Sequence[int]) -> list[np.ndarray]:
    """Split an unrolled vector back into weight matrices.

    Returns views, not copies: writing into a matrix writes into ``flat``. That is what
    lets the optimisers keep one vector while backpropagation works on matrices.
    """
    thetas, start = [], 0
    for rows, cols in weight_shapes(layer_sizes):
        thetas.append(flat[start : start + rows * cols].reshape(rows, cols))
        start += rows * cols
    if start != flat.size:
        raise ValueError(f"{flat.size} numbers do not fit layer sizes {list(layer_sizes)}")
    return thetas


def layer_sizes_of(thetas: Sequence[np.ndarray]) -> list[int]:
    """Recover ``[s_1, ..., s_L]`` from the weight shapes, checking that they chain."""
    if not thetas:
        raise ValueError("a network needs at least one weight matrix")
    sizes = [thetas[0].shape[1] - 1]
    for i, theta in enumerate(thetas):
        if theta.ndim != 2 or theta.shape[1] != sizes[-1] + 1:
            raise ValueError(
                f"Θ^({i + 1}) has shape {theta.shape}; expected (s, {sizes[-1] + 1}) "
                "to follow the previous layer"
            )
        sizes.append(theta.shape[0])
    return sizes


def init_weights(
    layer_sizes: Sequence[int], seed: int = 0, dtype: np.dtype | type = np.float64
) -> list[np.ndarray]:
    """Random weights, uniform in [-ε, ε] with ε = √6 / √(s_l + s_{l+1}) per layer.

    Random (not zero) weights break the symmetry between hidden units; the ε keeps a
    sigmoid's input in its steep middle part at the start.

    Args:
        layer_sizes: ``[s_1, ..., s_L]``.
        seed: the same seed gives the same weights.
        dtype: float64 (default) or float32.

    Returns:
        The matrices Θ^(1), ..., Θ^(L-1), as views of one contiguous vector
        (``unroll`` them to get a copy of it).

    Example:
        >>> [t.shape for t in init_weights([4, 5, 3], seed=1)]
        [(5, 5), (3, 6)]
    """
    sizes = check_layer_sizes(layer_sizes)
    rng = np.random.default_rng(seed)
    flat = np.empty(count_weights(sizes), dtype=dtype)
    for theta, (s_in, s_out) in zip(roll(flat, sizes), pairwise(sizes)):
        epsilon = math.sqrt(6.0) / math.sqrt(s_in + s_out)
        theta[...] = rng.uniform(-epsilon, epsilon, size=theta.shape)
    return roll(flat, sizes)


def add_bias_column(X: np.ndarray, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """``[1, x]`` for every row: the inputs with the bias unit in column 0 (a new array)."""
    X = np.asarray(X)
    X1 = np.empty((X.shape[0], X.shape[1] + 1), dtype=dtype)
    X1[:, 0] = 1.0
    X1[:, 1:] = X
    return X1


def output_units(n_classes: int) -> int:
    """K: one sigmoid output for two classes (h >= 0.5 means class 1), else one per class."""
    return 1 if n_classes == 2 else n_classes


def one_hot(labels: np.ndarray, n_classes: int, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Targets Y (m x K) for class indices 0..n_classes-1; K = 1 for two classes.

    Example:
        >>> one_hot(np.array([0, 2, 1]), 3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]])
    """
    labels = np.asarray(labels)
    if n_classes == 2:
        return labels.astype(dtype).reshape(-1, 1)
    Y = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1.0
    return Y


def _as_targets(Y: np.ndarray, dtype) -> np.ndarray:
    Y = np.asarray(Y, dtype=dtype)
    return Y.reshape(-1, 1) if Y.ndim == 1 else Y


# ---------------------------------------------------------------------------------------
# Backpropagation with reusable buffers (the training hot loop).
# ---------------------------------------------------------------------------------------


class Backprop:
    """Forward and backward passes on up to ``capacity`` examples, into reused buffers.

    Training calls J and ∂J/∂Θ thousands of times on batches of one size; allocating the
    layer matrices once and writing every product into them (``out=``) keeps the loop
    free of allocations. The parameters arrive as one unrolled vector ``theta`` and the
    gradient is written into one vector ``grad`` of the same layout.

    Args:
        layer_sizes: ``[s_1, ..., s_L]``.
        capacity: the largest number of examples one call will see.
        hidden_activation: "sigmoid" or "relu" (the output layer is always a sigmoid).
        dtype: float64 (default) or float32; inputs, targets and weights must match it.

    Example:
        >>> sizes = [2, 3, 1]
        >>> bp = Backprop(sizes, capacity=2)
        >>> theta = unroll(init_weights(sizes))
        >>> X1 = add_bias_column(np.eye(2)); Y = np.array([[1.0], [0.0]])
        >>> grad = np.empty_like(theta)
        >>> cost = bp.cost_and_gradient(theta, X1, Y, lam=0.0, grad=grad)
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        capacity: int,
        hidden_activation: str = "sigmoid",
        dtype: np.dtype | type = np.float64,
    ):
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.activation = activation_named(hidden_activation)
        self.dtype = np.dtype(dtype)
        self.capacity = int(capacity)
        # hidden[i] holds [1, a] of hidden layer i+2 (the lab numbers the input layer 1);
        # column 0 is the bias unit, set once. z[i], delta[i] and scratch[i] hold the
        # pre-activations, errors and temporaries of the layer that Θ^(i+1) feeds.
        self.hidden = [np.empty((capacity, s + 1), self.dtype) for s in self.layer_sizes[1:-1]]
        for a in self.hidden:
            a[:, 0] = 1.0
        self.z = [np.empty((capacity, s), self.dtype) for s in self.layer_sizes[1:]]
        self.delta = [np.empty((capacity, s), self.dtype) for s in self.layer_sizes[1:]]
        self.scratch = [np.empty((capacity, s), self.dtype) for s in self.layer_sizes[1:]]
        self._batch_inputs: np.ndarray | None = None  # made by the first ``gather``
        self._batch_targets: np.ndarray | None = None
        # 1 for every weight that is penalised (all but the bias columns), in unrolled order.
        mask = np.ones(count_weights(self.layer_sizes), self.dtype)
        for theta in roll(mask, self.layer_sizes):
            theta[:, 0] = 0.0
        self.penalty_mask = mask
        self._penalty_cache: tuple[float, np.ndarray] | None = None
        self.penalty = np.empty_like(mask)
        self._activations: list[np.ndarray] = []
        self._output_ready = False  # whether delta[-1] holds h for the last forward pass
        self._n_thetas = len(self.layer_sizes) - 1

    # -- forward ----------------------------------------------------------------
    def forward(self, theta: np.ndarray, X1: np.ndarray) -> np.ndarray:
        """Run the examples in ``X1`` (bias column included) through the network.

        Returns:
            z^(L), the output layer's pre-activation (m x K), a view of a buffer that the
            next call overwrites. h = sigmoid(z^(L)).
        """
        m = X1.shape[0]
        thetas = roll(theta, self.layer_sizes)
        self._output_ready = False  # h for these weights is not computed yet
        a = X1
        self._activations = [X1]
        for l, Theta in enumerate(thetas):
            z = self.z[l][:m]
            np.dot(a, Theta.T, out=z)  # z = [1, a] Θᵀ: every example, every unit, one product
            if l < self._n_thetas - 1:  # a hidden layer: apply g, keep the bias column of 1s
                a = self.hidden[l][:m]
                self.activation.forward(z, out=a[:, 1:])
                self._activations.append(a)
        return z

    def cost_of_output(
        self, z_out: np.ndarray, Y: np.ndarray, theta: np.ndarray, lam: float, m_total: int | None = None
    ) -> float:
        """J(Θ) from the output pre-activation z (after ``forward``), never taking log(0).

        With h = σ(z), each output's cross-entropy is
        -[y log h + (1-y) log(1-h)] = softplus(z) - y z, and
        softplus(z) = log(1 + e^z) = max(z, 0) - log σ(|z|) = max(z, 0) - log max(h, 1-h).
        max(h, 1-h) lies in [0.5, 1], so the log is always finite: saturated units (h
        rounding to 0 or 1) give the exact, finite cost. h is kept for ``backward``.

        Args:
            z_out: z^(L) from ``forward`` (m x K).
            Y: targets (m x K).
            theta: the weights ``forward`` used (for the penalty).
            lam: λ.
            m_total: the m of the penalty λ/(2m); default the number of examples.
        """
        m = z_out.shape[0]
        h = sigmoid(z_out, out=self.delta[-1][:m])  # backward starts from h
        self._output_ready = True
        tmp = self.scratch[-1][:m]
        np.subtract(1.0, h, out=tmp)
        np.maximum(tmp, h, out=tmp)
        sum_log_sigma_abs = float(np.log(tmp, out=tmp).sum())
        sum_positive_part = float(np.maximum(z_out, 0.0, out=tmp).sum())
        data_term = (sum_positive_part - sum_log_sigma_abs - float(np.vdot(Y, z_out))) / m
        if lam == 0.0:
            return data_term
        penalty = self._scaled_penalty(theta, lam, m_total or m)  # (λ/m) Θ, bias columns 0
        return data_term + 0.5 * float(np.dot(penalty, theta))

    def _scaled_penalty(self, theta: np.ndarray, lam: float, m_total: int) -> np.ndarray:
        """(λ/m) Θ with the bias columns zeroed: the penalty's slope, in unrolled order."""
        scale = lam / m_total
        if self._penalty_cache is None or self._penalty_cache[0] != scale:
            self._penalty_cache = (scale, self.penalty_mask * scale)
        return np.multiply(theta, self._penalty_cache[1], out=self.penalty)

    # -- backward ---------------------------------------------------------------
    def backward(
        self, theta: np.ndarray, Y: np.ndarray, lam: float, grad: np.ndarray, m_total: int | None = None
    ) -> None:
        """Backpropagate after ``forward``: write ∂J/∂Θ (unrolled) into ``grad``.

        Args:
            theta: the same weights ``forward`` used.
            Y: targets (m x K).
            lam: λ.
            grad: output vector, same size as ``theta``.
            m_total: the m in the penalty λ/(2m); default the number of examples. A
                mini-batch passes the training-set size so that its gradient is an
                unbiased estimate of the full one.
        """
        m = Y.shape[0]
        last = self._n_thetas - 1
        thetas = roll(theta, self.layer_sizes)
        grads = roll(grad, self.layer_sizes)
        # Output error: for a sigmoid output with cross-entropy, ∂cost/∂z^(L) = h - y.
        delta = self.delta[last][:m]
        if not self._output_ready:  # cost_of_output already put h there
            sigmoid(self.z[last][:m], out=delta)
        delta -= Y
        self._output_ready = False
        for l in range(last, -1, -1):
            # Σ over examples of δ^(l+2) [1, a^(l+1)]ᵀ: one product gives every weight's slope.
            np.dot(delta.T, self._activations[l], out=grads[l])
            if l == 0:
                break
            # δ^(l+1) = (δ^(l+2) Θ^(l+1) without its bias column) ⊙ g'(z^(l+1)).
            below = self.delta[l - 1][:m]
            np.dot(delta, thetas[l][:, 1:], out=below)
            self.activation.backward(
                below, self.z[l - 1][:m], self._activations[l][:, 1:], self.scratch[l - 1][:m]
            )
            delta = below
        grad *= 1.0 / m
        if lam != 0.0:
            grad += self._scaled_penalty(theta, lam, m_total or m)

    def cost_and_gradient(
        self,
        theta: np.ndarray,
        X1: np.ndarray,
        Y: np.ndarray,
        lam: float,
        grad: np.ndarray,
        m_total: int | None = None,
    ) -> float:
        """J(Θ) on (X1, Y), with ∂J/∂Θ written into ``grad``; see ``forward``/``backward``."""
        z_out = self.forward(theta, X1)
        cost = self.cost_of_output(z_out, Y, theta, lam, m_total)
        self.backward(theta, Y, lam, grad, m_total)
        return cost

    def gather(self, X1: np.ndarray, Y: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Copy the examples ``rows`` into the batch buffers (no allocation); return views."""
        if self._batch_inputs is None:
            self._batch_inputs = np.empty((self.capacity, X1.shape[1]), self.dtype)
            self._batch_targets = np.empty((self.capacity, Y.shape[1]), self.dtype)
        b = rows.shape[0]
        inputs, targets = self._batch_inputs[:b], self._batch_targets[:b]
        # mode="clip" skips take's bounds-check buffering; rows come from a permutation.
        np.take(X1, rows, axis=0, out=inputs, mode="clip")
        np.take(Y, rows, axis=0, out=targets, mode="clip")
        return inputs, targets


# ---------------------------------------------------------------------------------------
# The plain functions of the lab: cost, gradients, numerical gradients, prediction.
# ---------------------------------------------------------------------------------------


def _prepare(thetas, X, Y, hidden_activation, dtype):
    dtype = np.dtype(dtype if dtype is not None else np.asarray(thetas[0]).dtype)
    sizes = layer_sizes_of([np.asarray(t) for t in thetas])
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"X has shape {X.shape}; the network expects (m, {sizes[0]})")
    Y = _as_targets(Y, dtype)
    if Y.shape != (X.shape[0], sizes[-1]):
        raise ValueError(f"Y has shape {Y.shape}; expected ({X.shape[0]}, {sizes[-1]})")
    bp = Backprop(sizes, X.shape[0], hidden_activation, dtype)
    return sizes, bp, add_bias_column(X, dtype), Y, unroll(thetas).astype(dtype, copy=False)


def cost_and_gradients(
    thetas: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    lam: float,
    hidden_activation: str = "sigmoid",
    dtype: np.dtype | type | None = None,
) -> tuple[float, list[np.ndarray]]:
    """The regularised cost J(Θ) and its gradient by backpropagation.

    Args:
        thetas: Θ^(1), ..., Θ^(L-1); Θ^(l) has shape (s_{l+1}, s_l + 1), bias in column 0.
        X: inputs, one example per row (m x s_1).
        Y: targets (m x K) of 0s and 1s (one-hot for K > 1); a vector is taken as K = 1.
        lam: λ, the L2 penalty (0 for none).
        hidden_activation: "sigmoid" or "relu" on the hidden layers.
        dtype: float64 or float32; default the dtype of ``thetas[0]``.

    Returns:
        ``(J, grads)``: J as a float and one gradient matrix per Θ, same shapes; the
        bias column's gradient has no penalty term.

    Example:
        >>> thetas = init_weights([3, 4, 1], seed=0)           # K = 1: a binary problem
        >>> X = np.random.default_rng(0).random((5, 3)); Y = one_hot(np.array([0, 1, 1, 0, 1]), 2)
        >>> J, grads = cost_and_gradients(thetas, X, Y, lam=1.0)
        >>> J > 0
        True
    """
    sizes, bp, X1, Y, theta = _prepare(thetas, X, Y, hidden_activation, dtype)
    grad = np.empty_like(theta)
    cost = bp.cost_and_gradient(theta, X1, Y, float(lam), grad)
    return cost, roll(grad, sizes)


def cost(
    thetas: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    lam: float,
    hidden_activation: str = "sigmoid",
    dtype: np.dtype | type | None = None,
) -> float:
    """J(Θ) alone (a forward pass); arguments as in ``cost_and_gradients``."""
    _, bp, X1, Y, theta = _prepare(thetas, X, Y, hidden_activation, dtype)
    return bp.cost_of_output(bp.forward(theta, X1), Y, theta, float(lam))


def numerical_gradients(
    thetas: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    lam: float,
    hidden_activation: str = "sigmoid",
    eps: float = 1e-4,
) -> list[np.ndarray]:
    """∂J/∂Θ by central differences: (J(θ + ε) - J(θ - ε)) / 2ε, one weight at a time.

    Slow (two forward passes per weight) and only for checking backpropagation on small
    networks. Always in float64: float32 rounding would swamp the differences.

    Returns:
        One matrix per Θ, same shapes.
    """
    sizes, bp, X1, Y, theta = _prepare(thetas, X, Y, hidden_activation, np.float64)
    theta = theta.copy()
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        original = theta[i]
        theta[i] = original + eps
        cost_plus = bp.cost_of_output(bp.forward(theta, X1), Y, theta, float(lam))
        theta[i] = original - eps
        cost_minus = bp.cost_of_output(bp.forward(theta, X1), Y, theta, float(lam))
        theta[i] = original
        numeric[i] = (cost_plus - cost_minus) / (2.0 * eps)
    return roll(numeric, sizes)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||a + b||: about 1e-9 or less when backpropagation is right.

    Infinite when either holds a NaN or an infinity: such gradients never agree.
    """
    a, b = np.ravel(a), np.ravel(b)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.inf
    denominator = float(np.linalg.norm(a + b))
    return float(np.linalg.norm(a - b)) / denominator if denominator > 0 else 0.0


@dataclass
class GradientCheck:
    """The result of ``gradient_check``: both gradients (unrolled) and how far apart."""

    layer_sizes: list[int]
    hidden_activation: str
    lam: float
    numerical: np.ndarray
    backprop: np.ndarray
    relative_difference: float
    tolerance: float = 1e-7

    @property
    def finite(self) -> bool:
        """Whether both gradients hold only finite numbers."""
        return bool(np.all(np.isfinite(self.numerical)) and np.all(np.isfinite(self.backprop)))

    @property
    def passed(self) -> bool:
        # A NaN difference compares False with everything; be explicit all the same.
        return self.finite and math.isfinite(self.relative_difference) and (
            self.relative_difference < self.tolerance
        )


def gradient_check(
    layer_sizes: Sequence[int] = (4, 5, 3),
    hidden_activation: str = "sigmoid",
    lam: float = 1.0,
    examples: int = 5,
    seed: int = 0,
    eps: float = 1e-4,
    kink_margin: float = 1e-3,
) -> GradientCheck:
    """Compare backpropagation with central differences on a small random network.

    For ReLU the difference quotient is wrong wherever a hidden pre-activation is within
    ε of the kink at 0, so the data and weights are redrawn (deterministically, from
    ``seed``) until every hidden |z| exceeds ``kink_margin`` (≫ ε times an input).

    Args:
        layer_sizes: ``[s_1, ..., s_L]``, small: the check costs two passes per weight.
        hidden_activation: "sigmoid" or "relu".
        lam: λ (checks the penalty's gradient too when > 0).
        examples: m, the number of random examples.
        seed: seeds weights, inputs and labels.
        eps: the finite-difference step.
        kink_margin: for ReLU, the smallest allowed |z| on hidden units.

    Returns:
        A ``GradientCheck``; ``.relative_difference`` is ||num - bp|| / ||num + bp||.

    Example:
        >>> gradient_check([3, 4, 4, 2], "relu", lam=0.5).passed
        True
    """
    sizes = check_layer_sizes(layer_sizes)
    activation_named(hidden_activation)
    lam = check_regularization(lam, "lambda")
    if examples < 1:
        raise ConfigError(f"examples must be at least 1, got {examples}")
    K = sizes[-1]
    for attempt in range(1000):
        rng = np.random.default_rng([seed, attempt])
        thetas = init_weights(sizes, seed=int(rng.integers(2**31)))
        X = rng.uniform(-1.0, 1.0, size=(examples, sizes[0]))
        labels = rng.integers(0, max(K, 2), size=examples)
        Y = labels.reshape(-1, 1).astype(np.float64) if K == 1 else np.eye(K)[labels]
        if hidden_activation != "relu" or _clear_of_kinks(thetas, X, kink_margin):
            break
    else:  # pragma: no cover - needs an absurdly large network
        raise ConfigError(f"could not draw ReLU pre-activations clear of 0 for layers {sizes}")
    _, backprop = cost_and_gradients(thetas, X, Y, lam, hidden_activation)
    numerical = numerical_gradients(thetas, X, Y, lam, hidden_activation, eps=eps)
    num, bp = unroll(numerical), unroll(backprop)
    return GradientCheck(sizes, hidden_activation, float(lam), num, bp, relative_difference(num, bp))


def _clear_of_kinks(thetas: Sequence[np.ndarray], X: np.ndarray, margin: float) -> bool:
    a = X
    for theta in thetas[:-1]:
        z = a @ theta[:, 1:].T + theta[:, 0]
        if np.min(np.abs(z)) <= margin:
            return False
        a = np.maximum(z, 0.0)
    return True


def feedforward(
    thetas: Sequence[np.ndarray], X: np.ndarray, hidden_activation: str = "sigmoid"
) -> np.ndarray:
    """The network's outputs h (m x K), each in (0, 1).

    Example:
        >>> feedforward(init_weights([2, 3, 1]), np.zeros((4, 2))).shape
        (4, 1)
    """
    activation = activation_named(hidden_activation)
    a = np.asarray(X)
    for l, theta in enumerate(thetas):
        z = a @ theta[:, 1:].T + theta[:, 0]  # the bias column adds the same to every row
        a = sigmoid(z, out=z) if l == len(thetas) - 1 else activation.forward(z, out=z)
    return a


def predict(thetas: Sequence[np.ndarray], X: np.ndarray, hidden_activation: str = "sigmoid") -> np.ndarray:
    """Class indices: argmax over the K outputs, or h >= 0.5 when K = 1.

    Example:
        >>> predict(init_weights([2, 3, 4]), np.zeros((2, 2))).shape
        (2,)
    """
    return labels_of_outputs(feedforward(thetas, X, hidden_activation), threshold=0.5)


def labels_of_outputs(outputs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class indices from outputs (m x K): argmax, or ``outputs >= threshold`` for K = 1.

    Passing pre-activations z with ``threshold=0`` gives the same answer, since the
    sigmoid is increasing and σ(0) = 0.5.
    """
    if outputs.shape[1] == 1:
        return (outputs[:, 0] >= threshold).astype(np.int64)
    return np.argmax(outputs, axis=1)


# ---------------------------------------------------------------------------------------
# A trained network: weights + activation + class names + input scaling, saved as .npz.
# ---------------------------------------------------------------------------------------


@dataclass
class MinMaxScaling:
    """Per-feature min-max scaling to [0, 1], fitted on the training examples.

    A feature that is constant in training carries no information; it maps to 0 (rather
    than dividing by a zero range).

    Example:
        >>> s = MinMaxScaling.fit(np.array([[0.0, 5.0], [10.0, 5.0]]))
        >>> s.transform(np.array([[5.0, 5.0]]))
        array([[0.5, 0. ]])
    """

    minimum: np.ndarray
    maximum: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> MinMaxScaling:
        X = np.asarray(X, dtype=np.float64)
        return cls(X.min(axis=0), X.max(axis=0))

    def transform(self, X: np.ndarray, dtype: np.dtype | type = np.float64) -> np.ndarray:
        span = self.maximum - self.minimum
        # A span below the smallest normal float would make 1/span overflow: treat the
        # feature as constant (the data loaders reject spans too large to compute).
        scale = np.divide(1.0, span, out=np.zeros_like(span), where=span >= np.finfo(np.float64).tiny)
        return ((np.asarray(X, dtype=np.float64) - self.minimum) * scale).astype(dtype, copy=False)


@dataclass
class Network:
    """A trained network with everything needed to use it on raw inputs.

    Args:
        thetas: Θ^(1), ..., Θ^(L-1).
        hidden_activation: "sigmoid" or "relu".
        class_names: one name per class (2 for K = 1).
        scaling: the min-max scaling of the inputs, or None for inputs used as they are.

    Example:
        >>> net = Network(init_weights([2, 3, 1]), "sigmoid", ["sad", "happy"])
        >>> net.predict(np.zeros((1, 2))).tolist() in (["sad"], ["happy"])
        True
    """

    thetas: list[np.ndarray]
    hidden_activation: str = "sigmoid"
    class_names: list[str] | None = None
    scaling: MinMaxScaling | None = None

    def __post_init__(self) -> None:
        activation_named(self.hidden_activation)
        sizes = layer_sizes_of(self.thetas)
        if self.class_names is None:
            self.class_names = [str(i) for i in range(2 if sizes[-1] == 1 else sizes[-1])]
        expected = 2 if sizes[-1] == 1 else sizes[-1]
        if len(self.class_names) != expected:
            raise ValueError(f"{len(self.class_names)} class names for {sizes[-1]} output unit(s)")

    @property
    def layer_sizes(self) -> list[int]:
        return layer_sizes_of(self.thetas)

    def scale(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.layer_sizes[0]:
            raise DataError(
                f"inputs have shape {X.shape}; this network takes {self.layer_sizes[0]} features per row"
            )
        return X if self.scaling is None else self.scaling.transform(X, self.thetas[0].dtype)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Outputs h (m x K) for raw (unscaled) inputs."""
        return feedforward(self.thetas, self.scale(X), self.hidden_activation)

    def predict_indices(self, X: np.ndarray) -> np.ndarray:
        return labels_of_outputs(self.predict_proba(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class names for raw inputs."""
        return np.asarray(self.class_names)[self.predict_indices(X)]

    # -- files ------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the network to ``path`` (.npz), atomically; return the path.

        The file holds plain arrays only (no pickles): ``format``, ``version``,
        ``layer_sizes``, ``hidden_activation``, ``class_names``, ``feature_min``,
        ``feature_max`` (empty without scaling) and ``theta_1``, ``theta_2``, ...
        """
        path = Path(path)
        arrays = {
            "format": np.array(NETWORK_FORMAT),
            "version": np.array(NETWORK_FORMAT_VERSION),
            "layer_sizes": np.array(self.layer_sizes, dtype=np.int64),
            "hidden_activation": np.array(self.hidden_activation),
            "class_names": np.array([str(c) for c in self.class_names]),
            "feature_min": np.array([] if self.scaling is None else self.scaling.minimum, np.float64),
            "feature_max": np.array([] if self.scaling is None else self.scaling.maximum, np.float64),
        }
        for i, theta in enumerate(self.thetas, start=1):
            arrays[f"theta_{i}"] = np.asarray(theta)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)  # a file object: savez adds no ".npz" of its own
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a network written by ``save``; DataError for a missing, bad or foreign file."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"network file {path} not found")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        # A damaged file fails deep inside zipfile/numpy with many exception types
        # (BadZipFile, NotImplementedError, zlib.error, ...): all mean 'not our file'.
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{path} is not a saved scratch network (.npz): {exc}") from None
        return cls._from_arrays(arrays, path)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], path: Path) -> Network:
        def bad(why: str) -> DataError:
            return DataError(f"{path} is not a valid scratch network: {why}; retrain with 'happysad scratch train'")

        if "format" not in arrays or str(arrays["format"]) != NETWORK_FORMAT:
            raise bad("no happysad network header (a foreign .npz file?)")
        version = int(arrays.get("version", -1))
        if version != NETWORK_FORMAT_VERSION:
            raise bad(f"format version {version}, this happysad reads {NETWORK_FORMAT_VERSION}")
        try:
            sizes = [int(s) for s in arrays["layer_sizes"]]
            activation = str(arrays["hidden_activation"])
            class_names = [str(c) for c in arrays["class_names"]]
            thetas = [np.asarray(arrays[f"theta_{i}"]) for i in range(1, len(sizes))]
            feature_min, feature_max = arrays["feature_min"], arrays["feature_max"]
        except KeyError as exc:
            raise bad(f"missing array {exc.args[0]!r}") from None
        if activation not in HIDDEN_ACTIVATIONS:
            raise bad(f"unknown activation {activation!r}")
        if len(sizes) < 2 or [t.shape for t in thetas] != weight_shapes(sizes):
            raise bad(f"weights of shapes {[t.shape for t in thetas]} do not match layer sizes {sizes}")
        if any(t.dtype.kind != "f" or not np.all(np.isfinite(t)) for t in thetas):
            raise bad("weights are not finite floating-point numbers")
        if len(class_names) != (2 if sizes[-1] == 1 else sizes[-1]):
            raise bad(f"{len(class_names)} class names for {sizes[-1]} output unit(s)")
        scaling = None
        if feature_min.size or feature_max.size:
            if feature_min.shape != (sizes[0],) or feature_max.shape != (sizes[0],):
                raise bad(f"input scaling does not have {sizes[0]} features")
            scaling = MinMaxScaling(feature_min.astype(np.float64), feature_max.astype(np.float64))
        return cls(thetas, activation, class_names, scaling)
