"""``ScratchConfig``: every setting of ``happysad scratch train`` and ``scratch cv``.

Resolved like the Keras job's config (see ``happysad.config``): defaults, then a YAML
file (``--config``), then ``--set key=value``, then the named options; validated once.

Example:
    >>> from happysad.config import load_config
    >>> config = load_config(ScratchConfig, overrides={"hidden": [5], "data": "seeds.txt"})
    >>> config.layer_sizes(7, 3)
    [7, 5, 3]
    >>> config.resolved_epochs()
    400
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..config import _check
from ..errors import ConfigError
from .network import check_regularization, count_weights, output_units

Optimizer = Literal["lbfgs", "gd", "sgd"]
HiddenActivation = Literal["sigmoid", "relu"]
FloatType = Literal["float64", "float32"]

# Epochs (iterations for L-BFGS) when none are given. L-BFGS usually converges well
# before 400 iterations on the lab's data; plain gradient descent needs many more steps.
DEFAULT_EPOCHS = {"lbfgs": 400, "gd": 2000, "sgd": 200}

# Sizes beyond these are typos (--hidden 100000000), not networks this code can train:
# they would fail allocating tens of GiB. L-BFGS keeps ~25 vectors of every weight
# (50M weights: ~10 GiB in float64), and each layer keeps 4 buffers of m x units numbers.
MAX_HIDDEN_UNITS = 100_000
MAX_WEIGHTS = 50_000_000
MAX_ACTIVATIONS = 50_000_000  # examples x units of all non-input layers


@dataclass
class ScratchConfig:
    """Every setting of the from-scratch network; the defaults reach the lab's figures."""

    # -- data --
    data: str | None = None  # a table (last column = class), a .mat with X and y, or an image folder/zip
    image_size: int = 20  # images become image_size x image_size grayscale pixels = inputs
    val_split: float = 0.2  # stratified, seeded fraction held out for validation (0: none)
    # -- model --
    hidden: list[int] = field(default_factory=lambda: [25])  # units per hidden layer
    activation: HiddenActivation = "sigmoid"  # hidden layers; the output layer is always sigmoid
    # λ in J(Θ): the L2 penalty λ/(2m) ΣΘ² (bias weights excluded). 0.1 rather than the
    # course's 1.0: on min-max scaled inputs it does better (seeds 5-fold: 94.5% vs 92%).
    regularization: float = 0.1
    dtype: FloatType = "float64"  # arithmetic precision; float32 is faster, float64 exact
    # -- optimisation --
    optimizer: Optimizer = "lbfgs"  # lbfgs (no learning rate), gd (full batch) or sgd (mini-batch)
    epochs: int | None = None  # iterations (lbfgs) or passes over the data; null: 400 / 2000 / 200
    learning_rate: float = 0.5  # step size α for gd and sgd
    batch_size: int = 32  # examples per sgd step
    seed: int = 0  # initial weights, data split, shuffling, folds
    # -- cross-validation --
    folds: int = 5  # k of stratified k-fold (`happysad scratch cv`)
    # -- output --
    runs_dir: str = "runs"  # parent of the run folders
    name: str | None = None  # run folder name; default a timestamp

    def validate(self) -> None:
        _check(len(self.hidden) >= 1, "hidden needs at least one hidden layer, e.g. [25]")
        _check(all(h >= 1 for h in self.hidden), f"hidden layer sizes must be >= 1, got {self.hidden}")
        _check(
            all(h <= MAX_HIDDEN_UNITS for h in self.hidden),
            f"hidden layer sizes must be at most {MAX_HIDDEN_UNITS:,} units, got {self.hidden}; "
            "the lab's networks need tens of units, e.g. [25]",
        )
        # The weights between hidden layers alone (the full count needs the data's input
        # size: see check_network_size).
        self._check_weights(count_weights([1, *self.hidden, 1]), f"hidden {self.hidden}")
        check_regularization(self.regularization)
        _check(
            math.isfinite(self.learning_rate) and self.learning_rate > 0,
            f"learning_rate must be > 0, got {self.learning_rate}",
        )
        _check(self.epochs is None or self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}")
        _check(self.folds >= 2, f"folds must be at least 2, got {self.folds}")
        _check(0.0 <= self.val_split < 1.0, f"val_split must be in [0, 1), got {self.val_split}")
        _check(self.image_size >= 1, f"image_size must be at least 1, got {self.image_size}")
        _check(self.image_size <= 256, f"image_size must be at most 256, got {self.image_size}")
        _check(self.seed >= 0, f"seed must be >= 0, got {self.seed}")
        if self.name is not None:
            _check(
                bool(self.name) and self.name.isprintable() and "/" not in self.name
                and self.name not in (".", ".."),
                f"name must be a plain folder name, got {self.name!r}",
            )

    def _check_weights(self, weights: int, network: str) -> None:
        if weights > MAX_WEIGHTS:
            raise ConfigError(
                f"{network} has {weights:,} weights, over the limit of {MAX_WEIGHTS:,}; "
                "use fewer or smaller hidden layers"
                + (" or a smaller image_size" if self._images() else "")
            )

    def _images(self) -> bool:
        """Whether ``data`` is an image folder or zip (as ``load_dataset`` decides)."""
        if not self.data:
            return False
        path = Path(self.data)
        return path.suffix.lower() == ".zip" or path.is_dir()

    def check_network_size(self, n_features: int, n_classes: int, n_examples: int = 0) -> list[int]:
        """Refuse a network too large to allocate, before anything is written.

        Checks the weight count of ``layer_sizes(n_features, n_classes)`` against
        ``MAX_WEIGHTS`` and, given ``n_examples``, the per-example buffers (examples x
        units) against ``MAX_ACTIVATIONS``.

        Returns:
            The layer sizes.

        Raises:
            ConfigError: saying how large the network is and what to reduce.

        Example:
            >>> ScratchConfig(hidden=[25]).check_network_size(400, 10)
            [400, 25, 10]
        """
        sizes = self.layer_sizes(n_features, n_classes)
        shape = "-".join(str(s) for s in sizes)
        self._check_weights(count_weights(sizes), f"the network {shape}")
        units = sum(sizes[1:])
        if n_examples * units > MAX_ACTIVATIONS:
            raise ConfigError(
                f"the network {shape} on {n_examples:,} examples needs {n_examples * units:,} "
                f"activations per buffer, over the limit of {MAX_ACTIVATIONS:,}; "
                "use fewer or smaller hidden layers, or fewer examples"
            )
        return sizes

    def resolved_epochs(self) -> int:
        """``epochs``, or the optimiser's default when it is null."""
        return self.epochs if self.epochs is not None else DEFAULT_EPOCHS[self.optimizer]

    def layer_sizes(self, n_features: int, n_classes: int) -> list[int]:
        """``[inputs, *hidden, K]`` for data with ``n_features`` and ``n_classes``."""
        return [n_features, *self.hidden, output_units(n_classes)]
