"""Training end to end on tiny generated data: run folder, stops, faults, resume."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from happysad.config import TrainConfig, build_config, load_config
from happysad.errors import ConfigError, DataError, RunError, TrainingError
from happysad.runs import RunFolder
from happysad.train import FINISHED, INTERRUPTED, resume_config, train

from .conftest import smoke_overrides


def _config(tmp_path, data, **extra):
    return build_config(TrainConfig, dict(smoke_overrides(tmp_path, data=str(data)), **extra))


def test_run_folder_is_complete(tmp_path, image_folder):
    lines = []
    result = train(_config(tmp_path, image_folder), echo=lines.append)
    run = result.run
    for name in ("config.yaml", "history.csv", "history.json", "model.keras", "summary.txt",
                 "metrics.json"):
        assert (run.path / name).is_file(), name
    assert not run.backup_dir.exists()  # removed once the run finished
    assert result.status == FINISHED and result.epochs_run == 2
    history = run.history()
    assert history["epoch"] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(history)
    metrics = run.metrics()
    assert metrics["class_names"] == ["happy", "sad"]
    assert metrics["train_images"] + metrics["val_images"] == 12 and metrics["val_images"] == 2
    assert len(metrics["data_sha256"]) == 64 and metrics["seed"] == 3
    assert {"tensorflow", "keras", "python", "numpy"} <= set(metrics["versions"])
    assert metrics["stop_reason"] == "reached the maximum of 2 epochs"
    assert load_config(TrainConfig, run.config_path) == _config(tmp_path, image_folder)
    assert "Classes: happy -> 0, sad -> 1" in lines
    assert "Total params" in run.summary_path.read_text()


def test_same_seed_same_run(tmp_path, image_folder):
    a = train(_config(tmp_path, image_folder, name="a"), echo=lambda s: None)
    b = train(_config(tmp_path, image_folder, name="b"), echo=lambda s: None)
    assert a.run.history()["loss"] == pytest.approx(b.run.history()["loss"], rel=1e-5)


def test_threshold_stop_fires_and_is_recorded(tmp_path, image_folder):
    config = _config(tmp_path, image_folder, epochs=30, threshold=0.999, conv_filters=[8],
                     dense_units=16, learning_rate=0.003, val_split=0.0)
    result = train(config, echo=lambda s: None)
    assert result.epochs_run < 30
    assert result.final["accuracy"] > 0.999
    assert result.stop_reason.startswith("accuracy 1.0000 > 0.999 at epoch")


def test_stop_when_on_any_metric(tmp_path, image_folder):
    result = train(_config(tmp_path, image_folder, epochs=10, stop_when="loss<100"),
                   echo=lambda s: None)
    assert result.epochs_run == 1 and "loss" in result.stop_reason


def test_unknown_monitor_fails_before_training(tmp_path, image_folder):
    with pytest.raises(ConfigError, match=r"metric 'acc' is not logged; training logs loss, accuracy"):
        train(_config(tmp_path, image_folder, monitor="acc", threshold=0.9))
    with pytest.raises(ConfigError, match="no validation data"):
        train(_config(tmp_path, image_folder, val_split=0.0, stop_when="val_accuracy>0.9"))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_separate_validation_folder(tmp_path, image_folder):
    from .conftest import make_image_folder

    val = make_image_folder(tmp_path / "val", per_class=2, seed=9)
    result = train(_config(tmp_path, image_folder, val_data=str(val)), echo=lambda s: None)
    assert result.metrics["train_images"] == 12 and result.metrics["val_images"] == 4
    other = make_image_folder(tmp_path / "other", per_class=2, classes=("cat", "dog"))
    with pytest.raises(DataError, match="differ from training classes"):
        train(_config(tmp_path, image_folder, val_data=str(other)))


def test_named_run_is_never_overwritten(tmp_path, image_folder):
    train(_config(tmp_path, image_folder, name="mine"), echo=lambda s: None)
    before = (tmp_path / "runs" / "mine" / "history.json").read_bytes()
    with pytest.raises(RunError, match="already exists; pick another --name$"):
        train(_config(tmp_path, image_folder, name="mine"))  # finished: no resume hint
    assert (tmp_path / "runs" / "mine" / "history.json").read_bytes() == before
    cut = train(_config(tmp_path, image_folder, name="cut", epochs=4, val_split=0.25),
                echo=lambda s: None,
                callbacks=[_InterruptAt(2)])
    with pytest.raises(RunError, match="or continue it with --resume"):
        train(_config(tmp_path, image_folder, name="cut"))
    assert cut.status == INTERRUPTED


def test_unwritable_runs_dir_fails_before_training(tmp_path, image_folder):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="cannot write run folders"):
        train(_config(tmp_path, image_folder, runs_dir=str(blocker / "runs")))


def test_bad_data_leaves_no_new_runs_dir_behind(tmp_path):
    runs = tmp_path / "new" / "runs"
    with pytest.raises(DataError):
        train(_config(tmp_path, tmp_path / "no-such-data", runs_dir=str(runs)))
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_a_new_run_stopped_before_its_first_epoch_leaves_no_folder(tmp_path, image_folder,
                                                                  monkeypatch, error):
    from happysad import train as train_module

    def stop(*args, **kwargs):
        raise error("stopped while the model was built")

    monkeypatch.setattr(train_module, "build_model", stop)
    with pytest.raises(error):
        train(_config(tmp_path, image_folder, name="early"), echo=lambda s: None)
    assert not (tmp_path / "runs" / "early").exists()


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_model_is_set_up_stops_before_training(tmp_path, image_folder,
                                                                  monkeypatch, capfd, sig):
    """Noted, not raised inside TensorFlow (where it can be lost); acted on before fit."""
    import os
    import signal

    from happysad import train as train_module

    built = []

    def build_then_signal(*args, **kwargs):
        os.kill(os.getpid(), getattr(signal, sig))  # lands while Keras builds the model
        built.append(real_build(*args, **kwargs))
        return built[-1]

    real_build = train_module.build_model
    monkeypatch.setattr(train_module, "build_model", build_then_signal)
    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, image_folder, name="setup"), echo=lambda s: None)
    assert built, "the model was built to the end: the signal was only noted there"
    assert f"{sig}: stopping before training begins" in capfd.readouterr().err
    assert not (tmp_path / "runs" / "setup").exists()


def test_steps_per_call_divides_the_epoch_and_is_capped():
    from happysad.train import MAX_STEPS_PER_CALL, steps_per_call

    assert steps_per_call(7) == 7 and steps_per_call(1) == 1  # the lab: one call an epoch
    assert steps_per_call(64) == 32 == MAX_STEPS_PER_CALL and steps_per_call(96) == 32
    assert steps_per_call(33) == 11 and steps_per_call(37) == 1
    for n in range(1, 200):
        assert n % steps_per_call(n) == 0 and steps_per_call(n) <= MAX_STEPS_PER_CALL


def test_nan_loss_stops_at_once_and_says_when(tmp_path, image_folder):
    class Poison(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:  # corrupt the weights as a diverging optimizer would
                for w in self.model.trainable_weights:
                    w.assign(np.full(w.shape, np.nan, dtype="float32"))

    config = _config(tmp_path, image_folder, epochs=5, name="nan")
    with pytest.raises(TrainingError, match="loss became NaN or infinite in epoch 2"):
        train(config, echo=lambda s: None, callbacks=[Poison()])
    run = RunFolder(tmp_path / "runs" / "nan")
    metrics = run.metrics()
    assert metrics["status"] == "failed" and metrics["epochs_run"] == 2
    assert "epoch 2" in metrics["stop_reason"]
    assert run.history()["epoch"] == [1, 2]
    with pytest.raises(RunError, match="failed"):
        resume_config(run.path)


class _InterruptAt(keras.callbacks.Callback):
    """Raise KeyboardInterrupt as Ctrl-C would, in the middle of epoch ``epoch`` (1-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch + 1 == self.epoch and batch == 1:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


@pytest.mark.parametrize("augment", [False, True])
def test_interrupted_run_resumes_to_the_same_history(tmp_path, image_folder, augment):
    common = dict(epochs=4, deterministic=True, val_split=0.25, augment=augment)
    whole = train(_config(tmp_path, image_folder, name="whole", **common), echo=lambda s: None)

    cut = train(_config(tmp_path, image_folder, name="cut", **common), echo=lambda s: None,
                callbacks=[_InterruptAt(3)])
    assert cut.status == INTERRUPTED and cut.epochs_run == 2
    assert json.loads(cut.run.metrics_path.read_text())["status"] == "interrupted"
    assert not cut.run.model_path.exists() and cut.run.backup_dir.is_dir()

    resumed = train(resume_config(cut.run.path), resume=cut.run.path, echo=lambda s: None)
    assert resumed.status == FINISHED and resumed.run.path == cut.run.path
    a, b = whole.run.history(), resumed.run.history()
    assert b["epoch"] == [1, 2, 3, 4]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-7), key
    with pytest.raises(RunError, match="already finished"):
        resume_config(cut.run.path)


