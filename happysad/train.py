"""Wire data, model and callbacks; fit; write the run folder. Knows nothing of click.

``train(config)`` is the whole job; ``resume(run_path)`` continues an interrupted one
from its last finished epoch, with history files that continue rather than restart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .backend import load_keras
from .config import TrainConfig, build_config, parse_stop_when, save_config
from .errors import ConfigError, DataError, RunError, TrainingError
from .files import replaced_whole
from .runs import RunFolder, check_writable, create_run_dir, name_taken
from .signals import sigterm_as_ctrl_c, signals_held

Echo = Callable[[str], None]

# Stop reasons recorded in metrics.json.
FINISHED = "finished"
INTERRUPTED = "interrupted"
FAILED = "failed"


@dataclass
class TrainResult:
    """What a training run produced; everything here is also in the run folder."""

    run: RunFolder
    status: str  # finished | interrupted | failed
    stop_reason: str
    epochs_run: int
    final: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    chief: bool = True  # False on a non-chief worker, whose folder was scratch only


def library_versions() -> dict[str, str]:
    import keras
    import numpy
    import tensorflow as tf

    return {
        "happysad": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def available_metrics(has_validation: bool) -> list[str]:
    names = ["loss", "accuracy"]
    return names + [f"val_{n}" for n in names] if has_validation else names


def check_stop_metrics(config: TrainConfig, has_validation: bool) -> None:
    """Fail before training when a stop condition names a metric that will not exist."""
    known = available_metrics(has_validation)
    wanted = []
    if config.threshold is not None:
        wanted.append(("monitor", config.monitor))
    if config.stop_when:
        wanted.append(("stop_when", parse_stop_when(config.stop_when)[0]))
    if config.patience is not None:
        wanted.append(("patience (early stopping watches)", "val_loss"))
    for key, metric in wanted:
        if metric not in known:
            hint = "" if has_validation or not metric.startswith("val_") else (
                " (there is no validation data: set val_split > 0 or pass --val-data)"
            )
            raise ConfigError(
                f"{key}: metric {metric!r} is not logged; training logs {', '.join(known)}{hint}"
            )


def _load(config: TrainConfig, echo: Echo, progress: bool):
    """Images for training and validation, and where they came from."""
    from .data import fingerprint, locate_data
    from .dataset import stratified_split
    from .images import load_images

    source = locate_data(config.data, config.url, config.sha256, progress=progress)
    images = load_images(source, config.image_size, "rgb", skip_bad=config.skip_bad_images)
    if config.val_data:
        val_source = locate_data(config.val_data, config.url, config.sha256, progress=progress)
        val = load_images(val_source, config.image_size, "rgb", skip_bad=config.skip_bad_images)
        if val.class_names != images.class_names:
            raise DataError(
                f"validation classes {val.class_names} differ from training classes "
                f"{images.class_names}; use the same class folder names in both"
            )
        train = images
    elif config.val_split > 0:
        train_idx, val_idx = stratified_split(images.y, config.val_split, config.seed,
                                              images.class_names)
        train, val = images.subset(train_idx), images.subset(val_idx)
    else:
        train, val = images, None
    info = {
        "data": str(source),
        "data_sha256": fingerprint(Path(source)),
        "class_names": images.class_names,
        "class_counts": images.counts(),
        "train_images": len(train),
        "val_images": len(val) if val is not None else 0,
        "skipped_corrupt_images": images.skipped_bad,
        "skipped_non_image_files": images.skipped_other,
    }
    return train, val, info


def _verbosity(config: TrainConfig) -> int:
    if config.progress == "none":
        return 0
    if config.progress == "bar" or (config.progress == "auto" and sys.stdout.isatty()):
        return 1
    return 2  # one line per epoch: logs and CI


def train(config: TrainConfig, *, resume: str | os.PathLike | None = None,
          echo: Echo = print, callbacks: list | None = None,
          exit_on_second_signal: bool = False) -> TrainResult:
    """Train the configured network and write a run folder.

    Args:
        config: the resolved, validated config (ignored fields: none). With ``resume``,
            pass the config saved in that run (see ``resume_config``).
        resume: an interrupted run folder to continue from its last finished epoch.
        echo: where progress lines go (``print`` by default; the CLI passes click.echo).
        callbacks: extra Keras callbacks, run after ours.
        exit_on_second_signal: a second Ctrl-C/SIGTERM during training ends the process
            at once (exit 130; see ``callbacks.SafeInterrupt``); the command line sets it.

    Returns:
        A TrainResult; an interrupted run returns status ``interrupted``.

    Raises:
        TrainingError: the loss became NaN or infinite (the run folder says at which epoch).
        KeyboardInterrupt: Ctrl-C or SIGTERM before training began (a new run's folder is
            removed again).
    """
    with sigterm_as_ctrl_c():  # before fit: a stopped job ends as Ctrl-C ends it, cleaned up
        return _train(config, resume, echo, callbacks, exit_on_second_signal)


def _train(config: TrainConfig, resume, echo: Echo, callbacks: list | None,
           exit_on_second_signal: bool) -> TrainResult:
    started = time.time()
    progress = config.progress != "none"
    # Data paths as absolute ones, so the saved config finds the data from any folder.
    config = dataclasses.replace(config, data=_absolute(config.data),
                                 val_data=_absolute(config.val_data))

    # Everything that can be checked without TensorFlow is checked before it loads.
    _check_memory(config)
    runs_dir = Path(config.runs_dir)
    if resume is None:
        check_writable(runs_dir, keep=False)  # bad data later must leave no empty folder
        if config.name is not None and (runs_dir / config.name).exists():
            raise name_taken(runs_dir / config.name)
    if config.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise ConfigError("tensorboard: true needs the tensorboard package: pip install tensorboard")
    train_set, val_set, info = _load(config, echo, progress)
    if resume is not None:
        _check_same_data(RunFolder(resume), info)
    check_stop_metrics(config, val_set is not None)

    keras = load_keras()
    import tensorflow as tf

    from .distribute import make_placement

    placement = make_placement(config.strategy)

    if config.speedups:
        from .speed import keep_freed_memory

        keep_freed_memory()
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()

    # The run folder: new, or the one being resumed. Only the chief writes a real one.
    if resume is not None:
        run = RunFolder(resume)
    elif placement.is_chief:
        run = RunFolder(create_run_dir(runs_dir, config.name))
    else:
        import tempfile

        run = RunFolder(tempfile.mkdtemp(prefix=f"happysad-worker{placement.worker_index}-"))
    try:
        return _fit(config, run, placement, train_set, val_set, info, resume=resume,
                    echo=echo, callbacks=callbacks, started=started,
                    exit_on_second_signal=exit_on_second_signal)
    except BaseException:
        # A new run stopped or failed before it recorded anything (no metrics.json: an
        # interrupted fit records one) is no run: leave no folder of config and summary.
        if resume is None and placement.is_chief and not run.metrics_path.exists():
            _remove_tree(run.path)
        raise
    finally:
        if not placement.is_chief:
            _remove_tree(run.path)  # a worker's scratch copy; the chief's folder is the run


def _fit(config: TrainConfig, run: RunFolder, placement, train_set, val_set, info: dict, *,
         resume, echo: Echo, callbacks: list | None, started: float,
         exit_on_second_signal: bool = False) -> TrainResult:
    """Build the model, restore a resumed run's state, fit, and record the outcome."""
    import keras

    from .callbacks import (EpochBackup, EpochTimer, HistoryWriter, ResumableEarlyStopping,
                            SafeInterrupt, StopOnNonFinite, ThresholdStop)
    from .dataset import evaluation_batches, training_batches
    from .model import summary_text

    interrupt = SafeInterrupt(exit_on_second=exit_on_second_signal,
                              run_path=run.path if placement.is_chief else None)
    # From here to the end Ctrl-C and SIGTERM never raise inside TensorFlow: `interrupt`
    # notes them until fit ends (fit acts on them between steps; while the model is set
    # up, training stops before it begins), then they are ignored: the run folder is
    # completed, or made resumable, in about a second whatever arrives.
    with signals_held(), contextlib.ExitStack() as noting:
        noting.enter_context(interrupt)
        progress = config.progress != "none"
        global_batch = config.batch_size * placement.replicas
        num_classes = len(info["class_names"])
        steps = config.steps_per_epoch or math.ceil(len(train_set) / global_batch)
        model = build_model(config, num_classes, placement, steps)
        run.summary_path.write_text(summary_text(model), encoding="utf-8")

        early = None
        if config.patience is not None:
            early = ResumableEarlyStopping(
                "val_loss", patience=config.patience, restore_best_weights=config.restore_best,
                verbose=int(progress),
            )

        first_epoch, rows = 0, []
        if resume is not None:
            for stale in run.path.glob(".tmp-*"):  # a model save cut short by a kill
                stale.unlink(missing_ok=True)
            first_epoch, rows = _resume_point(run, config)
            if first_epoch:
                EpochBackup.restore(model, EpochBackup.latest(run.backup_dir)[1], early)
        # Saved only once every check has passed: a refused resume leaves the run as it was.
        # A resumed run may have been given more epochs: its config.yaml says so from now on.
        save_config(config, run.config_path)

        mapping = ", ".join(f"{name} -> {i}" for i, name in enumerate(info["class_names"]))
        if placement.is_chief:
            echo(f"Run folder: {run.path}")
        else:
            echo(f"Worker {placement.worker_index} of {placement.workers}: the chief writes the run folder")
        echo(f"Classes: {mapping}")
        echo(f"Images: {info['train_images']} for training, {info['val_images']} for validation")
        if resume is not None:
            echo(f"Resuming after epoch {first_epoch}" if first_epoch else
                 "No backup was saved before the interruption: starting from epoch 1")

        batches = training_batches(
            train_set, global_batch, config.seed, first_epoch, config.epochs,
            config.steps_per_epoch, augment=config.augment,
        )
        validation = evaluation_batches(val_set, global_batch) if val_set is not None else None
        if placement.name == "multiworker":
            _work_around_multiworker_build(model, batches.dataset)

        timer = EpochTimer()
        non_finite = StopOnNonFinite()
        stops: list[ThresholdStop] = []
        if config.threshold is not None:
            stops.append(ThresholdStop(config.monitor, config.threshold, ">", verbose=False))
        if config.stop_when:
            metric, op, value = parse_stop_when(config.stop_when)
            stops.append(ThresholdStop(metric, value, op, verbose=False))
        extra = list(callbacks or [])
        fit_callbacks = [interrupt, timer, non_finite, *stops]
        if early is not None:
            fit_callbacks.append(early)
        # History before backup: a kill between the two leaves one history row too many,
        # which resume drops, never one too few.
        history_writer = HistoryWriter(run, rows, timer)
        fit_callbacks.append(history_writer)
        backup = EpochBackup(run.backup_dir, config.backup_interval, early_stopping=early)
        fit_callbacks.append(backup)
        if config.tensorboard:
            fit_callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.path / "tensorboard")))
        fit_callbacks.extend(extra)

        status = FINISHED
        reason = f"reached the maximum of {config.epochs} epoch{'s' * (config.epochs != 1)}"
        interrupt.raise_if_requested()  # a signal while setting up: stop before any epoch
        try:
            if first_epoch >= config.epochs:
                # Interrupted after its last epoch, before its model was saved: finish it.
                echo("All epochs were trained before the interruption: saving the model")
                if early is not None:  # what fit's end would do: put the best epoch back
                    early.set_model(model)
                    early.on_train_begin()  # takes the backup's state
                    early.on_train_end()
            else:
                model.fit(
                    batches.dataset,
                    epochs=config.epochs,
                    initial_epoch=first_epoch,
                    steps_per_epoch=batches.steps_per_epoch,
                    validation_data=validation,
                    shuffle=False,  # the stream is already shuffled, per epoch, by seed
                    callbacks=fit_callbacks,
                    verbose=_verbosity(config),
                )
        except KeyboardInterrupt:
            by = {"SIGINT": "Ctrl-C", None: "Ctrl-C or SIGTERM"}.get(interrupt.signal_name,
                                                                      interrupt.signal_name)
            status, reason = INTERRUPTED, f"interrupted ({by})"
        finally:
            noting.close()  # signals are ignored from here on
            backup.wait()  # the last finished epoch's backup, on disk before we report it
        history_rows = history_writer.rows
        epochs_run = history_rows[-1]["epoch"] if history_rows else first_epoch
        if status == INTERRUPTED:
            # History, backup and the resume point all name the last finished epoch, even if
            # Ctrl-C landed between its history row and its backup.
            backup.flush(epochs_run)
            if history_rows:
                run.write_history(history_rows)

        if non_finite.stopped_epoch is not None:
            status = FAILED
            reason = f"loss became NaN or infinite in epoch {non_finite.stopped_epoch}"
        elif status == FINISHED:
            fired = [s for s in stops if s.stopped_epoch is not None]
            if fired:
                reason = f"{fired[0].reason} at epoch {fired[0].stopped_epoch}"
            elif early is not None and early.stopped_epoch:
                reason = f"early stopping: val_loss did not improve for {config.patience} epochs"

        # The saved model's epoch: the last, unless early stopping put the best one back
        # (Keras restores it at the end of training whenever restore_best_weights is set).
        restored_epoch = None
        if (status == FINISHED and early is not None and config.restore_best
                and early.best_weights is not None):
            restored_epoch = early.best_epoch + 1
        final_row = next((r for r in history_rows if r["epoch"] == restored_epoch),
                         history_rows[-1] if history_rows else {})
        final = {k: v for k, v in final_row.items() if k not in ("epoch", "seconds")}
        seconds = [r.get("seconds") for r in history_rows if r.get("seconds") is not None]
        metrics = {
            "status": status,
            "stop_reason": reason,
            "epochs_run": epochs_run,
            "max_epochs": config.epochs,
            "final": final,
            "model_epoch": final_row.get("epoch"),  # the epoch whose weights model.keras holds
            "best_val_accuracy": max(
                (r["val_accuracy"] for r in history_rows if r.get("val_accuracy") is not None),
                default=None,
            ),
            **info,
            "seed": config.seed,
            "params": model.count_params(),
            "strategy": placement.name,
            "replicas": placement.replicas,
            "global_batch_size": global_batch,
            "seconds_per_epoch": seconds,
            "resumable_after_epoch": EpochBackup.latest(run.backup_dir)[0] if status == INTERRUPTED else None,
            "wall_time_s": round(time.time() - started, 3),
            "versions": library_versions(),
        }
        if status == FINISHED:
            # Whole or absent, never half-written: a kill here leaves the backup to resume.
            with replaced_whole(run.model_path) as partial:
                model.save(partial)
            _remove_tree(run.backup_dir)
        run.write_metrics(metrics)

    if status == FAILED:
        raise TrainingError(
            f"{reason}; training stopped. The run folder {run.path} keeps the history so far: "
            "lower the learning rate and train again"
        )
    return TrainResult(run, status, reason, epochs_run, final, metrics, placement.is_chief)


