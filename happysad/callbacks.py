"""Our own small Keras callbacks, written the way Keras writes its own.

- ``ThresholdStop``: stop once a logged metric crosses a value (the lab's 99.9% stop).
- ``StopOnNonFinite``: stop at once on a NaN/inf loss and record the epoch.
- ``HistoryWriter``: write history.csv/json after every epoch, so an interrupted run keeps
  what it learned and a resumed one continues the same files.
- ``EpochBackup``: keep the weights and optimizer state of the last finished epoch,
  written so that a run killed at any moment resumes from it.
- ``EpochTimer``: wall seconds per epoch, for metrics.json and the benchmark.
- ``SafeInterrupt``: act on Ctrl-C and SIGTERM between steps, never inside TensorFlow.
- ``ResumableEarlyStopping``: Keras's early stopping, with a state that backups carry.

Keras is imported when this module is, so only training code imports it.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import os
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from .backend import load_keras
from .errors import ConfigError, RunError
from .signals import InterruptRequest, exit_now

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


class SafeInterrupt(keras.callbacks.Callback):
    """Turn Ctrl-C and SIGTERM into a KeyboardInterrupt raised between training steps.

    Inside its ``with`` block the signals are only noted (see ``signals.InterruptRequest``);
    this callback raises the KeyboardInterrupt at the next step boundary, from its own code,
    so it never surfaces inside TensorFlow's. A block entered before ``fit`` (while the
    model is set up) calls ``raise_if_requested`` just before it. A model that runs several
    steps per call (``steps_per_execution``) reaches a boundary when the call returns. A
    signal during an epoch's last call, or its validation, lets that epoch finish (its
    history row and backup are written) and stops before the next one begins: the epoch
    just trained is kept (and if it was the last, training ends as it would have). A
    second signal stops as soon as Python runs again.

    Args:
        exit_on_second: on a second signal end the process at once (exit 130, as a SIGKILL
            would end it: resumable from the last backup on disk) rather than raise
            KeyboardInterrupt wherever the program is. For a command line, not a notebook.
        run_path: the run folder its message tells the user to resume.

    Example:
        >>> interrupt = SafeInterrupt()
        >>> with interrupt:                                          # doctest: +SKIP
        ...     model.fit(ds, epochs=15, callbacks=[interrupt, backup])
    """

    def __init__(self, exit_on_second: bool = False, run_path: str | os.PathLike | None = None):
        super().__init__()
        on_second = functools.partial(exit_now, run_path=run_path) if exit_on_second else None
        self._request = InterruptRequest(when=self._when, on_second=on_second)

    def _when(self) -> str:
        if self.params is None:  # not in fit yet: the model is being set up
            return "before training begins"
        steps = self.params.get("steps")
        per_call = getattr(self.model, "steps_per_execution", 1) or 1
        if steps and per_call >= steps:
            return "when this epoch ends (its steps run in one call)"
        return "after the current step" if per_call == 1 else f"after the current {per_call} steps"

    def __enter__(self):
        self._request.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._request.__exit__(*exc_info)

    @property
    def signal_name(self) -> str | None:
        """The signal that asked training to stop, or None."""
        return self._request.signal_name

    def raise_if_requested(self) -> None:
        """Raise KeyboardInterrupt if a signal arrived since the block began."""
        self._request.raise_if_requested()

    def on_epoch_begin(self, epoch, logs=None):
        self._request.raise_if_requested()

    def on_train_batch_end(self, batch, logs=None):
        # ``batch`` is the last step of the call (a call can run several: steps_per_execution).
        steps = self.params.get("steps") if self.params else None
        if steps is None or batch + 1 < steps:
            self._request.raise_if_requested()


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's ``EarlyStopping``, whose state an epoch backup can carry across a resume.

    Keras resets early stopping at the start of every ``fit``: a resumed run would count
    its flat epochs from zero again and forget its best epoch (and, with
    ``restore_best_weights``, that epoch's weights), so it could stop later than the run
    it continues, or keep other weights. ``EpochBackup`` saves ``state()`` with each epoch
    and gives it back through ``resume_with``; the next ``fit`` starts from it.

    Args: those of ``keras.callbacks.EarlyStopping``.

    Example:
        >>> early = ResumableEarlyStopping("val_loss", patience=3)
        >>> backup = EpochBackup("runs/x/backup", early_stopping=early)
        >>> EpochBackup.restore(model, manifest, early_stopping=early)  # doctest: +SKIP
        >>> model.fit(ds, epochs=15, initial_epoch=5, callbacks=[early, backup])  # doctest: +SKIP
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._resume_state: tuple[dict, list] | None = None

    def state(self) -> tuple[dict, list]:
        """(``wait``, ``best`` and ``best_epoch`` as a dict, the best weights or [])."""
        best = None if self.best is None else float(self.best)
        info = {"wait": int(self.wait), "best": best, "best_epoch": int(self.best_epoch)}
        return info, list(self.best_weights or [])

    def resume_with(self, info: dict, best_weights: list) -> None:
        """Start the next ``fit`` from this state (as ``state()`` returned it)."""
        self._resume_state = (dict(info), list(best_weights))

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._resume_state is not None:
            info, best_weights = self._resume_state
            self.wait, self.best, self.best_epoch = info["wait"], info["best"], info["best_epoch"]
            self.best_weights = best_weights or None


class EpochBackup(keras.callbacks.Callback):
    """Keep the state of the last finished epoch, for resuming.

    The state is every model weight and every optimizer variable (step count, RMSprop's
    moving averages). At the end of each epoch it is snapshotted and written by a
    background thread while the next epoch trains. The backup folder holds two state
    files used in turn and a small manifest, ``latest.json``, that names the one holding
    the newest complete epoch::

        state-0.bin, state-1.bin   raw bytes of every array, in order
        latest.json                epoch, file, array shapes and dtypes

    A write always goes to the file the manifest does not name, is flushed to disk, and
    only then does a new manifest replace the old one (atomically). So whatever moment
    the process dies at (Ctrl-C, SIGKILL, power loss), the manifest names a consistent
    state. Rewriting a file in place reuses its pages: for the lab's 76 MB of state that
    is a memory copy, where a new file per epoch (or Keras's ``BackupAndRestore``, which
    also writes weights and epoch number as two files a kill can leave out of step)
    costs several times more and slows the training running beside it.

    Writing 76 MB costs the lab's network about a third of an epoch, so by default an
    epoch goes to disk only once ``interval`` seconds have passed since training began or
    the last write. The epochs in between are kept as a snapshot in memory, which
    ``flush`` writes when training is interrupted: Ctrl-C and SIGTERM keep the last
    finished epoch, a SIGKILL or power loss loses at most ``interval`` seconds of work.

    Args:
        backup_dir: the folder for the backups (created if missing).
        interval: seconds between on-disk backups; 0 writes every epoch.
        early_stopping: a ``ResumableEarlyStopping`` whose state (and best weights) goes
            into each backup with the epoch, so a resumed run stops where a whole one would.

    Example:
        >>> backup = EpochBackup("runs/x/backup")
        >>> model.fit(ds, epochs=15, callbacks=[backup])      # doctest: +SKIP
        >>> epoch, manifest = EpochBackup.latest("runs/x/backup")  # doctest: +SKIP
        >>> EpochBackup.restore(model, manifest)                   # doctest: +SKIP
    """

    def __init__(self, backup_dir: str | os.PathLike, interval: float = 0.0,
                 early_stopping: "ResumableEarlyStopping | None" = None):
        super().__init__()
        if not (math.isfinite(interval) and interval >= 0):
            raise ValueError(f"interval must be a number of seconds >= 0, got {interval}")
        self.backup_dir = Path(backup_dir)
        self.interval = float(interval)
        self.early_stopping = early_stopping
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None
        self._last_write = -math.inf
        self._held: tuple | None = None  # (epoch, state, early stopping's) not yet on disk
        self._buffers: list[list] = []  # reused sets of snapshot arrays (three at most)
        self._writing: list | None = None  # the set the writer thread is reading

    def on_train_begin(self, logs=None):
        self._writer, self._error, self._writing = None, None, None
        # The first write waits an interval too: a run shorter than that never pays for one.
        self._last_write = time.monotonic() if self.interval else -math.inf
        self._held = None
        # A manifest cut short by a kill is only ever a temporary file: clear it away.
        if self.backup_dir.is_dir():
            for stale in self.backup_dir.glob(".tmp-*"):
                stale.unlink(missing_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        state, early = self._snapshot(), self._early_state()
        if time.monotonic() - self._last_write < self.interval:
            # For flush(), should training be interrupted.
            self._held = (epoch + 1, state, early)
            return
        self._start_write(epoch + 1, state, early)

    def _early_state(self) -> tuple[dict, list] | None:
        # Keras replaces best_weights with new arrays, never writes into them: no copy needed.
        return self.early_stopping.state() if self.early_stopping is not None else None

    def _start_write(self, epoch: int, state: list, early: tuple | None) -> None:
        self.wait()
        self._held = None
        self._last_write = time.monotonic()
        self._writing = state
        self._writer = threading.Thread(target=self._write, args=(epoch, state, early),
                                        name="happysad-backup")
        self._writer.start()

    def _snapshot(self) -> list:
        """Copy every state variable into a set of buffers nobody else holds.

        Not the set the writer thread reads, nor the one held for ``flush``: a Ctrl-C in
        the middle of this copy leaves the held epoch whole. So at most three sets exist.
        Reused buffers: their pages are touched once per run, not once per epoch, and
        one copy per variable (``numpy()`` would copy into fresh memory first): for the
        lab's 76 MB of state ~9 ms an epoch instead of ~15.
        """
        variables = _state_variables(self.model)
        layout = [(tuple(v.shape), np.dtype(v.dtype)) for v in variables]
        in_use = [self._writing, self._held[1] if self._held else None]
        self._buffers = [b for b in self._buffers
                         if [(a.shape, a.dtype) for a in b] == layout]  # another model: drop
        buffers = next((b for b in self._buffers if not any(b is u for u in in_use)), None)
        if buffers is None:
            buffers = [np.empty(shape, dtype) for shape, dtype in layout]
            self._buffers.append(buffers)
        for buffer, variable in zip(buffers, variables):
            np.copyto(buffer, _value_view(variable))
        return buffers

    def flush(self, epoch: int | None = None) -> None:
        """Put the last finished epoch on disk, and wait until it is there.

        Args:
            epoch: the last finished epoch (the history's), when training was interrupted.
                Without it, the epoch held in memory is written, if any. With it, an
                interrupt that landed in this epoch's end callbacks, after its history row
                but before its snapshot, is covered too: the next epoch never began, so the
                model's weights are still this epoch's.
        """
        self.wait()
        if self._held is not None and epoch in (None, self._held[0]):
            self._start_write(*self._held)
        elif epoch is not None and EpochBackup.latest(self.backup_dir)[0] < epoch:
            self._start_write(epoch, self._snapshot(), self._early_state())
        self.wait()

    def on_train_end(self, logs=None):
        self.wait()

    def wait(self) -> None:
        """Block until the last backup is on disk; re-raise a failure to write it."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        self._writing = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self, epoch: int, state: list, early: tuple | None) -> None:
        try:
            self.backup_dir.mkdir(parents=True, exist_ok=True)
            manifest = _read_manifest(self.backup_dir, strict=False)
            in_use = manifest["file"] if manifest else None
            name = _STATE_FILES[1] if in_use == _STATE_FILES[0] else _STATE_FILES[0]
            # (Not ascontiguousarray: it turns the 0-d step counter into shape (1,).)
            extra = {}
            if early is not None:
                info, best_weights = early
                state = list(state) + [np.asarray(w) for w in best_weights]
                extra["early_stopping"] = dict(
                    info, best_weights=[[list(np.shape(w)), np.asarray(w).dtype.str]
                                        for w in best_weights])
            arrays = [a if a.flags.c_contiguous else a.copy(order="C") for a in state]
            model_arrays = arrays[:len(arrays) - len(early[1])] if early else arrays
            total = sum(a.nbytes for a in arrays)
            path = self.backup_dir / name
            # In place when the size fits (the pages are reused), else a fresh file.
            mode = "r+b" if path.is_file() and path.stat().st_size == total else "wb"
            crc = 0  # CRC-32 of the whole file: ~20 ms for the lab's 76 MB, off the hot path
            with open(path, mode) as f:
                for a in arrays:
                    f.write(memoryview(a).cast("B"))
                    crc = zlib.crc32(memoryview(a).cast("B"), crc)
                f.flush()
                os.fsync(f.fileno())
            _write_manifest(self.backup_dir, {
                "format": _BACKUP_FORMAT, "epoch": epoch, "file": name, "bytes": total,
                "crc32": crc,
                "arrays": [[list(a.shape), a.dtype.str] for a in model_arrays],
                **extra,  # then the arrays it names, after the model's, in the same file
            })
        except BaseException as exc:  # reported to the training thread by wait()
            self._error = exc

    @staticmethod
    def latest(backup_dir: str | os.PathLike) -> tuple[int, Path | None]:
        """The newest complete backup as (epoch, manifest path), or (0, None) if none.

        Raises:
            RunError: the manifest is damaged.
        """
        manifest = _read_manifest(Path(backup_dir), strict=True)
        if manifest is None:
            return 0, None
        return manifest["epoch"], Path(backup_dir) / _MANIFEST

    @staticmethod
    def restore(model, manifest_path: str | os.PathLike,
                early_stopping: "ResumableEarlyStopping | None" = None) -> None:
        """Load a backup into a model compiled as the one that wrote it.

        Args:
            model: the compiled model.
            manifest_path: the backup's ``latest.json`` (see ``latest``).
            early_stopping: given the state the backup holds for it, if any, to start from.
        """
        manifest_path = Path(manifest_path)
        manifest = _read_manifest(manifest_path.parent, strict=True)
        if manifest is None:
            raise RunError(f"no backup in {manifest_path.parent}; start a new run")
        # Under a tf.distribute strategy the optimizer's variables are built in its scope.
        with model.distribute_strategy.scope():
            model.optimizer.build(model.trainable_variables)
        variables = _state_variables(model)
        specs = manifest["arrays"]
        if not _specs_fit(specs, variables):
            raise RunError(f"backup {manifest_path.parent} does not fit this model; start a new run")
        path = manifest_path.parent / manifest["file"]
        if not path.is_file():  # a pipe or device would block or never end
            raise RunError(f"backup {path} is missing or not a regular file; start a new run")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RunError(f"cannot read backup {path}: {exc.strerror or exc}; start a new run") from None
        if len(data) != manifest["bytes"]:
            raise RunError(f"backup {path} is damaged ({len(data):,} bytes, expected "
                           f"{manifest['bytes']:,}); start a new run")
        if "crc32" in manifest and zlib.crc32(data) != manifest["crc32"]:
            raise RunError(f"backup {path} is damaged (its checksum does not match); "
                           "start a new run")
        early = manifest.get("early_stopping")
        if early and not _specs_fit(early["best_weights"], model.weights):
            raise RunError(f"backup {manifest_path.parent} does not fit this model "
                           "(early stopping's best weights); start a new run")
        all_specs = specs + (early["best_weights"] if early else [])
        if sum(math.prod(shape) * np.dtype(dtype).itemsize for shape, dtype in all_specs) != len(data):
            raise RunError(f"backup {path} is damaged (its arrays do not add up to its size); "
                           "start a new run")
        arrays, offset = [], 0
        for shape, dtype in all_specs:
            value = np.frombuffer(data, dtype=np.dtype(dtype), count=math.prod(shape), offset=offset)
            offset += value.nbytes
            arrays.append(value.reshape(shape))
        for variable, value in zip(variables, arrays):
            variable.assign(value)
        if early and early_stopping is not None:
            info = {k: early[k] for k in ("wait", "best", "best_epoch")}
            early_stopping.resume_with(info, arrays[len(variables):])


_BACKUP_FORMAT = "happysad-epoch-backup-1"
_MANIFEST = "latest.json"
_STATE_FILES = ("state-0.bin", "state-1.bin")


def _write_manifest(backup_dir: Path, manifest: dict) -> None:
    """Replace ``latest.json`` atomically and durably (after the state file it names)."""
    final = backup_dir / _MANIFEST
    tmp = backup_dir / f".tmp-{os.getpid()}-{_MANIFEST}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    try:  # make the rename itself durable; not every platform can open a folder
        fd = os.open(backup_dir, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_manifest(backup_dir: Path, strict: bool) -> dict | None:
    """The manifest, or None if there is none; a damaged one raises RunError if ``strict``
    (resuming), else counts as none (the writer then starts over with state-0)."""
    path = backup_dir / _MANIFEST
    if not path.is_file():
        if strict and (path.exists() or path.is_symlink()):  # a folder, pipe or broken link
            raise RunError(f"the backup manifest {path} is not a regular file; the run cannot "
                           "be resumed: start a new run")
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        ok = (
            manifest.get("format") == _BACKUP_FORMAT
            and isinstance(manifest.get("epoch"), int) and manifest["epoch"] >= 1
            and manifest.get("file") in _STATE_FILES
            and isinstance(manifest.get("bytes"), int)
            and _are_specs(manifest.get("arrays"))
        )
        early = manifest.get("early_stopping") if ok else None
        if early is not None:
            ok = (isinstance(early, dict)
                  and isinstance(early.get("wait"), int) and early["wait"] >= 0
                  and isinstance(early.get("best_epoch"), int) and early["best_epoch"] >= 0
                  and "best" in early and _is_number_or_none(early["best"])
                  and _are_specs(early.get("best_weights")))
        if ok:
            for _, dtype in manifest["arrays"] + (early["best_weights"] if early else []):
                np.dtype(dtype)
    except (OSError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        ok, why = False, str(exc)
    else:
        why = "unexpected contents"
    if ok:
        return manifest
    if strict:
        raise RunError(f"the backup manifest {path} is damaged ({why}); the run cannot be "
                       "resumed: start a new run")
    return None


def _specs_fit(specs: list, variables: list) -> bool:
    """Whether [shape, dtype] specs name exactly these variables' shapes and dtypes."""
    return len(specs) == len(variables) and all(
        tuple(shape) == tuple(v.shape) and np.dtype(dtype) == np.dtype(v.dtype)
        for (shape, dtype), v in zip(specs, variables)
    )


def _is_number_or_none(value) -> bool:
    """JSON's null or a number a float can hold (Infinity too: a val_loss can be)."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        float(value)
    except OverflowError:  # an int beyond any float
        return False
    return True


def _are_specs(specs) -> bool:
    """Whether ``specs`` is a list of [shape, dtype string] pairs."""
    return isinstance(specs, list) and all(
        isinstance(spec, list) and len(spec) == 2
        and isinstance(spec[0], list)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in spec[0])
        and isinstance(spec[1], str)
        for spec in specs
    )


def _value_view(variable):
    """A variable's current value as NumPy, sharing TensorFlow's memory where it can.

    Valid only until the variable's next update: copy it at once.
    """
    try:
        return variable.value.read_value()._numpy()  # no copy (numpy() would make one)
    except AttributeError:  # another backend or TensorFlow version
        return variable.numpy()


def _state_variables(model) -> list:
    return list(model.weights) + list(model.optimizer.variables)
