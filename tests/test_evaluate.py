"""Evaluation metrics against hand-worked values, and on a trained run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from happysad.cli import main
from happysad.errors import RunError
from happysad.evaluate import confusion_matrix, evaluate_run, per_class_scores, roc_auc, score


def test_confusion_and_scores_by_hand():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0, 1, 0, 1, 0])
    m = confusion_matrix(y, p, 2)
    assert m.tolist() == [[2, 1], [1, 1]]
    s = per_class_scores(m, ["a", "b"])
    assert s["a"] == {"precision": 2 / 3, "recall": 2 / 3, "f1": pytest.approx(2 / 3), "support": 3}
    assert s["b"]["precision"] == 0.5 and s["b"]["recall"] == 0.5


def test_roc_auc_by_hand_with_ties():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert roc_auc(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert roc_auc(np.array([1, 1]), np.array([0.2, 0.3])) is None


def test_score_binary_threshold_and_loss():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    r = score(np.array([0, 0, 1]), probs, ["happy", "sad"], threshold=0.7)
    assert r["accuracy"] == 1.0
    assert r["loss"] == pytest.approx(-(np.log(0.9) + np.log(0.4) + np.log(0.8)) / 3)


def test_evaluate_a_trained_run(trained_run):
    r = evaluate_run(trained_run)
    assert r["images"] == 4 and "held-out 0.25 split" in r["evaluated_on"]
    assert sum(map(sum, r["confusion_matrix"])) == 4
    assert 0.0 <= r["roc_auc"] <= 1.0
    assert (trained_run / "confusion.png").is_file()


def test_evaluate_cli_json_and_other_data(trained_run, tmp_path):
    from .conftest import make_image_folder

    data = make_image_folder(tmp_path / "more", per_class=3, seed=4)
    result = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert parsed["images"] == 6 and set(parsed["per_class"]) == {"happy", "sad"}
    text = CliRunner().invoke(main, ["evaluate", str(trained_run)]).output
    assert "precision" in text and "confusion matrix" in text


def test_evaluate_refuses_other_classes(trained_run, tmp_path):
    from .conftest import make_image_folder

    data = make_image_folder(tmp_path / "pets", per_class=2, classes=("cat", "dog"))
    with pytest.raises(RunError, match="has classes"):
        evaluate_run(trained_run, str(data), figure=False)


def test_damaged_model_file_is_a_clear_error(trained_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    (copy / "model.keras").write_bytes(b"garbage")
    with pytest.raises(RunError, match="model.keras: the file is damaged or not a Keras model"):
        evaluate_run(copy, figure=False)


def test_a_run_trained_on_a_relative_path_evaluates_from_anywhere(tmp_path, monkeypatch):
    from happysad.config import TrainConfig, build_config
    from happysad.errors import DataError
    from happysad.train import train

    from .conftest import make_image_folder, smoke_overrides

    make_image_folder(tmp_path / "faces")
    monkeypatch.chdir(tmp_path)
    run = train(build_config(TrainConfig, smoke_overrides(tmp_path, data="faces")),
                echo=lambda s: None).run
    assert run.config_dict()["data"] == str(tmp_path / "faces")  # saved as an absolute path
    monkeypatch.chdir(tmp_path.parent)
    assert evaluate_run(run.path, figure=False)["images"] == 2
    (tmp_path / "faces").rename(tmp_path / "moved")
    with pytest.raises(DataError, match=r"trained on \(.*faces\) is no longer there; pass --data"):
        evaluate_run(run.path, figure=False)


def test_changed_data_is_refused_for_the_held_out_split(trained_run, tmp_path):
    import shutil

    import yaml

    from happysad.errors import DataError

    from .conftest import write_image

    faces = tmp_path / "faces"
    shutil.copytree(trained_run.parents[1] / "faces", faces)
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    (copy / "config.yaml").write_text(yaml.safe_dump({**config, "data": str(faces)}))
    assert evaluate_run(copy, figure=False)["images"] == 4  # the same files: the same split
    write_image(faces / "happy" / "new.png", np.zeros((24, 24, 3), np.uint8))
    with pytest.raises(DataError, match=f"the data at {faces} changed since training; .*pass --data"):
        evaluate_run(copy, figure=False)
    result = CliRunner().invoke(main, ["evaluate", str(copy)])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert evaluate_run(copy, str(faces), figure=False)["images"] == 17  # a set given by --data
