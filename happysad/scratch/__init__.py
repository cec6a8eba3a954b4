"""The lab's neural network from scratch: NumPy (and SciPy's L-BFGS), no TensorFlow.

Modules:

* ``network``: layers and weights, forward pass, the cost J(Θ), backpropagation,
  numerical gradients and the gradient check, prediction, save/load (.npz);
* ``optimize``: full-batch gradient descent, mini-batch SGD, L-BFGS;
* ``tables``: numeric tables (CSV or whitespace), MATLAB .mat files, image folders;
* ``config``: ``ScratchConfig``, the validated settings;
* ``run``: the jobs behind ``happysad scratch train | cv | gradcheck``.

Example:
    >>> import numpy as np
    >>> from happysad.scratch import init_weights, cost_and_gradients, gradient_check
    >>> thetas = init_weights([2, 3, 1], seed=0)
    >>> J, grads = cost_and_gradients(thetas, np.eye(2), np.array([[1.0], [0.0]]), lam=0.0)
    >>> gradient_check([4, 5, 3], "relu").passed
    True
"""

from .config import ScratchConfig
from .network import (
    Backprop,
    GradientCheck,
    MinMaxScaling,
    Network,
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
    unroll,
)
from .optimize import Objective, OptimizeResult, gradient_descent, lbfgs, sgd
from .tables import Dataset, encode_labels, load_dataset, load_mat, load_table

__all__ = [
    "Backprop",
    "Dataset",
    "GradientCheck",
    "MinMaxScaling",
    "Network",
    "Objective",
    "OptimizeResult",
    "ScratchConfig",
    "cost",
    "cost_and_gradients",
    "encode_labels",
    "feedforward",
    "gradient_check",
    "gradient_descent",
    "init_weights",
    "lbfgs",
    "load_dataset",
    "load_mat",
    "load_table",
    "numerical_gradients",
    "one_hot",
    "predict",
    "relative_difference",
    "roll",
    "sgd",
    "unroll",
]
