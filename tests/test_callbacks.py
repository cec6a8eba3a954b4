"""Our Keras callbacks on a tiny model: argument checks, firing, missing metrics, backups."""

from __future__ import annotations

import json
import time

import keras
import numpy as np
import pytest

from happysad.callbacks import (EpochBackup, HistoryWriter, MetricNotFoundError,
                                ResumableEarlyStopping, SafeInterrupt, StopOnNonFinite,
                                ThresholdStop)
from happysad.runs import RunFolder


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.RMSprop(0.05), "binary_crossentropy", metrics=["accuracy"])
    return model


X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 4, dtype="float32")
Y = (X[:, 0] > 0.5).astype("float32")


def test_threshold_arguments_are_checked():
    with pytest.raises(ValueError, match="op must be one of"):
        ThresholdStop("accuracy", 0.9, op="==")
    with pytest.raises(ValueError, match="monitor must name a metric"):
        ThresholdStop("", 0.9)
    with pytest.raises(ValueError, match="finite"):
        ThresholdStop("accuracy", float("nan"))


def test_threshold_stops_and_records(capsys):
    stop = ThresholdStop("accuracy", 0.99)
    history = _model().fit(X, Y, epochs=200, batch_size=4, verbose=0, callbacks=[stop])
    assert stop.stopped_epoch == len(history.history["loss"]) < 200
    assert stop.reason.startswith("accuracy 1.0000 > 0.99")
    assert f"at epoch {stop.stopped_epoch}: stopping training" in capsys.readouterr().out


def test_threshold_below_for_losses():
    stop = ThresholdStop("loss", 10.0, op="<", verbose=False)
    _model().fit(X, Y, epochs=5, verbose=0, callbacks=[stop])
    assert stop.stopped_epoch == 1


def test_missing_metric_is_an_error_not_silence():
    # The lab's callback read logs['acc'], which Keras 3 never logs, so it never fired.
    with pytest.raises(MetricNotFoundError, match=r"cannot stop on 'acc': training logs only accuracy, loss"):
        _model().fit(X, Y, epochs=2, verbose=0, callbacks=[ThresholdStop("acc", 0.9)])


def test_state_is_reset_between_fits():
    stop = ThresholdStop("accuracy", 0.99, verbose=False)
    model = _model()
    model.fit(X, Y, epochs=200, batch_size=4, verbose=0, callbacks=[stop])
    assert stop.stopped_epoch is not None
    never = ThresholdStop("accuracy", 1.0, op=">", verbose=False)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[never, stop])
    assert never.stopped_epoch is None


def test_non_finite_loss_stops_in_the_epoch_it_happens():
    model = _model()
    bad_y = Y.copy()
    bad_y[3] = np.nan
    stop = StopOnNonFinite()
    history = model.fit(X, bad_y, epochs=5, batch_size=4, verbose=0, callbacks=[stop])
    assert stop.stopped_epoch == 1 and len(history.history["loss"]) == 1


def test_history_writer_and_backup(tmp_path):
    run = RunFolder(tmp_path)
    writer = HistoryWriter(run, rows=[{"epoch": 1, "loss": 9.0}])
    backup = EpochBackup(tmp_path / "backup")
    _model().fit(X, Y, epochs=3, initial_epoch=1, verbose=0, callbacks=[writer, backup])
    assert run.history()["epoch"] == [1, 2, 3]
    assert EpochBackup.latest(tmp_path / "backup")[0] == 3
    # Two state files used in turn, and the manifest naming the newest.
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == [
        "latest.json", "state-0.bin", "state-1.bin"]
    assert EpochBackup.latest(tmp_path / "none") == (0, None)


def test_backup_interval_holds_epochs_in_memory_until_flushed(tmp_path):
    with pytest.raises(ValueError, match="interval"):
        EpochBackup(tmp_path, interval=-1)
    backup = EpochBackup(tmp_path / "b", interval=3600)
    model = _model()
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[backup])
    assert EpochBackup.latest(tmp_path / "b")[0] == 0  # nothing on disk within the interval
    backup.flush()  # what an interrupted run does: the last finished epoch
    _assert_backup_holds(tmp_path / "b", 3, _weights(model))
    backup.flush()  # nothing held: a no-op
    assert EpochBackup.latest(tmp_path / "b")[0] == 3


def _weights(model):
    return [v.numpy().copy() for v in model.weights + model.optimizer.variables]