def _cut_after_epoch_3(tmp_path, data, name="cut"):
    cut = train(_config(tmp_path, data, name=name, epochs=5, val_split=0.25),
                echo=lambda s: None, callbacks=[_InterruptAt(4)])
    assert cut.status == INTERRUPTED and cut.epochs_run == 3
    return cut.run


def _manifest_epoch(run, epoch):
    manifest = run.backup_dir / "latest.json"
    manifest.write_text(json.dumps(dict(json.loads(manifest.read_text()), epoch=epoch)))


@pytest.mark.parametrize("damage, message", [
    (lambda run: run.history_json.write_text("{oops"), "cannot read .*history.json.* damaged"),
    (lambda run: run.history_json.write_text(json.dumps(json.loads(run.history_json.read_text())[:2])),
     "backup holds epoch 3 but its history has 2 of epochs 1 to 3"),
    (lambda run: [run.history_json.unlink(), run.history_csv.unlink()], "has no history yet"),
    (lambda run: _manifest_epoch(run, 4), "backup holds epoch 4 but its history has 3 of epochs 1 to 4"),
    (lambda run: [run.history_json.unlink(), run.history_json.mkdir()], "history.json is not a regular file"),
], ids=["damaged", "short", "both-gone", "backup-ahead", "a-folder"])
def test_a_resume_whose_history_does_not_reach_its_backup_is_refused(tmp_path, image_folder,
                                                                    damage, message):
    """Before: resumed with exit 0 and a history with a gap (or epochs 1-3 lost)."""
    run = _cut_after_epoch_3(tmp_path, image_folder)
    damage(run)
    before = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
    for attempt in (lambda: resume_config(run.path),
                    lambda: train(build_config(TrainConfig, run.config_dict()), resume=run.path,
                                  echo=lambda s: None)):
        with pytest.raises(RunError, match=message):
            attempt()
    assert {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()} == before


