"""Speed of the scratch network against scikit-learn's MLPClassifier, on the digits.

Run it with ``python bench/bench_scratch.py [--repeats 5] [--threads 1]``. It needs
``../shared/data/digits/digits.csv`` (skipped with a message when absent) and
scikit-learn (a benchmark-only dependency: ``pip install -e .[bench]``; happysad itself
never imports it).

What is compared, for a 64-25-10 network with logistic (sigmoid) hidden units on the
1437 training digits (a stratified 80% split, min-max scaled, the same arrays for both):

* mini-batch SGD, one epoch: same batch size, constant learning rate, no momentum
  (``momentum=0, nesterovs_momentum=False, learning_rate='constant'``), shuffled every
  epoch. Our epoch also computes J on all training examples at its end (the history's
  loss); scikit-learn computes each batch's loss as it goes.
* L-BFGS, per iteration (a fixed number of iterations, no early stop) and to
  convergence (both through ``scipy.optimize.minimize(method="L-BFGS-B")`` with the same
  ``gtol``, scikit-learn's default 1e-4).

The regularisation is matched, not copied. Ours: J(Θ) + λ/(2m) ΣW² with m the training
set size, bias weights excluded; a mini-batch step uses the gradient (1/b) Σ_B ∇cost +
(λ/m) W, an unbiased estimate of ∇J. scikit-learn (``_backprop``): loss + (alpha / 2) ·
ΣW² / n, gradient (Σ ∇cost + alpha · W) / n, intercepts excluded, where n is the number
of examples *in the call*: the whole set for L-BFGS, the batch for SGD. So

* L-BFGS: ``alpha = λ`` gives the same penalty;
* SGD: ``alpha = λ · b / m`` gives the same per-step weight decay (λ/m) W.

One difference remains by design: for 10 classes scikit-learn puts a softmax on the
output (categorical cross-entropy), ours K sigmoids (the lab's J). The arithmetic per
example is the same size; iteration counts to convergence differ because the
objectives do.

Ours and theirs alternate within each repeat, in one process; the table shows medians
and ours / theirs (below 1: ours is faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO.parent / "shared" / "data" / "digits" / "digits.csv"

HIDDEN = 25
LAMBDA = 0.1
LEARNING_RATE = 0.5
BATCH_SIZE = 32
SGD_EPOCHS = 30
LBFGS_FIXED_ITERATIONS = 100
LBFGS_MAX_ITERATIONS = 2000
GTOL = 1e-4


def load_digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The 80% stratified training split of digits.csv, min-max scaled (float64)."""
    from happysad.scratch.network import MinMaxScaling
    from happysad.scratch.run import stratified_split
    from happysad.scratch.tables import load_table

    data = load_table(DIGITS)
    train, _ = stratified_split(data.y, 0.2, seed=0)
    X, y = data.X[train], data.y[train]
    return MinMaxScaling.fit(X).transform(X), y, data.class_names


# -- ours -------------------------------------------------------------------------------


def _ours_objective(X, y, n_classes, dtype):
    from happysad.scratch.optimize import Objective

    return Objective([X.shape[1], HIDDEN, n_classes], X, y, n_classes, LAMBDA, "sigmoid", dtype)


def ours_sgd(X, y, n_classes, dtype=np.float64) -> float:
    """Seconds per SGD epoch (setup included, as for scikit-learn)."""
    from happysad.scratch.network import init_weights, unroll
    from happysad.scratch.optimize import sgd

    started = time.perf_counter()
    objective = _ours_objective(X, y, n_classes, dtype)
    theta = unroll(init_weights([X.shape[1], HIDDEN, n_classes], seed=0, dtype=dtype))
    sgd(objective, theta, learning_rate=LEARNING_RATE, epochs=SGD_EPOCHS, batch_size=BATCH_SIZE, seed=0)
    return (time.perf_counter() - started) / SGD_EPOCHS