def _assert_backup_holds(folder, epoch, weights):
    """The newest backup in ``folder`` is ``epoch``, and restores exactly ``weights``."""
    latest, path = EpochBackup.latest(folder)
    assert latest == epoch
    fresh = _model()
    EpochBackup.restore(fresh, path)
    for a, b in zip(weights, _weights(fresh)):
        np.testing.assert_array_equal(a, b)


def test_snapshots_never_overwrite_the_state_being_written(tmp_path, monkeypatch):
    """Snapshots reuse two sets of buffers: never the one the writer thread still reads."""
    written, expected = {}, {}
    write = EpochBackup._write

    def slow_write(self, epoch, state, early):
        time.sleep(0.2)  # the next epoch ends, and is snapshotted, meanwhile
        written[epoch] = [a.copy() for a in state]
        write(self, epoch, state, early)

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            expected[epoch + 1] = _weights(self.model)

    monkeypatch.setattr(EpochBackup, "_write", slow_write)
    backup = EpochBackup(tmp_path / "b")
    _model().fit(X, Y, epochs=4, verbose=0, callbacks=[Record(), backup])
    assert sorted(written) == [1, 2, 3, 4]
    for epoch, state in written.items():
        for a, b in zip(state, expected[epoch]):
            np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(expected[1], expected[4]))
    assert 2 <= len(backup._buffers) <= 3  # reused, not one set per epoch


def test_an_interrupt_during_a_snapshot_keeps_the_held_epoch_whole(tmp_path, monkeypatch):
    """Ctrl-C while the next epoch is being copied: flush still writes the held one."""
    import happysad.callbacks as callbacks

    backup = EpochBackup(tmp_path / "b", interval=3600)
    model = _model()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[backup])
    after_two = _weights(model)
    model.fit(X, Y, epochs=1, verbose=0)  # the weights move on
    copied = []
    view = callbacks._value_view

    def interrupted_view(variable):
        if len(copied) == 2:
            raise KeyboardInterrupt
        copied.append(variable)
        return view(variable)

    monkeypatch.setattr(callbacks, "_value_view", interrupted_view)
    with pytest.raises(KeyboardInterrupt):
        backup.on_epoch_end(2)  # epoch 3's snapshot, cut short after two arrays
    monkeypatch.setattr(callbacks, "_value_view", view)
    backup.flush()
    _assert_backup_holds(tmp_path / "b", 2, after_two)


def test_a_write_cut_short_leaves_the_previous_epoch_usable(tmp_path):
    """The writer only ever writes the state file the manifest does not name."""
    model = _model()
    backup = EpochBackup(tmp_path / "b")
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[backup])
    after_one = _weights(model)
    manifest = json.loads((tmp_path / "b" / "latest.json").read_text())
    other = "state-1.bin" if manifest["file"] == "state-0.bin" else "state-0.bin"
    (tmp_path / "b" / other).write_bytes(b"half a write")  # a kill in the middle of epoch 2's
    _assert_backup_holds(tmp_path / "b", 1, after_one)


def _one_epoch_backup(folder):
    """Back up one epoch of a small model; return (manifest path, manifest, state file)."""
    _model().fit(X, Y, epochs=1, verbose=0, callbacks=[EpochBackup(folder)])
    manifest_path = folder / "latest.json"
    manifest = json.loads(manifest_path.read_text())
    return manifest_path, manifest, folder / manifest["file"]


def test_damaged_backups_are_clear_errors(tmp_path):
    from happysad.errors import RunError

    manifest_path, manifest, state = _one_epoch_backup(tmp_path / "b")
    state.write_bytes(state.read_bytes()[:-4])
    with pytest.raises(RunError, match="is damaged .* expected"):
        EpochBackup.restore(_model(), manifest_path)
    manifest_path.write_text("{not json")
    with pytest.raises(RunError, match="manifest .* is damaged"):
        EpochBackup.latest(tmp_path / "b")


@pytest.mark.parametrize("kind", ["fifo", "folder", "missing"])
def test_a_state_file_that_is_not_a_regular_file_is_refused_not_read(tmp_path, kind):
    """A pipe named as the state file would block the resume for ever."""
    import os

    from happysad.errors import RunError

    manifest_path, manifest, state = _one_epoch_backup(tmp_path / "b")
    state.unlink()
    {"fifo": os.mkfifo, "folder": os.mkdir, "missing": lambda p: None}[kind](state)
    with pytest.raises(RunError, match="missing or not a regular file; start a new run"):
        EpochBackup.restore(_model(), manifest_path)