def test_a_resume_on_changed_data_is_refused(tmp_path, image_folder):
    import shutil

    data = tmp_path / "copy"
    shutil.copytree(image_folder, data)
    run = _cut_after_epoch_3(tmp_path, data)
    next(data.glob("sad/*")).unlink()
    with pytest.raises(DataError, match="changed since run .* began training"):
        train(resume_config(run.path), resume=run.path, echo=lambda s: None)
    assert run.history()["epoch"] == [1, 2, 3]


def test_interrupt_between_history_and_backup_keeps_that_epoch(tmp_path, image_folder, monkeypatch):
    """Ctrl-C inside the epoch-end callbacks, after epoch 2's history row, before its backup."""
    from happysad.callbacks import EpochBackup

    common = dict(epochs=4, deterministic=True, val_split=0.25)
    whole = train(_config(tmp_path, image_folder, name="whole", **common), echo=lambda s: None)

    original = EpochBackup.on_epoch_end

    def interrupted_at_epoch_2(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt  # as a signal landing while the last backup is joined
        return original(self, epoch, logs)

    monkeypatch.setattr(EpochBackup, "on_epoch_end", interrupted_at_epoch_2)
    cut = train(_config(tmp_path, image_folder, name="cut", **common), echo=lambda s: None)
    monkeypatch.setattr(EpochBackup, "on_epoch_end", original)
    assert cut.status == INTERRUPTED
    metrics = cut.run.metrics()
    assert cut.epochs_run == metrics["epochs_run"] == metrics["resumable_after_epoch"] == 2
    assert EpochBackup.latest(cut.run.backup_dir)[0] == 2
    assert cut.run.history()["epoch"] == [1, 2]

    resumed = train(resume_config(cut.run.path), resume=cut.run.path, echo=lambda s: None)
    a, b = whole.run.history(), resumed.run.history()
    assert b["epoch"] == [1, 2, 3, 4]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-7), key