def ours_sgd_with_history(X, y, names) -> float:
    """Seconds per SGD epoch as ``happysad scratch train --optimizer sgd`` runs it: through
    ``fit``, which also scales the inputs and records loss and accuracy every epoch."""
    from happysad.config import load_config
    from happysad.scratch.config import ScratchConfig
    from happysad.scratch.run import fit

    config = load_config(ScratchConfig, overrides={
        "hidden": [HIDDEN], "regularization": LAMBDA, "optimizer": "sgd", "epochs": SGD_EPOCHS,
        "learning_rate": LEARNING_RATE, "batch_size": BATCH_SIZE,
    })
    started = time.perf_counter()
    fit(config, X, y, names)
    return (time.perf_counter() - started) / SGD_EPOCHS


def ours_lbfgs(X, y, n_classes, max_iter, gtol, dtype=np.float64) -> tuple[float, int, float]:
    """(seconds, iterations, training accuracy) of one L-BFGS run."""
    from happysad.scratch.network import init_weights, unroll
    from happysad.scratch.optimize import lbfgs

    started = time.perf_counter()
    objective = _ours_objective(X, y, n_classes, dtype)
    theta = unroll(init_weights([X.shape[1], HIDDEN, n_classes], seed=0, dtype=dtype))
    result = lbfgs(objective, theta, max_iter=max_iter, gtol=gtol)
    seconds = time.perf_counter() - started
    return seconds, result.epochs, objective.accuracy(result.theta)


# -- scikit-learn -------------------------------------------------------------------------


def sklearn_sgd(X, y) -> float:
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        activation="logistic",
        solver="sgd",
        alpha=LAMBDA * BATCH_SIZE / X.shape[0],  # same per-step decay (λ/m) W; see the docstring
        batch_size=BATCH_SIZE,
        learning_rate="constant",
        learning_rate_init=LEARNING_RATE,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=True,
        max_iter=SGD_EPOCHS,
        n_iter_no_change=SGD_EPOCHS + 1,  # never stop early: time exactly SGD_EPOCHS epochs
        tol=0.0,
        random_state=0,
    )
    started = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - started
    assert clf.n_iter_ == SGD_EPOCHS, clf.n_iter_
    return seconds / SGD_EPOCHS


def sklearn_lbfgs(X, y, max_iter, gtol) -> tuple[float, int, float]:
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        activation="logistic",
        solver="lbfgs",
        alpha=LAMBDA,  # the same penalty λ/(2m) ΣW²; see the docstring
        max_iter=max_iter,
        tol=gtol,  # scikit-learn passes tol as L-BFGS-B's gtol
        random_state=0,
    )
    started = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - started
    return seconds, int(clf.n_iter_), float(clf.score(X, y))


# -- the measurement ------------------------------------------------------------------------


def _row(task: str, ours: list[float], theirs: list[float], detail: str = "") -> dict:
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    return {
        "task": task,
        "ours_s": ours_median,
        "sklearn_s": theirs_median,
        "ratio": ours_median / theirs_median,
        "detail": detail,
    }