@pytest.mark.parametrize("kind", ["fifo", "folder", "broken link"])
def test_a_manifest_that_is_not_a_regular_file_is_damaged_not_absent(tmp_path, kind):
    """Before: taken as 'no backup', so resume said the backup was gone."""
    import os

    from happysad.errors import RunError

    manifest_path, _, _ = _one_epoch_backup(tmp_path / "b")
    manifest_path.unlink()
    {"fifo": os.mkfifo, "folder": os.mkdir,
     "broken link": lambda p: p.symlink_to(tmp_path / "nowhere")}[kind](manifest_path)
    with pytest.raises(RunError, match="latest.json is not a regular file"):
        EpochBackup.latest(tmp_path / "b")


def test_flipped_bytes_or_another_dtype_in_a_backup_are_refused(tmp_path):
    from happysad.errors import RunError

    manifest_path, manifest, state = _one_epoch_backup(tmp_path / "b")
    good = state.read_bytes()
    state.write_bytes(good[:8] + bytes([good[8] ^ 0xFF]) + good[9:])  # same size, one byte off
    with pytest.raises(RunError, match="checksum does not match"):
        EpochBackup.restore(_model(), manifest_path)
    state.write_bytes(good)
    for dtype in ("<f8", "|O"):
        manifest["arrays"][0][1] = dtype
        manifest_path.write_text(json.dumps(manifest))
        with pytest.raises(RunError, match="does not fit this model"):
            EpochBackup.restore(_model(), manifest_path)


