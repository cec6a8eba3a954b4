"""``happysad scratch train | cv | gradcheck`` end to end, on tiny data."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from happysad.cli import main
from happysad.config import load_config
from happysad.runs import RunFolder
from happysad.scratch.config import ScratchConfig
from happysad.scratch.network import Network

HAS_IMAGES = importlib.util.find_spec("happysad.images") is not None


def invoke(*args):
    return CliRunner().invoke(main, ["scratch", *[str(a) for a in args]])


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    err = result.stderr.strip()
    assert "Traceback" not in result.output
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for fragment in fragments:
        assert fragment in err, err


def test_train_writes_a_complete_run_folder(tiny_csv, tmp_path):
    result = invoke("train", "--data", tiny_csv, "--hidden", "6", "--epochs", "60",
                    "--runs-dir", tmp_path / "runs", "--name", "lab1", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert "Training accuracy:" in result.output and "Validation accuracy:" in result.output
    run_dir = tmp_path / "runs" / "lab1"
    assert f"Run folder: {run_dir}" in result.output
    run = RunFolder(run_dir)
    for path in (run.config_path, run.history_csv, run.history_json, run.network_path, run.metrics_path):
        assert path.is_file(), path

    rows = run.history_rows()
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[-1]["loss"] < rows[0]["loss"]
    with run.history_csv.open() as f:
        assert next(csv.reader(f)) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]

    metrics = run.metrics()
    assert metrics["kind"] == "scratch"
    assert metrics["layer_sizes"] == [4, 6, 3]
    assert metrics["class_names"] == ["1", "2", "3"]
    assert metrics["optimizer"] == "lbfgs"
    assert metrics["examples"] == {"train": 48, "val": 12}
    assert metrics["data"] == str(tiny_csv)
    assert metrics["epochs"] == len(rows) and metrics["wall_time_s"] >= 0
    assert metrics["train_accuracy"] >= 0.9 and metrics["val_accuracy"] >= 0.9
    assert metrics["final"]["val_accuracy"] == metrics["val_accuracy"]
    assert metrics["epochs_run"] == metrics["epochs"] and metrics["status"] == "finished"
    assert metrics["val_accuracy"] == pytest.approx(rows[-1]["val_accuracy"])

    # The saved config resolves again, and the saved network predicts raw rows.
    config = load_config(ScratchConfig, run.config_path)
    assert config.hidden == [6] and config.epochs == 60 and config.seed == 1
    network = Network.load(run.network_path)
    data = np.loadtxt(tiny_csv, delimiter=",")
    accuracy = np.mean(network.predict(data[:, :-1]) == np.array([str(int(v)) for v in data[:, -1]]))
    assert accuracy >= 0.9


def test_train_options_config_file_and_set(tiny_csv, tmp_path):
    config_file = tmp_path / "scratch.yaml"
    config_file.write_text("hidden: [5, 4]\noptimizer: gd\nepochs: 3\nlearning_rate: 0.1\n")
    result = invoke("train", "--config", config_file, "--data", tiny_csv, "--set", "epochs=4",
                    "--learning-rate", "1e-1", "--val-split", "0", "--activation", "relu",
                    "--dtype", "float32", "--runs-dir", tmp_path / "runs", "--name", "r", "-q")
    assert result.exit_code == 0, result.output
    assert "epoch " not in result.output  # -q
    run = RunFolder(tmp_path / "runs" / "r")
    metrics = run.metrics()
    assert metrics["layer_sizes"] == [4, 5, 4, 3]
    assert metrics["optimizer"] == "gd" and metrics["epochs"] == 4
    assert metrics["hidden_activation"] == "relu" and metrics["dtype"] == "float32"
    assert metrics["val_accuracy"] is None
    assert "val_loss" not in run.history_rows()[0]
    assert "Validation accuracy" not in result.output


def test_hidden_layers_repeatable_or_comma_list(tiny_csv, tmp_path):
    for name, args in (("a", ["--hidden", "7", "--hidden", "3"]), ("b", ["--hidden", "7,3"])):
        result = invoke("train", "--data", tiny_csv, *args, "--epochs", "2", "--runs-dir", tmp_path, "--name", name, "-q")
        assert result.exit_code == 0, result.output
        assert RunFolder(tmp_path / name).metrics()["layer_sizes"] == [4, 7, 3, 3]


def test_cv_prints_each_fold_and_the_mean(tiny_csv):
    result = invoke("cv", "--data", tiny_csv, "--folds", "3", "--hidden", "5", "--epochs", "50")
    assert result.exit_code == 0, result.output
    assert result.output.count("fold ") == 3
    line = [l for l in result.output.splitlines() if l.startswith("Mean accuracy")]
    assert len(line) == 1 and "±" in line[0] and "over 3 folds" in line[0]
    assert float(line[0].split()[2]) >= 0.9


@pytest.mark.skipif(not HAS_IMAGES, reason="happysad.images (the image loader) is not written yet")
def test_train_on_an_image_folder(image_folder, tmp_path):
    result = invoke("train", "--data", image_folder, "--image-size", "8", "--hidden", "4",
                    "--epochs", "30", "--runs-dir", tmp_path / "runs", "--name", "faces", "-q")
    assert result.exit_code == 0, result.output
    metrics = RunFolder(tmp_path / "runs" / "faces").metrics()
    assert metrics["layer_sizes"] == [64, 4, 1]  # two classes: one sigmoid output
    assert metrics["class_names"] == ["happy", "sad"] and metrics["data_kind"] == "images"
    assert "Training accuracy:" in result.output


def test_gradcheck_passes_for_sigmoid_and_relu():
    for args in ([], ["--layers", "3,6,4,2", "--activation", "relu", "--lambda", "0"]):
        result = invoke("gradcheck", *args)
        assert result.exit_code == 0, result.output
        difference = float(result.output.split("relative difference ")[1].split()[0])
        assert difference < 1e-7
        assert "OK" in result.output


def test_gradcheck_exits_nonzero_when_the_check_fails(monkeypatch):
    from happysad.scratch import run

    real = run.gradient_check

    def broken(*args, **kwargs):
        check = real(*args, **kwargs)
        check.relative_difference = 1e-3
        return check

    monkeypatch.setattr(run, "gradient_check", broken)
    result = invoke("gradcheck")
    assert result.exit_code == 1
    assert "FAILED" in result.output


@pytest.mark.parametrize("args,fragments", [
    (["train"], ["no data given", "--data"]),
    (["train", "--data", "missing.csv"], ["missing.csv", "not found"]),
    (["train", "--data", "{bad}"], ["line 2", "column 1", "'x'"]),
    (["train", "--data", "{good}", "--epochs", "ten"], ["--epochs", "'ten'"]),
    (["train", "--data", "{good}", "--optimizer", "adam"], ["--optimizer", "'adam'"]),
    (["train", "--data", "{good}", "--hidden", "5,x"], ["--hidden", "'x'"]),
    (["train", "--data", "{good}", "--hidden", "0"], ["hidden", ">= 1"]),
    (["train", "--data", "{good}", "--lambda", "-1"], ["lambda", ">= 0"]),
    (["train", "--data", "{good}", "--learning-rate", "0"], ["learning_rate", "> 0"]),
    (["train", "--data", "{good}", "--batch-size", "0"], ["batch_size"]),
    (["train", "--data", "{good}", "--val-split", "1.5"], ["val_split"]),
    (["train", "--data", "{good}", "--activation", "tanh"], ["--activation", "'tanh'"]),
    (["train", "--data", "{good}", "--set", "hiden=[3]"], ["hiden", "hidden"]),
    (["train", "--data", "{good}", "--config", "missing.yaml"], ["missing.yaml"]),
    (["cv", "--data", "{good}", "--folds", "1"], ["folds", "at least 2"]),
    (["cv", "--data", "{good}", "--folds", "500"], ["500 folds"]),
    (["gradcheck", "--layers", "4"], ["at least an input and an output"]),
    (["gradcheck", "--layers", "4,a"], ["--layers", "'a'"]),
    (["gradcheck", "--lambda", "x"], ["--lambda"]),
    (["gradcheck", "--activation", "tanh"], ["--activation"]),
])
def test_bad_inputs_are_one_line_errors(args, fragments, tiny_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,1\nx,3,2\n")
    args = [a.format(good=tiny_csv, bad=bad) for a in args]
    result = invoke(*args)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_scratch_does_not_import_tensorflow(tiny_csv, tmp_path):
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from happysad.cli import main\n"
        f"r = CliRunner().invoke(main, ['scratch', 'train', '--data', {str(tiny_csv)!r}, '--epochs', '3',"
        f" '--runs-dir', {str(tmp_path)!r}, '-q'])\n"
        "assert r.exit_code == 0, r.output\n"
        "import happysad.scratch, happysad.scratch.run\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'sklearn'))\n"
        "print(bad[:5])\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_help_texts():
    result = invoke("--help")
    assert result.exit_code == 0 and "gradcheck" in result.output and "cv" in result.output
    result = invoke("train", "--help")
    assert "--lambda" in result.output and "--hidden" in result.output and "--optimizer" in result.output