def measure(repeats: int = 5) -> list[dict]:
    """Time ours against scikit-learn, alternating, ``repeats`` times; return table rows.

    Each row: task, ours_s and sklearn_s (medians, seconds), ratio (ours / sklearn),
    detail. Returns [] (after a message) when digits.csv is absent.
    """
    if not DIGITS.is_file():
        print(f"skipped: {DIGITS} not present", file=sys.stderr)
        return []
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is reached on purpose
    X, y, names = load_digits()
    n_classes = len(names)
    X32 = X.astype(np.float32)

    # Warm up both (imports, first-call costs) before timing anything.
    ours_sgd(X, y, n_classes)
    sklearn_sgd(X, y)

    times: dict[str, list[float]] = {k: [] for k in (
        "ours_sgd", "ours_sgd32", "ours_sgd_fit", "sk_sgd", "ours_fixed", "ours_fixed32", "sk_fixed",
        "ours_conv", "sk_conv")}
    info: dict[str, tuple] = {}
    for _ in range(repeats):
        times["ours_sgd"].append(ours_sgd(X, y, n_classes))
        times["sk_sgd"].append(sklearn_sgd(X, y))
        times["ours_sgd32"].append(ours_sgd(X32, y, n_classes, np.float32))
        times["ours_sgd_fit"].append(ours_sgd_with_history(X, y, names))

        seconds, iterations, _ = ours_lbfgs(X, y, n_classes, LBFGS_FIXED_ITERATIONS, gtol=0.0)
        times["ours_fixed"].append(seconds / iterations)
        seconds, iterations, _ = ours_lbfgs(X32, y, n_classes, LBFGS_FIXED_ITERATIONS, 0.0, np.float32)
        times["ours_fixed32"].append(seconds / iterations)
        seconds, iterations, _ = sklearn_lbfgs(X, y, LBFGS_FIXED_ITERATIONS, gtol=0.0)
        times["sk_fixed"].append(seconds / iterations)

        seconds, iterations, accuracy = ours_lbfgs(X, y, n_classes, LBFGS_MAX_ITERATIONS, GTOL)
        times["ours_conv"].append(seconds)
        info["ours_conv"] = (iterations, accuracy)
        seconds, iterations, accuracy = sklearn_lbfgs(X, y, LBFGS_MAX_ITERATIONS, GTOL)
        times["sk_conv"].append(seconds)
        info["sk_conv"] = (iterations, accuracy)

    (oi, oa), (si, sa) = info["ours_conv"], info["sk_conv"]
    return [
        _row(f"SGD epoch (b={BATCH_SIZE}, {SGD_EPOCHS} epochs)", times["ours_sgd"], times["sk_sgd"]),
        _row("SGD epoch, ours in float32", times["ours_sgd32"], times["sk_sgd"], "sklearn in float64"),
        _row("SGD epoch, ours via fit()", times["ours_sgd_fit"], times["sk_sgd"],
             "with the history's loss + accuracy per epoch"),
        _row(f"L-BFGS iteration ({LBFGS_FIXED_ITERATIONS} its)", times["ours_fixed"], times["sk_fixed"]),
        _row("L-BFGS iteration, ours in float32", times["ours_fixed32"], times["sk_fixed"],
             "sklearn in float64"),
        _row(
            f"L-BFGS to convergence (gtol {GTOL:g})",
            times["ours_conv"],
            times["sk_conv"],
            f"iterations {oi} vs {si}; train accuracy {oa:.4f} vs {sa:.4f}",
        ),
    ]


def format_table(rows: list[dict]) -> str:
    lines = [f"{'task':<40} {'ours':>11} {'sklearn':>11} {'ours/sk':>8}  detail"]
    for row in rows:
        lines.append(
            f"{row['task']:<40} {row['ours_s'] * 1e3:>8.2f} ms {row['sklearn_s'] * 1e3:>8.2f} ms "
            f"{row['ratio']:>8.2f}  {row['detail']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per case (default 5)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="BLAS threads for both (default 1: these matrices are too small to split; 0: leave as is)",
    )
    parser.add_argument("--json", action="store_true", help="also print the rows as one JSON line")
    args = parser.parse_args(argv)
    # Load every library that brings a thread pool (NumPy's and SciPy's OpenBLAS,
    # scikit-learn's OpenMP) before limiting: threadpoolctl only sees loaded ones.
    import scipy.linalg
    import scipy.optimize  # noqa: F401
    import sklearn
    import sklearn.neural_network
    from threadpoolctl import (  # comes with scikit-learn
        threadpool_info,
        threadpool_limits,
    )

    if args.threads:
        threadpool_limits(args.threads)
    pools = ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info())
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}; threads: {pools}; "
          f"repeats {args.repeats} (medians)")
    rows = measure(args.repeats)
    if rows:
        print(format_table(rows))
        if args.json:
            import json

            print("RESULT " + json.dumps({"threads": pools, "rows": rows}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