def test_resume_never_overwrites_trained_epochs_it_has_no_backup_of(tmp_path, image_folder):
    import shutil

    done = train(_config(tmp_path, image_folder, name="done"), echo=lambda s: None)
    done.run.metrics_path.unlink()  # a finished run that lost its metrics: model.keras says it
    with pytest.raises(RunError, match="already finished"):
        resume_config(done.run.path)

    cut = train(_config(tmp_path, image_folder, name="nobackup", epochs=4, val_split=0.25),
                echo=lambda s: None, callbacks=[_InterruptAt(3)])
    shutil.rmtree(cut.run.backup_dir)
    before = cut.run.history_json.read_bytes()
    for attempt in (lambda: resume_config(cut.run.path),
                    lambda: train(build_config(TrainConfig, cut.run.config_dict()),
                                  resume=cut.run.path, echo=lambda s: None)):
        with pytest.raises(RunError, match="saved epoch 2 .* backup is gone"):
            attempt()
    assert cut.run.history_json.read_bytes() == before


def test_a_refused_resume_leaves_the_config_as_it_was(tmp_path, image_folder):
    cut = train(_config(tmp_path, image_folder, name="cfg", epochs=4, val_split=0.25),
                echo=lambda s: None, callbacks=[_InterruptAt(3)])
    before = cut.run.config_path.read_text()
    with pytest.raises(RunError, match="already trained 2 epochs, more than 1"):
        resume_config(cut.run.path, {"epochs": 1})
    with pytest.raises(RunError, match="already trained 2 epochs, more than 1"):
        train(build_config(TrainConfig, dict(cut.run.config_dict(), epochs=1)),
              resume=cut.run.path, echo=lambda s: None)
    assert cut.run.config_path.read_text() == before
    with pytest.raises(RunError, match="is a file, not a run folder"):
        resume_config(cut.run.config_path)


class _InterruptAtTheEnd(keras.callbacks.Callback):
    """Ctrl-C after the last epoch, before the model is saved."""

    def on_train_end(self, logs=None):
        raise KeyboardInterrupt


def test_a_run_interrupted_after_its_last_epoch_is_finished_on_resume(tmp_path, image_folder):
    cut = train(_config(tmp_path, image_folder, name="end", epochs=3, val_split=0.25),
                echo=lambda s: None, callbacks=[_InterruptAtTheEnd()])
    assert cut.status == INTERRUPTED and not cut.run.model_path.exists()
    lines = []
    resumed = train(resume_config(cut.run.path), resume=cut.run.path, echo=lines.append)
    assert resumed.status == FINISHED and resumed.epochs_run == 3
    assert "All epochs were trained before the interruption: saving the model" in lines
    assert resumed.run.history()["epoch"] == [1, 2, 3]
    assert resumed.run.model_path.is_file() and not resumed.run.backup_dir.exists()
    assert not list(resumed.run.path.glob(".tmp-*"))
    with pytest.raises(RunError, match="already finished"):
        resume_config(cut.run.path)


