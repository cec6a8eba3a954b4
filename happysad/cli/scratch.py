"""``happysad scratch ...``: the from-scratch NumPy network (train, cv, gradcheck).

Option values are typed by the config machinery rather than by click, so that a bad
value is one line ('error: --epochs: expected an integer, got 'ten'') like every other
user error. NumPy and SciPy are imported inside the commands.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from . import main

# BLAS libraries that read these at load time (OpenBLAS in the NumPy/SciPy wheels, MKL).
_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


@main.group(short_help="The from-scratch NumPy network (backprop).")
def scratch() -> None:
    """The lab's from-scratch NumPy network: train, cross-validate, gradient-check.

    A fully connected network with sigmoid outputs, trained by backpropagation on a
    table (CSV or whitespace, class in the last column), a .mat file (X, y) or an
    image folder/zip. Start with 'happysad scratch gradcheck', then
    'happysad scratch cv --data FILE'.
    """
    _single_threaded_blas()


def _single_threaded_blas() -> None:
    """One BLAS thread unless the user chose otherwise.

    The lab's matrices are small (hundreds of rows, tens of units): splitting them over
    threads buys nothing, and OpenBLAS's waiting threads made cross-validation on the
    seeds 5-10x slower on a busy 2-core machine. Only possible before NumPy loads.
    """
    if "numpy" not in sys.modules:
        for variable in _BLAS_THREAD_VARIABLES:
            os.environ.setdefault(variable, "1")


# Named options -> ScratchConfig keys. Their values are typed by happysad.config.
_OPTION_KEYS = {
    "hidden": "hidden",
    "lam": "regularization",
    "optimizer": "optimizer",
    "epochs": "epochs",
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
    "activation": "activation",
    "val_split": "val_split",
    "seed": "seed",
    "image_size": "image_size",
    "dtype": "dtype",
    "folds": "folds",
    "data": "data",
    "runs_dir": "runs_dir",
    "name": "name",
}
_FLAG_NAMES = {"lam": "--lambda"}


def _common_options(f):
    """Data, model and optimiser options shared by train and cv."""
    options = [
        click.option("--data", metavar="PATH", help="A table (.csv/.txt, class in the last column), a .mat file with X and y, or an image folder/zip."),
        click.option("--hidden", multiple=True, metavar="N[,N...]", help="Hidden layer sizes: repeat the option or give a comma list (default 25)."),
        click.option("--lambda", "lam", metavar="λ", help="L2 regularization λ (default 0.1; 0 for none)."),
        click.option("--activation", metavar="NAME", help="Hidden activation: sigmoid (default) or relu."),
        click.option("--optimizer", metavar="NAME", help="lbfgs (default), gd (full batch) or sgd (mini-batch)."),
        click.option("--epochs", metavar="N", help="Iterations (lbfgs) or passes over the data (default 400 / 2000 / 200)."),
        click.option("--learning-rate", "--lr", "learning_rate", metavar="α", help="Step size for gd and sgd (default 0.5)."),
        click.option("--batch-size", metavar="N", help="Examples per sgd step (default 32)."),
        click.option("--seed", metavar="N", help="Seed for weights, split, shuffling and folds (default 0)."),
        click.option("--image-size", metavar="N", help="Images become N x N grayscale inputs (default 20)."),
        click.option("--dtype", metavar="TYPE", help="float64 (default) or float32."),
        click.option("-c", "--config", "config_file", metavar="FILE", help="A YAML file of settings; options given here override it."),
        click.option("-s", "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any setting, e.g. --set hidden=[25,10]. Repeatable."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _parse_int_list(values: tuple[str, ...] | str, flag: str, example: str) -> list[int]:
    from ..errors import ConfigError

    texts = [values] if isinstance(values, str) else list(values)
    numbers = []
    for text in texts:
        for part in text.split(","):
            part = part.strip()
            try:
                numbers.append(int(part))
            except ValueError:
                raise ConfigError(f"{flag}: {part!r} is not a whole number; use e.g. {example}") from None
    return numbers


def _resolve(config_file: str | None, sets: tuple[str, ...], options: dict[str, Any]):
    """Defaults, then the config file, then --set, then the named options: one ScratchConfig."""
    import typing

    from ..config import _coerce, load_config
    from ..errors import ConfigError
    from ..scratch.config import ScratchConfig

    hints = typing.get_type_hints(ScratchConfig)
    typed: dict[str, Any] = {}
    for option, value in options.items():
        if value is None or value == ():
            continue
        key = _OPTION_KEYS[option]
        flag = _FLAG_NAMES.get(option, "--" + option.replace("_", "-"))
        if key == "hidden":
            typed[key] = _parse_int_list(value, flag, "--hidden 25 or --hidden 25,10")
            continue
        try:
            # Read like a YAML scalar ("1e-3", "10"); paths and names stay text.
            from_text = key not in ("data", "runs_dir", "name")
            typed[key] = _coerce(key, value, hints[key], from_text=from_text)
        except ConfigError as exc:
            raise ConfigError(f"{flag}: {str(exc).split(': ', 1)[-1]}") from None
    return load_config(ScratchConfig, config_file, typed, sets)


def _progress_printer(quiet: bool):
    if quiet:
        return None

    def show(row: dict[str, Any], total: int) -> None:
        every = max(1, total // 10)
        if row["epoch"] % every and row["epoch"] != total:
            return
        parts = [f"epoch {row['epoch']:>{len(str(total))}}/{total}", f"loss {row['loss']:.4f}",
                 f"accuracy {row['accuracy']:.4f}"]
        if "val_loss" in row:
            parts += [f"val_loss {row['val_loss']:.4f}", f"val_accuracy {row['val_accuracy']:.4f}"]
        click.echo("  ".join(parts))

    return show


def _describe(config, layer_sizes: list[int]) -> str:
    shape = "-".join(str(s) for s in layer_sizes)
    return f"{shape} ({config.activation}), {config.optimizer}, lambda {config.regularization:g}"


@scratch.command()
@_common_options
@click.option("--val-split", metavar="F", help="Fraction held out for validation, stratified (default 0.2; 0: none).")
@click.option("--runs-dir", metavar="DIR", help="Parent folder of run folders (default runs).")
@click.option("--name", metavar="NAME", help="Run folder name (default: a timestamp).")
@click.option("-q", "--quiet", is_flag=True, help="No per-epoch lines.")
def train(config_file, sets, quiet, **options):
    """Train the network and write a run folder.

    The run folder gets config.yaml, history.csv/json (loss = J(Θ) on the training
    examples, accuracy, val_loss, val_accuracy per epoch; 'happysad plot RUN' draws
    them), network.npz and metrics.json.
    """
    from ..scratch.run import train_run

    config = _resolve(config_file, sets, options)
    result = train_run(config, progress=_progress_printer(quiet))
    fit = result.fit
    click.echo(
        f"Network {_describe(config, fit.network.layer_sizes)}: "
        f"{result.metrics['examples']['train']} training, {result.metrics['examples']['val']} validation examples"
    )
    steps = "iterations" if config.optimizer == "lbfgs" else "epochs"  # L-BFGS has no epochs
    click.echo(f"Stopped after {fit.optimization.epochs} {steps}: {fit.optimization.message}")
    click.echo(f"Training accuracy:   {fit.train_accuracy:.4f}")
    if fit.val_accuracy is not None:
        click.echo(f"Validation accuracy: {fit.val_accuracy:.4f}")
    click.echo(f"Run folder: {result.run_dir}")


@scratch.command()
@_common_options
@click.option("--folds", metavar="K", help="Number of stratified folds (default 5).")
def cv(config_file, sets, **options):
    """Stratified k-fold cross-validation: accuracy per fold, then mean ± std."""
    from ..scratch.run import cross_validate

    config = _resolve(config_file, sets, options)

    def on_fold(number: int, accuracy: float, size: int) -> None:
        click.echo(f"fold {number}/{config.folds}: accuracy {accuracy:.4f} ({size} examples)")

    result = cross_validate(config, on_fold)
    click.echo(
        f"Mean accuracy {result.mean:.4f} ± {result.std:.4f} over {config.folds} folds "
        f"({_describe(config, result.layer_sizes)}; {result.wall_time_s:.1f} s)"
    )


@scratch.command()
@click.option("--layers", default="4,5,3", show_default=True, metavar="N,N,...", help="Layer sizes, inputs first.")
@click.option("--activation", default="sigmoid", show_default=True, metavar="NAME", help="Hidden activation: sigmoid or relu.")
@click.option("--lambda", "lam", default="1.0", show_default=True, metavar="λ", help="L2 regularization λ.")
@click.option("--seed", default="0", show_default=True, metavar="N", help="Seed for the random network and data.")
@click.pass_context
def gradcheck(ctx, layers, activation, lam, seed):
    """Check backpropagation against central differences on a small random network.

    Prints the relative difference ||num - bp|| / ||num + bp||; exits with status 1
    if it is not below 1e-7.
    """
    from ..config import _coerce
    from ..errors import ConfigError
    from ..scratch.network import (
        HIDDEN_ACTIVATIONS,
        check_layer_sizes,
        check_regularization,
        count_weights,
    )
    from ..scratch.run import gradcheck as run_gradcheck

    sizes = check_layer_sizes(_parse_int_list(layers, "--layers", "--layers 4,5,3"))
    try:
        lam_value = _coerce("lambda", lam, float, from_text=True)
        seed_value = _coerce("seed", seed, int, from_text=True)
    except ConfigError as exc:
        raise ConfigError(f"--{exc}") from None
    lam_value = check_regularization(lam_value, "--lambda")
    if seed_value < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed_value}")
    if activation not in HIDDEN_ACTIVATIONS:
        raise ConfigError(f"--activation: {activation!r} is not one of {', '.join(HIDDEN_ACTIVATIONS)}")
    if count_weights(sizes) > 20000:
        raise ConfigError(f"--layers {layers} has too many weights for a numerical check; keep it small, e.g. 4,5,3")
    check = run_gradcheck(sizes, activation, lam_value, seed_value)
    verdict = "OK" if check.passed else "FAILED" if check.finite else "FAILED (a gradient is NaN or infinite)"
    click.echo(
        f"gradient check {'-'.join(map(str, check.layer_sizes))} ({activation}, lambda {lam_value:g}): "
        f"relative difference {check.relative_difference:.3e} "
        f"({'<' if check.passed else '>='} {check.tolerance:g}) {verdict}"
    )
    if not check.passed:
        ctx.exit(1)
