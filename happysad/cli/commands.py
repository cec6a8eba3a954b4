"""The Keras-side commands: download, train, plot, summary, evaluate, predict, ..."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from . import main

DATA_HELP = "A zip or a folder of class folders, or 'synth'. Default: download the dataset."


def _refuse_empty_env(ctx, param, value):
    # click reads an empty HAPPYSAD_DATA as unset, which would download instead.
    if value is None and os.environ.get("HAPPYSAD_DATA") == "":
        raise click.BadParameter("HAPPYSAD_DATA is set but empty; unset it or give a path")
    return value


def _data_option(f):
    return click.option(
        "--data", envvar="HAPPYSAD_DATA", metavar="PATH", show_envvar=True, help=DATA_HELP,
        callback=_refuse_empty_env,
    )(f)


def _config_option(f):
    return click.option(
        "-c", "--config", "config_file", type=click.Path(dir_okay=False), metavar="FILE",
        help="A YAML config (see configs/); options given here override it.",
    )(f)


def _set_option(f):
    return click.option(
        "-s", "--set", "sets", multiple=True, metavar="KEY=VALUE",
        help="Override any config key, e.g. --set conv_filters=[8,16]. Repeatable.",
    )(f)


@main.command(short_help="Fetch, verify, cache and extract the dataset.")
@click.option("--url", default=None, help="Where to fetch the zip (default: the lab's dataset).")
@click.option("--sha256", default=None, metavar="HEX", help="The zip's expected SHA-256.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache folder (default: $HAPPYSAD_CACHE or the user cache).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def download(url, sha256, cache_dir, quiet):
    """Fetch the dataset zip, verify its SHA-256, cache and extract it.

    A verified copy in the cache is reused without touching the network.
    """
    from ..archive import prepare_data
    from ..config import DEFAULT_SHA256, DEFAULT_URL
    from ..download import fetch

    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        raise click.BadParameter("must be 64 hex digits", param_hint="--sha256")
    if url is not None and sha256 is None and url != DEFAULT_URL:
        raise click.UsageError(
            "--url needs --sha256 HEX: the default checksum pins the lab's dataset only "
            "(sha256sum FILE prints a file's)"
        )
    cache = Path(cache_dir) if cache_dir else None
    zip_path = fetch(DEFAULT_URL if url is None else url, (sha256 or DEFAULT_SHA256).lower(), cache,
                     progress=not quiet)
    root = prepare_data(zip_path, cache)
    click.echo(f"zip:    {zip_path}")
    click.echo(f"images: {root}")


@main.command(short_help="Train the lab's network; write a run folder.")
@_config_option
@_data_option
@click.option("--val-data", metavar="PATH", help="A separate validation zip or folder.")
@click.option("--epochs", type=int, help="At most this many epochs.")
@click.option("--batch-size", type=int, help="Images per batch (per replica).")
@click.option("--learning-rate", "--lr", "learning_rate", type=float, help="Optimizer learning rate.")
@click.option("--seed", type=int, help="Seed for the split, shuffling and initial weights.")
@click.option("--val-split", type=float, help="Fraction held out for validation (0: none).")
@click.option("--image-size", type=int, help="Resize images to SIZE x SIZE.")
@click.option("--threshold", type=float, help="Stop once the monitored metric is above this.")
@click.option("--monitor", help="Metric the threshold watches (default accuracy).")
@click.option("--stop-when", metavar="COND", help="Stop on any metric, e.g. 'val_accuracy>=0.95'.")
@click.option("--patience", type=int, help="Early stopping on val_loss after N flat epochs.")
@click.option("--restore-best/--no-restore-best", default=None, help="With --patience: keep the best epoch's weights.")
@click.option("--augment/--no-augment", default=None, help="Random flip/rotation/zoom while training.")
@click.option("--tensorboard/--no-tensorboard", default=None, help="Write TensorBoard logs into the run.")
@click.option("--strategy", type=click.Choice(["default", "mirrored", "multiworker"]), help="tf.distribute strategy.")
@click.option("--jit/--no-jit", "jit_compile", default=None, help="XLA-compile the training step.")
@click.option("--skip-bad-images/--no-skip-bad-images", default=None, help="Skip corrupt images instead of failing.")
@click.option("--runs-dir", type=click.Path(file_okay=False), help="Parent folder of run folders (default runs).")
@click.option("--name", help="Run folder name (default: a timestamp).")
@click.option("--resume", metavar="RUN", type=click.Path(), help="Continue an interrupted run from its last finished epoch.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@_set_option
def train(config_file, sets, resume, quiet, **options):
    """Train the lab's network and write a run folder.

    Reads the config file (if any), applies the options given here, validates the
    result, then trains: the run folder gets the config, history, model, summary and
    metrics. Stops early once training accuracy passes the threshold (0.999).
    """
    from ..config import TrainConfig, load_config
    from ..signals import sigterm_as_ctrl_c
    from ..train import INTERRUPTED, resume_config, train as run_training

    if quiet:
        options["progress"] = "none"
    # From the start, not only in training: checking a resumed run's backup loads Keras.
    with sigterm_as_ctrl_c():
        if resume is not None:
            # What the command line asks for; a value from the environment (HAPPYSAD_DATA)
            # is a default for new runs, and the run has its own.
            ctx = click.get_current_context()
            changed = {k: v for k, v in options.items() if v is not None
                       and ctx.get_parameter_source(k) != click.core.ParameterSource.ENVIRONMENT}
            if config_file or sets:
                raise click.UsageError("--resume takes its config from the run; drop --config/--set")
            config = resume_config(resume, changed)
        else:
            config = load_config(TrainConfig, config_file, options, sets)
        result = run_training(config, resume=resume, echo=click.echo, exit_on_second_signal=True)
    final = ", ".join(f"{k} {v:.4f}" for k, v in result.final.items() if isinstance(v, float))
    if result.status == INTERRUPTED:
        saved = result.metrics.get("resumable_after_epoch") or 0
        click.echo(
            f"Interrupted; {saved} finished epoch{'s' * (saved != 1)} saved. Continue with: "
            f"happysad train --resume {result.run.path}", err=True,
        )
        raise SystemExit(130)
    click.echo(f"Stopped: {result.stop_reason}.")
    kept = result.metrics.get("model_epoch")
    if kept is not None and kept != result.epochs_run:
        click.echo(f"Epochs: {result.epochs_run}; the model keeps epoch {kept}, the best "
                   f"val_loss (--restore-best): {final}")
    else:
        click.echo(f"Epochs: {result.epochs_run}; final {final}")
    if result.chief:
        click.echo(f"Run folder: {result.run.path}")


@main.command(short_help="Draw a run's training/validation curves.")
@click.argument("run", type=click.Path())
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Folder for the PNGs (default: the run folder).")
def plot(run, out):
    """Draw the training and validation curves of RUN as PNG files."""
    from ..plot import plot_run

    for path in plot_run(run, out):
        click.echo(str(path))


@main.command(short_help="Print the model's layer table.")
@click.argument("run", required=False, type=click.Path())
@_config_option
@_set_option
def summary(run, config_file, sets):
    """Print the model's layer table: of the configured model, or of a saved RUN.

    Needs no data and trains nothing.
    """
    from ..summary import summarize

    if run and (config_file or sets):
        raise click.UsageError("give either RUN or --config/--set, not both")
    click.echo(summarize(run, config_file, sets), nl=False)


def _threshold_option(f):
    return click.option(
        "--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5,
        show_default=True, help="Binary models: P(second class) at or above this predicts it.",
    )(f)


@main.command(short_help="Score a run: accuracy, F1, confusion, AUC.")
@click.argument("run", type=click.Path())
@click.option("--data", metavar="PATH", help="Score on this zip/folder (default: the run's held-out images).")
@_threshold_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def evaluate(run, data, threshold, as_json):
    """Score a trained RUN: loss, accuracy, per-class precision/recall/F1, confusion matrix,
    ROC AUC. Writes confusion.png into the run folder.
    """
    from ..evaluate import evaluate_run, format_report

    result = evaluate_run(run, data, threshold)
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result), nl=as_json)


@main.command(short_help="Classify images with a trained run.")
@click.argument("run", type=click.Path())
@click.argument("images", nargs=-1, required=True)
@_threshold_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
def predict(run, images, threshold, fmt, batch_size):
    """Classify IMAGES (files, folders or quoted globs) with a trained RUN.

    Images of any size, RGBA or grayscale, are prepared as in training.
    """
    from ..predict import format_rows, predict as run_predict

    click.echo(format_rows(run_predict(run, list(images), threshold, batch_size), fmt), nl=False)


@main.command(short_help="Export a run's model (checked after export).")
@click.argument("run", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["keras", "saved_model", "tflite"]),
              default="keras", show_default=True)
@click.option("--out", type=click.Path(), help="Where to write (default RUN/export/...); never overwritten.")
def export(run, fmt, out):
    """Export a trained RUN's model, reload it, and check that it gives the same outputs."""
    from ..export import export_run

    result = export_run(run, fmt, out)
    click.echo(f"{result['format']}: {result['path']} (checked on {result['checked_images']} "
               f"images, max difference {result['max_abs_diff']:.1e})")