def test_resume_with_more_epochs_records_them_in_the_config(tmp_path, image_folder):
    cut = train(_config(tmp_path, image_folder, name="more", epochs=3, val_split=0.25),
                echo=lambda s: None, callbacks=[_InterruptAt(2)])
    assert cut.status == INTERRUPTED
    resumed = train(resume_config(cut.run.path, {"epochs": 5}), resume=cut.run.path,
                    echo=lambda s: None)
    assert resumed.run.history()["epoch"] == [1, 2, 3, 4, 5]
    saved = load_config(TrainConfig, resumed.run.config_path)
    assert saved.epochs == 5 == resumed.run.metrics()["max_epochs"]


def test_resume_refuses_changes_and_missing_runs(tmp_path, monkeypatch):
    with pytest.raises(RunError, match="not found"):
        resume_config(tmp_path / "nope")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.yaml").write_text("epochs: 3\n")
    with pytest.raises(ConfigError, match="cannot change 'learning_rate' when resuming"):
        resume_config(tmp_path / "r", {"learning_rate": 0.1})
    assert resume_config(tmp_path / "r", {"epochs": 5}).epochs == 5
    # Repeating a saved value changes nothing, so it is no change (relative paths included).
    (tmp_path / "r" / "config.yaml").write_text(f"epochs: 3\nlearning_rate: 0.01\ndata: {tmp_path}/d\n")
    monkeypatch.chdir(tmp_path)
    same = resume_config(tmp_path / "r", {"learning_rate": 0.01, "data": "d"})
    assert same.learning_rate == 0.01 and same.data == f"{tmp_path}/d"
    with pytest.raises(ConfigError, match="cannot change 'data' when resuming"):
        resume_config(tmp_path / "r", {"data": "other"})


def test_multiclass_uses_softmax(tmp_path):
    from .conftest import make_image_folder

    data = make_image_folder(tmp_path / "three", per_class=4, classes=("a", "b", "c"))
    result = train(_config(tmp_path, data, val_split=0.0), echo=lambda s: None)
    assert result.metrics["class_names"] == ["a", "b", "c"]
    model = keras.models.load_model(result.run.model_path)
    assert model.output_shape == (None, 3)


@pytest.mark.slow
@pytest.mark.realdata
def test_real_data_default_config_reaches_the_threshold(tmp_path, real_zip):
    config = load_config(TrainConfig, None, {"data": str(real_zip), "runs_dir": str(tmp_path),
                                             "progress": "none"})
    result = train(config, echo=lambda s: None)
    assert result.status == FINISHED
    assert result.epochs_run <= 15 and result.final["accuracy"] > 0.999, result.stop_reason
    assert result.stop_reason.startswith("accuracy")