# Steps per graph call at most: Ctrl-C is acted on when a call returns, so this bounds the wait.
MAX_STEPS_PER_CALL = 32


def steps_per_call(steps_per_epoch: int) -> int:
    """The most steps, up to ``MAX_STEPS_PER_CALL``, that divide an epoch evenly.

    Evenly, because Keras runs every call's full count: a last, shorter call of an epoch
    would take batches from the next one. The lab's 7 steps an epoch run in one call.
    """
    return max(n for n in range(1, min(steps_per_epoch, MAX_STEPS_PER_CALL) + 1)
               if steps_per_epoch % n == 0)


def build_model(config: TrainConfig, num_classes: int, placement=None, steps_per_epoch: int = 1):
    """The compiled model exactly as ``train`` builds it, speed-ups included.

    With ``speedups``, an epoch's steps run up to ``MAX_STEPS_PER_CALL`` at a time in one
    call into the compiled graph (Keras's ``steps_per_execution``): the same steps, less
    per-step Python overhead (see ``steps_per_call``).
    """
    from .model import make_model

    if placement is None:
        from .distribute import make_placement

        placement = make_placement("default")
    # Several steps per call fail under tf.distribute strategies in Keras 3; one device only.
    per_call = steps_per_call(steps_per_epoch) if config.speedups and placement.name == "default" else 1
    with placement.strategy.scope():
        model = make_model(config, num_classes, steps_per_execution=per_call)
    if config.speedups and placement.name == "default" and not config.jit_compile:
        from .speed import fast_dense_input_gradient, fuse_rmsprop

        fuse_rmsprop(model.optimizer)
        fast_dense_input_gradient(model)
    return model


