"""Bad inputs to ``happysad scratch``: one 'error: ...' line, non-zero exit, nothing written.

Regression tests for a QA pass: absurd layer sizes, non-finite or huge λ, diverging
training, overflowing feature ranges, NaN labels and unreadable .mat files. Tests that
run the numbers turn warnings into errors, so a raw NumPy RuntimeWarning fails them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from happysad.cli import main
from happysad.errors import ConfigError, DataError, TrainingError
from happysad.runs import RunFolder
from happysad.scratch import config as scratch_config
from happysad.scratch.config import ScratchConfig
from happysad.scratch.network import (
    GradientCheck,
    gradient_check,
    init_weights,
    relative_difference,
    unroll,
)
from happysad.scratch.optimize import Objective, gradient_descent, lbfgs, sgd
from happysad.scratch.tables import Dataset, load_dataset, load_mat, load_table

no_warnings = pytest.mark.filterwarnings("error")


def invoke(*args):
    return CliRunner().invoke(main, ["scratch", *[str(a) for a in args]])


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    err = result.stderr.strip()
    assert "Traceback" not in result.output and "Warning" not in err, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for fragment in fragments:
        assert fragment in err, err
    return err


def write(path, text):
    path.write_text(text)
    return path


# -- 1. network size ------------------------------------------------------------------


@pytest.mark.parametrize("hidden,fragments", [
    ("100000000", ["hidden", "100,000", "[100000000]"]),
    ("50000,50000", ["2,500,200,001 weights", "50,000,000", "fewer or smaller hidden layers"]),
])
def test_absurd_hidden_sizes_are_refused_before_anything_is_written(hidden, fragments, tiny_csv, tmp_path):
    result = invoke("train", "--data", tiny_csv, "--hidden", hidden, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "runs").exists()


def test_weight_limit_counts_the_inputs_and_runs_before_the_run_folder(tiny_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(scratch_config, "MAX_WEIGHTS", 1000)
    # 4 inputs, 200 hidden, 3 outputs: 200 x 5 + 3 x 201 = 1,603 weights.
    result = invoke("train", "--data", tiny_csv, "--hidden", "200", "--runs-dir", tmp_path / "runs")
    assert_one_line_error(result, "4-200-3", "1,603 weights", "limit of 1,000", "hidden")
    assert not (tmp_path / "runs").exists()
    result = invoke("cv", "--data", tiny_csv, "--hidden", "200")
    assert_one_line_error(result, "1,603 weights")


def test_check_network_size():
    config = ScratchConfig(hidden=[100_000])
    assert config.check_network_size(7, 3, 100) == [7, 100_000, 3]
    with pytest.raises(ConfigError, match=r"7000-100000-3 has 700,400,003 weights.*limit of 50,000,000"):
        config.check_network_size(7000, 3)
    with pytest.raises(ConfigError, match=r"on 1,000 examples needs 100,003,000 activations"):
        config.check_network_size(7, 3, 1000)
    with pytest.raises(ConfigError, match="at most 100,000 units"):
        ScratchConfig(hidden=[100_001]).validate()


# -- 2. gradcheck λ and non-finite gradients ------------------------------------------


@pytest.mark.parametrize("lam", ["nan", "inf", "-inf", "-1", "1e7"])
@no_warnings
def test_gradcheck_refuses_a_lambda_that_is_not_finite_and_sane(lam):
    result = invoke("gradcheck", "--lambda", lam)
    assert_one_line_error(result, "--lambda", ">= 0", "at most 1e+06")
    assert "OK" not in result.output


@pytest.mark.parametrize("lam", [math.nan, math.inf, -1.0])
def test_gradient_check_refuses_a_bad_lambda(lam):
    with pytest.raises(ConfigError, match="lambda"):
        gradient_check([3, 4, 2], lam=lam)


def test_a_gradient_check_with_nan_or_inf_gradients_fails():
    good = np.array([0.1, -0.2, 0.3])
    for bad in (np.array([np.nan, 0.0, 0.0]), np.array([np.inf, 0.0, 0.0]), np.full(3, np.nan)):
        assert not relative_difference(bad, bad) < 1e-7
        assert not relative_difference(good, bad) < 1e-7
        for numerical, backprop in ((bad, bad), (good, bad), (bad, good)):
            check = GradientCheck([1, 1], "sigmoid", 0.0, numerical, backprop, 0.0)
            assert not check.finite and not check.passed


def test_gradcheck_cli_reports_non_finite_gradients_as_a_failure(monkeypatch):
    from happysad.scratch import run

    def nan_check(sizes, activation, lam, seed=0):
        nan = np.full(3, np.nan)
        return GradientCheck(list(sizes), activation, lam, nan, nan, relative_difference(nan, nan))

    monkeypatch.setattr(run, "gradient_check", nan_check)
    result = invoke("gradcheck")
    assert result.exit_code == 1
    assert "FAILED" in result.output and "NaN or infinite" in result.output and " OK" not in result.output


# -- 3. λ bounds, non-finite costs, empty L-BFGS reasons ------------------------------


@pytest.mark.parametrize("lam", ["1e308", "1e7", "nan", "inf"])
def test_train_refuses_a_huge_or_non_finite_lambda(lam, tiny_csv, tmp_path):
    result = invoke("train", "--data", tiny_csv, "--lambda", lam, "--epochs", "5", "--runs-dir", tmp_path / "runs")
    assert_one_line_error(result, "lambda", "at most 1e+06")
    assert not (tmp_path / "runs").exists()


def test_the_largest_lambda_still_trains(tiny_csv, tmp_path):
    result = invoke("train", "--data", tiny_csv, "--lambda", "1e6", "--epochs", "3",
                    "--runs-dir", tmp_path, "--name", "r", "-q")
    assert result.exit_code == 0, result.output


def _problem(lam=0.0):
    rng = np.random.default_rng(0)
    X = rng.random((40, 2))
    labels = (X[:, 0] > X[:, 1]).astype(int)
    return Objective([2, 4, 1], X, labels, n_classes=2, lam=lam), unroll(init_weights([2, 4, 1]))


class BlowsUp(Objective):
    """J turns NaN from the ``after``-th full-batch evaluation on."""

    after = 1

    def value_and_grad(self, theta, grad):
        cost = super().value_and_grad(theta, grad)
        return math.nan if self.evaluations >= self.after else cost

    def value(self, theta):
        self.evaluations += 1
        cost = super().value(theta)
        return math.nan if self.evaluations >= self.after else cost


@pytest.mark.parametrize("optimizer", ["lbfgs", "gd", "sgd"])
@pytest.mark.parametrize("after,epoch", [(1, "epoch 0"), (4, "at epoch")])
def test_a_non_finite_cost_is_a_training_error_naming_the_epoch(optimizer, after, epoch):
    rng = np.random.default_rng(0)
    X = rng.random((40, 2))
    objective = BlowsUp([2, 4, 1], X, (X[:, 0] > X[:, 1]).astype(int), n_classes=2, lam=0.5)
    objective.after = after
    theta = unroll(init_weights([2, 4, 1]))
    if optimizer == "sgd" and after == 1:  # sgd has no initial evaluation: its first cost is epoch 1's
        epoch = "at epoch 1"
    with pytest.raises(TrainingError, match=f"nan.*{epoch}.*lambda \\(now 0.5\\)"):
        if optimizer == "lbfgs":
            lbfgs(objective, theta, max_iter=50)
        elif optimizer == "gd":
            gradient_descent(objective, theta, learning_rate=0.1, epochs=10)
        else:
            sgd(objective, theta, learning_rate=0.1, epochs=10, batch_size=8)


def test_lbfgs_with_a_nan_gradient_is_a_training_error_not_a_stop():
    class NanGradient(Objective):
        def value_and_grad(self, theta, grad):
            cost = super().value_and_grad(theta, grad)
            grad[0] = np.nan
            return cost

    objective, theta = _problem()
    objective.__class__ = NanGradient
    with pytest.raises(TrainingError, match="the cost became nan"):
        lbfgs(objective, theta, max_iter=20)


def test_lbfgs_never_gives_an_empty_reason():
    # A wrong gradient: no line search step lowers J. SciPy >= 1.15 says just "ABNORMAL: ".
    class WrongGradient(Objective):
        def value_and_grad(self, theta, grad):
            cost = super().value_and_grad(theta, grad)
            grad *= -1.0
            return cost

    objective, theta = _problem()
    objective.__class__ = WrongGradient
    result = lbfgs(objective, theta, max_iter=50)
    assert result.message.startswith("L-BFGS stopped: ")
    assert result.message.split(": ", 1)[1].strip(), result.message


def test_lbfgs_reason_for_a_message_with_nothing_after_the_colon(monkeypatch):
    import scipy.optimize

    def fake_minimize(fun, x0, **kwargs):
        cost, _ = fun(x0)
        return scipy.optimize.OptimizeResult(x=x0, fun=cost, success=False, status=2, message="ABNORMAL: ", nit=0)

    monkeypatch.setattr(scipy.optimize, "minimize", fake_minimize)
    objective, theta = _problem()
    result = lbfgs(objective, theta, max_iter=5)
    assert result.message == "L-BFGS stopped: abnormal (the line search found no step that lowers the cost)"


# -- 6. diverging gradient descent: no raw warnings, a clear error ---------------------


@no_warnings
@pytest.mark.parametrize("optimizer", ["gd", "sgd"])
def test_a_diverging_learning_rate_is_one_clear_error(optimizer, tiny_csv, tmp_path):
    result = invoke("train", "--data", tiny_csv, "--optimizer", optimizer, "--lr", "1e300", "--epochs", "5",
                    "--runs-dir", tmp_path, "--name", "r", "-q")
    err = assert_one_line_error(result, "at epoch 1", "lower the learning rate (now 1e+300)", "lambda")
    assert str(tmp_path / "r") in err
    metrics = RunFolder(tmp_path / "r").metrics()  # the failed run is recorded, not orphaned
    assert metrics["status"] == "failed" and metrics["epochs_run"] == 0
    assert "at epoch 1" in metrics["stop_reason"]


@no_warnings
def test_gradient_descent_diverging_later_keeps_the_history(tiny_csv, tmp_path):
    result = invoke("train", "--data", tiny_csv, "--optimizer", "gd", "--lr", "1e150", "--epochs", "20",
                    "--runs-dir", tmp_path, "--name", "r", "-q")
    assert_one_line_error(result, "the cost became", "lower the learning rate")
    run = RunFolder(tmp_path / "r")
    assert run.metrics()["status"] == "failed"
    assert len(run.history_rows()) == run.metrics()["epochs_run"]


# -- 4. features whose range overflows ------------------------------------------------


@no_warnings
def test_a_feature_range_that_overflows_is_a_data_error(tmp_path):
    path = write(tmp_path / "huge.csv", "1,5,1\n-1e308,6,1\n1e308,7,2\n2,8,2\n")
    result = invoke("train", "--data", path, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(result, str(path), "column 1", "-1e+308", "rescale")
    assert not (tmp_path / "runs").exists()
    # Huge values whose range still fits are fine.
    path = write(tmp_path / "big.csv", "1e300,5,1\n2e300,6,1\n1.5e300,7,2\n1.2e300,8,2\n")
    assert load_table(path).X.shape == (4, 2)


@no_warnings
def test_dataset_refuses_non_finite_features_and_overflowing_ranges():
    with pytest.raises(DataError, match=r"src, column 2: example 2 has the value nan"):
        Dataset(np.array([[0.0, 1.0], [1.0, np.nan]]), np.array([0, 1]), ["a", "b"], "src")
    with pytest.raises(DataError, match=r"src, column 2: values from -1\.7e\+308 to 1\.7e\+308"):
        Dataset(np.array([[0.0, -1.7e308], [1.0, 1.7e308]]), np.array([0, 1]), ["a", "b"], "src")


@no_warnings
def test_mat_features_that_overflow_or_are_not_finite(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "huge.mat"
    savemat(path, {"X": np.array([[1.0, -1e308], [2.0, 1e308]]), "y": np.array([[1], [2]])})
    with pytest.raises(DataError, match=r"huge.mat: X, column 2: values from"):
        load_mat(path)
    savemat(path, {"X": np.array([[1.0, 2.0], [np.inf, 3.0]]), "y": np.array([[1], [2]])})
    with pytest.raises(DataError, match=r"huge.mat: X, column 1: example 2 has the value inf"):
        load_mat(path)


# -- 5. labels must be finite ---------------------------------------------------------


@pytest.mark.parametrize("label,fragment", [
    ("nan", "'nan' is not a finite number"),
    ("NaN", "'NaN' is not a finite number"),
    ("inf", "'inf' is not a finite number"),
    ("-Infinity", "'-Infinity' is not a finite number"),
    ("", "is empty"),
])
def test_a_label_that_is_nan_inf_or_empty_is_a_data_error(label, fragment, tmp_path):
    path = write(tmp_path / "labels.csv", f"1,2,1\n3,4,2\n5,6,{label}\n7,8,2\n")
    result = invoke("train", "--data", path, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(result, str(path), "line 3", fragment)
    assert not (tmp_path / "runs").exists()


def test_text_labels_still_work(tmp_path):
    path = write(tmp_path / "text.csv", "a,b,mood\n1,2,happy\n3,4,sad\n5,6,happy\n")
    data = load_table(path)
    assert data.class_names == ["happy", "sad"] and data.y.tolist() == [0, 1, 0]


def test_a_nan_label_in_a_mat_file_is_a_data_error(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "nan.mat"
    savemat(path, {"X": np.eye(3), "y": np.array([[1.0], [np.nan], [2.0]])})
    with pytest.raises(DataError, match=r"nan.mat: label 2 of y is nan"):
        load_mat(path)


# -- 7. .mat files scipy cannot read --------------------------------------------------


def test_an_hdf5_mat_file_says_how_to_convert_it(tmp_path):
    # MATLAB's v7.3 puts the HDF5 superblock after a 512-byte header; h5py puts it at 0.
    for name, head in (("v73.mat", b"MATLAB 7.3 MAT-file".ljust(512, b" ")), ("h5.mat", b"")):
        path = tmp_path / name
        path.write_bytes(head + b"\x89HDF\r\n\x1a\n" + bytes(600))
        result = invoke("train", "--data", path, "--runs-dir", tmp_path / "runs")
        assert_one_line_error(result, str(path), "v7.3", "-v7", "export X and y to CSV")
    assert not (tmp_path / "runs").exists()


def test_an_unreadable_mat_file_says_what_to_do(tmp_path):
    path = write(tmp_path / "bad.mat", "not a mat file at all\n")
    with pytest.raises(DataError, match=r"not a readable .mat file.*-v7.*export X and y to CSV"):
        load_dataset(path)