def _start_cli_training(tmp_path, data, name, epochs=40):
    import subprocess
    import sys

    # Ctrl-C restored first: a shell that starts a job in the background without job
    # control (as a CI script may run) makes it ignore SIGINT, and every child with it.
    # faulthandler: should the child crash, its stack is in the assertion message.
    start = ("import faulthandler, signal, sys; faulthandler.enable(); "
             "signal.signal(signal.SIGINT, signal.default_int_handler); "
             "from happysad.cli import main; sys.argv[0] = 'happysad'; main()")
    args = [sys.executable, "-c", start, "train", "--data", str(data), "--runs-dir",
            str(tmp_path / "runs"), "--name", name, "--epochs", str(epochs), "--image-size", "48",
            "--set", "conv_filters=[8]", "--set", "dense_units=16", "--batch-size", "4",
            "--set", "threshold=null", "--set", "deterministic=true", "--seed", "3",
            "--set", "progress=epoch"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_epochs(run_dir, n, proc, timeout=120):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if len(json.loads((run_dir / "history.json").read_text())) >= n:
                return
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("training did not reach the epoch in time")


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_leaves_a_resumable_run(tmp_path, sig):
    import signal

    from .conftest import make_image_folder

    data = make_image_folder(tmp_path / "faces", per_class=8, size=48)
    for attempt, epochs in enumerate((40, 400)):
        run_dir = tmp_path / "runs" / f"sig{attempt}"
        proc = _start_cli_training(tmp_path, data, run_dir.name, epochs=epochs)
        _wait_for_epochs(run_dir, 2, proc)
        proc.send_signal(getattr(signal, sig))
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            break
        # A stalled test process can see the signal land after the last epoch: try again
        # with ten times the epochs (a finished run is no test of an interrupted one).
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and f"happysad train --resume {run_dir}" in err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    done = metrics["epochs_run"]
    resumed = train(resume_config(run_dir), resume=run_dir, echo=lambda s: None)
    assert resumed.run.history()["epoch"] == list(range(1, epochs + 1))
    assert resumed.status == FINISHED and done >= 2


@pytest.mark.slow
def test_a_second_signal_ends_training_at_once_and_the_run_resumes(tmp_path):
    import signal
    import time

    from .conftest import make_image_folder

    data = make_image_folder(tmp_path / "faces", per_class=8, size=48)
    run_dir = tmp_path / "runs" / "twice"
    proc = _start_cli_training(tmp_path, data, run_dir.name, epochs=400)
    _wait_for_epochs(run_dir, 2, proc)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    # The second signal's message (two pending signals are taken in signal-number order,
    # so either can be second), or the first's if both landed in one call into TensorFlow
    assert (f" again: stopped at once; `happysad train --resume {run_dir}`" in err
            or f"Continue with: happysad train --resume {run_dir}" in err), err
    resumed = train(resume_config(run_dir), resume=run_dir, echo=lambda s: None)
    assert resumed.status == FINISHED
    assert resumed.run.history()["epoch"] == list(range(1, 401))


@pytest.mark.slow
def test_sigkill_resumes_from_the_last_backup_with_the_same_history(tmp_path):
    from .conftest import make_image_folder

    data = make_image_folder(tmp_path / "faces", per_class=8, size=48)
    proc = _start_cli_training(tmp_path, data, "killed", epochs=12)
    run_dir = tmp_path / "runs" / "killed"
    _wait_for_epochs(run_dir, 3, proc)
    proc.kill()
    proc.communicate()
    assert not (run_dir / "metrics.json").exists()  # died without a word
    resumed = train(resume_config(run_dir), resume=run_dir, echo=lambda s: None)

    whole = _start_cli_training(tmp_path, data, "whole", epochs=12)
    out, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err
    a = RunFolder(tmp_path / "runs" / "whole").history()
    b = resumed.run.history()
    assert b["epoch"] == list(range(1, 13))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), key


def test_augment_tensorboard_and_early_stopping(tmp_path, image_folder):
    result = train(_config(tmp_path, image_folder, epochs=6, augment=True, tensorboard=True,
                           patience=1, restore_best=True, name="extras"), echo=lambda s: None)
    assert result.status == FINISHED
    assert any((result.run.path / "tensorboard").rglob("events.out.tfevents.*"))
    assert result.epochs_run <= 6
    if result.epochs_run < 6:
        assert result.stop_reason.startswith("early stopping")


def test_restore_best_reports_the_epoch_the_model_keeps(tmp_path):
    from happysad.evaluate import evaluate_run

    result = train(_config(tmp_path, _noise_folder(tmp_path / "noise"), epochs=8, patience=8,
                           restore_best=True, learning_rate=0.003, val_split=0.5,
                           dense_units=32, name="best"), echo=lambda s: None)
    history = result.run.history()
    best = int(np.argmin(history["val_loss"])) + 1
    assert best != result.epochs_run  # the case that matters: the last epoch is not the best
    assert result.run.metrics()["model_epoch"] == best
    assert result.final["val_loss"] == pytest.approx(history["val_loss"][best - 1])
    scored = evaluate_run(result.run.path, figure=False)  # the saved model is that epoch's
    assert scored["loss"] == pytest.approx(history["val_loss"][best - 1], rel=1e-3, abs=1e-4)