@main.command("runs", short_help="List run folders with their key metrics.")
@click.option("--runs-dir", type=click.Path(file_okay=False), default="runs", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_runs_command(runs_dir, as_json):
    """List the run folders with their key metrics, oldest first."""
    from ..errors import RunError
    from ..runs import summarize_runs

    if not Path(runs_dir).is_dir():
        raise RunError(f"runs folder {runs_dir} not found; train a run first or pass --runs-dir")
    rows = summarize_runs(Path(runs_dir))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no runs in {runs_dir}")
        return
    width = max(3, *(len(r["run"]) for r in rows))

    def num(v):
        return f"{v:.4f}" if isinstance(v, (int, float)) else "-"

    click.echo(f"{'run':<{width}}  {'status':<11} {'epochs':>6} {'acc':>7} {'val_acc':>7}  stop reason")
    for r in rows:
        click.echo(f"{r['run']:<{width}}  {r['status']:<11} {r['epochs'] if r['epochs'] is not None else '-':>6} "
                   f"{num(r['accuracy']):>7} {num(r['val_accuracy']):>7}  {r['stop_reason']}")


@main.command(short_help="Versions and the devices TensorFlow sees.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def env(as_json):
    """Versions of Python, TensorFlow and Keras, and the devices TensorFlow sees."""
    from ..envinfo import environment, format_environment

    info = environment()
    click.echo(json.dumps(info, indent=2) if as_json else format_environment(info), nl=as_json)
