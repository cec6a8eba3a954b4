"""Our own small Keras callbacks, written the way Keras writes its own.

- ``ThresholdStop``: stop once a logged metric crosses a value (the lab's 99.9% stop).
- ``StopOnNonFinite``: stop at once on a NaN/inf loss and record the epoch.
- ``HistoryWriter``: write history.csv/json after every epoch, so an interrupted run keeps
  what it learned and a resumed one continues the same files.
- ``EpochBackup``: keep the weights and optimizer state of the last finished epoch,
  written atomically, so that a run killed at any moment resumes from it.
- ``EpochTimer``: wall seconds per epoch, for metrics.json and the benchmark.

Keras is imported when this module is, so only training code imports it.
"""

from __future__ import annotations

import math
import operator
import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from .backend import load_keras
from .errors import ConfigError, RunError

keras = load_keras()

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


class MetricNotFoundError(ConfigError):
    """A stop condition names a metric that training does not log."""


class ThresholdStop(keras.callbacks.Callback):
    """Stop training once a logged metric crosses a threshold.

    The lab stopped once training accuracy passed 99.9%; this is that callback, for any
    metric and comparison. A metric missing from the logs is an error naming the metrics
    that are there, never a callback that silently never fires (the lab's
    ``logs['acc']`` bug).

    Args:
        monitor: the metric to watch, as Keras logs it (``"accuracy"``, ``"val_loss"``).
        threshold: the value to cross.
        op: one of ``">"``, ``">="``, ``"<"``, ``"<="``; training stops when
            ``logs[monitor] op threshold``.
        verbose: print one line when it stops.

    Attributes:
        stopped_epoch: the 1-based epoch it stopped after, or None.
        reason: a one-line description of why it stopped, or None.

    Example:
        >>> stop = ThresholdStop("accuracy", 0.999)
        >>> model.fit(ds, epochs=15, callbacks=[stop])     # doctest: +SKIP
        >>> stop.stopped_epoch                              # doctest: +SKIP
        7
    """

    def __init__(self, monitor: str = "accuracy", threshold: float = 0.999, op: str = ">",
                 verbose: bool = True):
        super().__init__()
        if op not in _OPS:
            raise ValueError(f"op must be one of {', '.join(_OPS)}, got {op!r}")
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must name a metric, got {monitor!r}")
        if not math.isfinite(float(threshold)):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        self.monitor = monitor
        self.threshold = float(threshold)
        self.op = op
        self.verbose = verbose
        self.stopped_epoch: int | None = None
        self.reason: str | None = None

    @property
    def condition(self) -> str:
        return f"{self.monitor} {self.op} {self.threshold:g}"

    def on_train_begin(self, logs=None):
        self.stopped_epoch = None
        self.reason = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise MetricNotFoundError(
                f"cannot stop on {self.monitor!r}: training logs only "
                f"{', '.join(sorted(logs)) or 'nothing'}"
            )
        value = float(logs[self.monitor])
        if _OPS[self.op](value, self.threshold):
            self.stopped_epoch = epoch + 1
            self.reason = f"{self.monitor} {value:.4f} {self.op} {self.threshold:g}"
            self.model.stop_training = True
            if self.verbose:
                print(f"Reached {self.reason} at epoch {epoch + 1}: stopping training.",
                      flush=True)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at once when the loss becomes NaN or infinite.

    Keras's ``TerminateOnNaN`` stops too, but does not say at which epoch; this one
    records it so the run folder can.

    Attributes:
        stopped_epoch: the 1-based epoch in which the loss went non-finite, or None.
    """

    def __init__(self):
        super().__init__()
        self.stopped_epoch: int | None = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.stopped_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.stopped_epoch = self._epoch + 1
            self.model.stop_training = True


class HistoryWriter(keras.callbacks.Callback):
    """Write the per-epoch history to the run folder after every epoch.

    Args:
        run: a ``happysad.runs.RunFolder``.
        rows: epochs already recorded (a resumed run continues them).
        timer: an optional ``EpochTimer`` whose last epoch time goes in each row.
    """

    def __init__(self, run, rows: list[dict] | None = None, timer: "EpochTimer | None" = None):
        super().__init__()
        self.run = run
        self.rows = list(rows or [])
        self.timer = timer

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items() if _is_number(v)})
        if self.timer is not None and self.timer.seconds:
            row["seconds"] = round(self.timer.seconds[-1], 4)
        self.rows.append(row)
        self.run.write_history(self.rows)


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch (``seconds``, in order)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


_BACKUP_NAME = re.compile(r"^epoch-(\d+)\.npz$")


class EpochBackup(keras.callbacks.Callback):
    """Keep the state of the last finished epoch, for resuming.

    The state is every model weight and every optimizer variable (step count, RMSprop's
    moving averages), copied at the end of the epoch and written by a background thread
    while the next epoch trains: a 76 MB backup of the lab's network would otherwise
    stall each epoch by about 0.2 s. Each backup is one file named by its epoch, written
    under a temporary name and renamed into place, so whatever moment the process dies
    at, the newest complete file is a consistent state. (Keras's ``BackupAndRestore``
    writes weights and epoch number as two files, which a kill between them leaves out
    of step, and it writes them in the training loop.)

    Args:
        backup_dir: the folder for the backups (created if missing).
        keep: how many of the newest backups to keep.

    Example:
        >>> backup = EpochBackup("runs/x/backup")
        >>> model.fit(ds, epochs=15, callbacks=[backup])      # doctest: +SKIP
        >>> epoch, path = EpochBackup.latest("runs/x/backup")  # doctest: +SKIP
        >>> EpochBackup.restore(model, path)                   # doctest: +SKIP
    """

    def __init__(self, backup_dir: str | os.PathLike, keep: int = 1):
        super().__init__()
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.backup_dir = Path(backup_dir)
        self.keep = keep
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None

    def on_train_begin(self, logs=None):
        self._writer, self._error = None, None
        # A backup cut short by a kill is only ever a temporary file: clear it away.
        if self.backup_dir.is_dir():
            for stale in self.backup_dir.glob(".tmp-*"):
                stale.unlink(missing_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        state = [v.numpy() for v in _state_variables(self.model)]  # a copy: training moves on
        self.wait()
        self._writer = threading.Thread(target=self._write, args=(epoch + 1, state),
                                        name="happysad-backup")
        self._writer.start()

    def on_train_end(self, logs=None):
        self.wait()

    def wait(self) -> None:
        """Block until the last backup is on disk; re-raise a failure to write it."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self, epoch: int, state: list) -> None:
        try:
            self.backup_dir.mkdir(parents=True, exist_ok=True)
            final = self.backup_dir / f"epoch-{epoch:04d}.npz"
            tmp = self.backup_dir / f".tmp-{os.getpid()}-{final.name}"
            with open(tmp, "wb") as f:
                np.savez(f, *state)
            os.replace(tmp, final)
            for _, old in backups(self.backup_dir)[: -self.keep]:
                old.unlink(missing_ok=True)
        except BaseException as exc:  # reported to the training thread by wait()
            self._error = exc

    @staticmethod
    def latest(backup_dir: str | os.PathLike) -> tuple[int, Path | None]:
        """The newest complete backup as (epoch, path), or (0, None) if there is none."""
        found = backups(Path(backup_dir))
        return found[-1] if found else (0, None)

    @staticmethod
    def restore(model, path: str | os.PathLike) -> None:
        """Load a backup into a model compiled as the one that wrote it."""
        model.optimizer.build(model.trainable_variables)
        variables = _state_variables(model)
        with np.load(path) as data:
            state = [data[f"arr_{i}"] for i in range(len(data.files))]
        if len(state) != len(variables) or any(
            tuple(a.shape) != tuple(v.shape) for a, v in zip(state, variables)
        ):
            raise RunError(f"backup {path} does not fit this model; start a new run")
        for variable, value in zip(variables, state):
            variable.assign(value)


def _state_variables(model) -> list:
    return list(model.weights) + list(model.optimizer.variables)


def backups(backup_dir: Path) -> list[tuple[int, Path]]:
    """Complete backups in ``backup_dir`` as (epoch, path), oldest first."""
    if not backup_dir.is_dir():
        return []
    found = []
    for path in backup_dir.iterdir():
        match = _BACKUP_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)