def test_backup_restores_weights_and_optimizer_state_and_refuses_other_models(tmp_path):
    from happysad.errors import RunError

    model = _model()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[EpochBackup(tmp_path / "b")])
    epoch, path = EpochBackup.latest(tmp_path / "b")
    assert epoch == 2
    fresh = _model()
    EpochBackup.restore(fresh, path)
    for a, b in zip(model.weights + model.optimizer.variables,
                    fresh.weights + fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    other.compile(keras.optimizers.RMSprop(0.05), "binary_crossentropy")
    with pytest.raises(RunError, match="does not fit this model"):
        EpochBackup.restore(other, path)


def _early_stopping_backup(tmp_path):
    """A 3-epoch fit whose backup carries early stopping's state; (model, early, path)."""
    model, early = _model(), ResumableEarlyStopping("loss", patience=5, restore_best_weights=True)
    model.fit(X, Y, epochs=3, batch_size=4, verbose=0,
              callbacks=[early, EpochBackup(tmp_path / "b", early_stopping=early)])
    return model, early, EpochBackup.latest(tmp_path / "b")[1]


def test_backup_carries_early_stopping_state_and_best_weights(tmp_path):
    model, early, path = _early_stopping_backup(tmp_path)
    saved = json.loads(path.read_text())["early_stopping"]
    assert saved["best_epoch"] == early.best_epoch and saved["wait"] == early.wait
    assert len(saved["best_weights"]) == len(model.weights)

    fresh = _model()
    restored = ResumableEarlyStopping("loss", patience=5, restore_best_weights=True)
    EpochBackup.restore(fresh, path, restored)
    restored.set_model(fresh)
    restored.on_train_begin()  # where Keras would reset it: the backup's state is kept
    assert (restored.wait, restored.best, restored.best_epoch) == (
        early.wait, pytest.approx(early.best), early.best_epoch)
    for a, b in zip(early.best_weights, restored.best_weights):
        np.testing.assert_array_equal(a, b)
    plain = keras.callbacks.EarlyStopping("loss")  # a backup without the section: untouched
    EpochBackup.restore(fresh, path)
    plain.on_train_begin()
    assert plain.best is None


def test_a_damaged_early_stopping_section_is_refused(tmp_path):
    from happysad.errors import RunError

    _, _, path = _early_stopping_backup(tmp_path)
    good = json.loads(path.read_text())
    shapes = good["early_stopping"]["best_weights"]
    for key, value, why in (
        ("wait", -1, "damaged"), ("best", "low", "damaged"), ("best", 10**400, "damaged"),
        ("best", None, None), ("best_weights", [[[2], "<f4"]], "does not fit"),
        ("best_weights", [[[0, 2**40], "<f4"], *shapes[1:]], "does not fit"),
        ("best_weights", [[shapes[0][0], "|S0"], *shapes[1:]], "does not fit"),
        ("best_weights", [[shapes[0][0], "|O"], *shapes[1:]], "does not fit"),
    ):
        manifest = json.loads(json.dumps(good))
        manifest["early_stopping"][key] = value
        path.write_text(json.dumps(manifest))
        if why is None:  # no epoch scored yet: a valid state
            EpochBackup.restore(_model(), path, ResumableEarlyStopping("loss"))
            continue
        with pytest.raises(RunError, match=why):
            EpochBackup.restore(_model(), path, ResumableEarlyStopping("loss"))
    for arrays in ([[[True, 2], "<f4"]], "[" * 100_000 + "]" * 100_000):
        if isinstance(arrays, str):
            path.write_text('{"format": "happysad-epoch-backup-1", "arrays": ' + arrays + "}")
        else:
            path.write_text(json.dumps(dict(good, arrays=arrays)))
        with pytest.raises(RunError, match="damaged"):
            EpochBackup.restore(_model(), path, ResumableEarlyStopping("loss"))
    path.write_text(json.dumps(good))
    del good["early_stopping"]["best"]
    path.write_text(json.dumps(good))
    with pytest.raises(RunError, match="damaged"):
        EpochBackup.restore(_model(), path, ResumableEarlyStopping("loss"))


class _SignalAt(keras.callbacks.Callback):
    """Send this process ``sig`` at the end of step ``step`` of epoch ``epoch`` (0-based),
    and record every step and epoch end that training reached."""

    def __init__(self, epoch, step, sig="SIGTERM"):
        super().__init__()
        self.at, self.sig, self.steps, self.epochs = (epoch, step), sig, [], []
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        import os
        import signal

        self.steps.append((self._epoch, batch))
        if (self._epoch, batch) == self.at:
            os.kill(os.getpid(), getattr(signal, self.sig))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


def _fit_with_signal(at_epoch, at_step, sig="SIGTERM", epochs=3):
    interrupt, probe = SafeInterrupt(), _SignalAt(at_epoch, at_step, sig)
    with interrupt:
        # steps_per_execution=1: each of an epoch's 4 steps ends in Python (batch callbacks).
        model = _model()
        model.fit(X, Y, epochs=epochs, batch_size=4, verbose=0, validation_data=(X, Y),
                  callbacks=[interrupt, probe])
    return interrupt, probe


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_safe_interrupt_raises_at_the_next_step_from_its_own_code(sig):
    with pytest.raises(KeyboardInterrupt) as caught:
        _fit_with_signal(1, 0, sig)
    # Raised by the callback (the probe sent the signal after the callback's check of
    # step 0, so at step 1), never from inside TensorFlow or Keras.
    assert caught.traceback[-1].path.name == "signals.py"
    assert caught.traceback[-2].name == "on_train_batch_end"


def test_safe_interrupt_keeps_an_epoch_whose_last_step_has_run():
    interrupt, probe = SafeInterrupt(), _SignalAt(0, 3)
    with pytest.raises(KeyboardInterrupt) as caught, interrupt:
        _model().fit(X, Y, epochs=3, batch_size=4, verbose=0, validation_data=(X, Y),
                     callbacks=[interrupt, probe])
    assert probe.epochs == [0]  # epoch 0 ended (history, backup), epoch 1 never began
    assert probe.steps == [(0, 0), (0, 1), (0, 2), (0, 3)]
    assert caught.traceback[-2].name == "on_epoch_begin"


def test_safe_interrupt_lets_training_end_after_its_last_step():
    interrupt, probe = _fit_with_signal(2, 3, epochs=3)
    assert probe.epochs == [0, 1, 2] and interrupt.signal_name == "SIGTERM"


def test_safe_interrupt_restores_the_handlers():
    import signal

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        _fit_with_signal(0, 0)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_with_one_call_an_epoch_the_notice_says_the_epoch_ends_first(capfd):
    import os
    import signal

    class SignalInEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == 1:  # just before the call that runs all of epoch 1's steps
                os.kill(os.getpid(), signal.SIGTERM)

    model = _model()
    model.compile(keras.optimizers.RMSprop(0.05), "binary_crossentropy", steps_per_execution=4)
    interrupt = SafeInterrupt()
    with pytest.raises(KeyboardInterrupt), interrupt:
        # 16 rows, batch 4: the epoch's 4 steps in one call; epoch 1 ends, epoch 2 never begins.
        model.fit(X, Y, epochs=4, batch_size=4, verbose=0,
                  callbacks=[SignalInEpoch(), interrupt, probe := _SignalAt(-1, -1)])
    assert probe.epochs == [0, 1]
    assert "SIGTERM: stopping when this epoch ends (its steps run in one call)" in (
        capfd.readouterr().err)