def _noise_folder(root):
    """Noise with random labels: the network can only memorise, so val_loss wanders and
    the best epoch is not the last one."""
    from .conftest import write_image

    rng = np.random.default_rng(0)
    for name in ("happy", "sad"):
        for i in range(8):
            write_image(root / name / f"{i}.png", rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
    return root


def _noisy_early_stopping(**extra):
    """Settings under which val_loss wanders on _noise_folder, so the best epoch is not the last."""
    return dict(restore_best=True, learning_rate=0.003, val_split=0.5, dense_units=32,
                deterministic=True, **extra)


def _assert_same_weights(model_a, model_b):
    a, b = keras.models.load_model(model_a), keras.models.load_model(model_b)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, rtol=1e-6, atol=1e-7)


def test_a_resumed_run_stops_early_where_a_whole_one_does(tmp_path):
    data = _noise_folder(tmp_path / "noise")
    common = _noisy_early_stopping(epochs=12, patience=2)
    whole = train(_config(tmp_path, data, name="whole", **common), echo=lambda s: None)
    best = whole.run.metrics()["model_epoch"]
    assert whole.stop_reason.startswith("early stopping") and best + 1 < whole.epochs_run, (
        "this test needs a run that stops early with two epochs after its best")

    # Cut after the best epoch and one flat one: what counts as flat, and the best
    # epoch's weights, live only in the early-stopping state the backup carries.
    cut = train(_config(tmp_path, data, name="cut", **common), echo=lambda s: None,
                callbacks=[_InterruptAt(best + 2)])
    assert cut.status == INTERRUPTED and cut.epochs_run == best + 1
    resumed = train(resume_config(cut.run.path), resume=cut.run.path, echo=lambda s: None)

    assert resumed.epochs_run == whole.epochs_run and resumed.stop_reason == whole.stop_reason
    assert resumed.run.metrics()["model_epoch"] == best
    _assert_same_weights(whole.run.model_path, resumed.run.model_path)


def test_a_run_cut_after_its_last_epoch_keeps_its_best_epoch_on_resume(tmp_path):
    """Resume with nothing left to train must still put the best epoch back, as fit's end would."""
    data = _noise_folder(tmp_path / "noise")
    common = _noisy_early_stopping(epochs=8, patience=8)
    whole = train(_config(tmp_path, data, name="whole", **common), echo=lambda s: None)
    best = whole.run.metrics()["model_epoch"]
    assert best != whole.epochs_run, "this test needs a run whose last epoch is not its best"

    cut = train(_config(tmp_path, data, name="cut", **common), echo=lambda s: None,
                callbacks=[_InterruptAtTheEnd()])
    assert cut.status == INTERRUPTED and not cut.run.model_path.exists()
    resumed = train(resume_config(cut.run.path), resume=cut.run.path, echo=lambda s: None)
    assert resumed.status == FINISHED and resumed.run.metrics()["model_epoch"] == best
    _assert_same_weights(whole.run.model_path, resumed.run.model_path)


def test_a_network_too_big_for_memory_is_refused_before_anything_runs(tmp_path, image_folder,
                                                                     monkeypatch):
    from happysad import config as config_module

    monkeypatch.setattr(config_module, "physical_memory_bytes", lambda: 2**30)
    big = _config(tmp_path, image_folder, image_size=1024, conv_filters=[512, 8, 8, 8, 8, 8, 8],
                  dense_units=1, runs_dir=str(tmp_path / "never"))
    with pytest.raises(ConfigError, match="GiB per step, more than this machine's 1.0 GiB"):
        train(big, echo=lambda s: None)
    assert not (tmp_path / "never").exists()
    # The lab's network needs a small fraction of that.
    assert config_module.training_memory_bytes(TrainConfig()) < 2**30