def _work_around_multiworker_build(model, dataset) -> None:
    """Let Keras 3's ``fit`` run under MultiWorkerMirroredStrategy (keras-team/keras#20585).

    Two spots in Keras 3's TensorFlow trainer fail across workers, and only there:
    ``fit`` builds the metrics from a first batch that it averages across replicas
    eagerly, and it averages each step's scalar logs with ``reduce(axis=0)``, which a
    scalar has no axis for. Build from one plain batch, and average scalars with
    ``axis=None``. Gradients, the optimizer and the data are untouched.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    sample = next(iter(dataset))

    def build(iterator=None, data_batch=None):
        with model.distribute_strategy.scope():
            model._symbolic_build(data_batch=sample)

    model._maybe_symbolic_build = build

    original = getattr(tf_trainer.reduce_per_replica, "__wrapped__", tf_trainer.reduce_per_replica)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.__wrapped__ = original
    tf_trainer.reduce_per_replica = reduce_per_replica


def _same_setting(key: str, value, saved) -> bool:
    """Whether ``value`` given on resume is the setting the run saved."""
    if key in ("data", "val_data") and isinstance(value, str) and isinstance(saved, str):
        return _absolute(value) == _absolute(saved)
    return type(value) is type(saved) and value == saved


def _absolute(data: str | None) -> str | None:
    """A data path made absolute; None (download) and 'synth' stay as they are."""
    from .data import SYNTH

    if data is None or data == SYNTH or not data.strip():
        return data
    return str(Path(data).expanduser().absolute())


def _check_memory(config: TrainConfig) -> None:
    """Refuse a network whose training step cannot fit in this machine's memory at all,
    before it is killed by the system (or crashes) with no message."""
    from .config import physical_memory_bytes, training_memory_bytes

    need, have = training_memory_bytes(config), physical_memory_bytes()
    if have is not None and need > have:
        raise ConfigError(
            f"training this network needs at least {need / 2**30:.1f} GiB per step, more than "
            f"this machine's {have / 2**30:.1f} GiB; lower image_size, batch_size or conv_filters"
        )


def _resume_point(run: RunFolder, config: TrainConfig) -> tuple[int, list[dict]]:
    """The last finished epoch an interrupted run can continue from, and the history rows
    up to it; RunError if none fits.

    History rows after the last backup (a SIGKILL between two backups) are trained again.
    A run whose recorded backup is gone (backup/ deleted), or that finished (it has its
    model), is refused: starting again would overwrite the epochs it has.
    """
    from .callbacks import EpochBackup

    if run.model_path.exists():
        raise RunError(f"run {run.path} already finished (it has {run.model_path.name}); "
                       "start a new run instead")
    first_epoch, _ = EpochBackup.latest(run.backup_dir)
    try:
        saved = run.metrics().get("resumable_after_epoch") if run.metrics_path.is_file() else None
    except RunError:
        saved = None
    if isinstance(saved, int) and first_epoch < saved:
        raise RunError(f"run {run.path} saved epoch {saved} in {run.backup_dir.name}/, but that "
                       "backup is gone, so it cannot be resumed; start a new run")
    if first_epoch > config.epochs:
        raise RunError(f"run {run.path} already trained {first_epoch} epochs, more than "
                       f"{config.epochs}; resume with --epochs N, N of {first_epoch} or more")
    # The history the resumed run continues must be whole.
    return first_epoch, _history_up_to(run, first_epoch) if first_epoch else []


def _check_same_data(run: RunFolder, info: dict) -> None:
    """DataError if the data differs from what the run trained on so far.

    Compared with the SHA-256 its ``metrics.json`` recorded when it was interrupted (a run
    killed outright has none: then nothing can be compared).
    """
    recorded = run.metrics().get("data_sha256") if run.metrics_path.is_file() else None
    if recorded is not None and recorded != info["data_sha256"]:
        raise DataError(
            f"the data at {info['data']} changed since run {run.path} began training; its "
            "remaining epochs would train on other images (and another split): put the data "
            "back as it was, or start a new run"
        )


def _history_up_to(run: RunFolder, epoch: int) -> list[dict]:
    """The history rows of epochs 1 to ``epoch``; RunError unless the history holds them all.

    History is written before each backup, so it always reaches the backup's epoch (rows
    after it, from a kill between two backups, are dropped: those epochs are trained again).
    Fewer rows mean a damaged run folder, whose resumed history would have a gap.
    """
    for path in (run.history_json, run.history_csv):
        if (path.exists() or path.is_symlink()) and not path.is_file():
            raise RunError(f"{path} is not a regular file; the run folder is damaged, so it "
                           "cannot be resumed")
    try:
        rows = run.history_rows()
    except RunError as exc:
        raise RunError(f"cannot resume {run.path}: {exc}") from None
    kept = [r for r in rows if r["epoch"] <= epoch]
    if [r["epoch"] for r in kept] != list(range(1, epoch + 1)):
        raise RunError(
            f"cannot resume {run.path}: its backup holds epoch {epoch} but its history has "
            f"{len(kept)} of epochs 1 to {epoch}; the run folder is damaged"
        )
    return kept


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def resume_config(run_path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config an interrupted run was started with, for ``train(..., resume=run)``.

    Only ``epochs`` and ``progress`` may be changed on resume: anything else would make
    the continued run a different experiment from the one its history records.
    """
    run = RunFolder(run_path)
    if run.path.exists() and not run.path.is_dir():
        raise RunError(f"{run.path} is a file, not a run folder; pass the run's folder")
    if not run.path.is_dir():
        raise RunError(f"run folder {run.path} not found; nothing to resume")
    if not run.config_path.is_file():
        raise RunError(f"{run.path} has no {run.config_path.name}: it is not a run folder")
    if run.metrics_path.is_file():
        status = run.metrics().get("status")
        if status == FINISHED:
            raise RunError(f"run {run.path} already finished; start a new run instead")
        if status == FAILED:
            raise RunError(
                f"run {run.path} failed ({run.metrics().get('stop_reason')}); its weights are "
                "not usable: start a new run, e.g. with a lower learning rate"
            )
    values = run.config_dict()
    allowed = {"epochs", "progress"}
    for key, value in (overrides or {}).items():
        if value is None or _same_setting(key, value, values.get(key)):
            continue  # repeating a saved value changes nothing
        if key not in allowed:
            raise ConfigError(
                f"cannot change {key!r} when resuming (only {', '.join(sorted(allowed))}); "
                "start a new run to change it"
            )
        values[key] = value
    try:
        config = build_config(TrainConfig, values, source=str(run.config_path))
    except ConfigError as exc:
        raise RunError(f"cannot resume {run.path}: {exc}") from None
    _resume_point(run, config)  # refuse now, before anything loads or is written
    return config
