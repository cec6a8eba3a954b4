"""Prediction on files, folders and globs, any size and colour mode, three formats."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from happysad.cli import main
from happysad.errors import DataError, RunError
from happysad.images import load_image
from happysad.inference import load_run
from happysad.predict import expand_inputs, predict


def test_predictions_match_the_model_on_the_training_preprocessing(trained_run, tmp_path):
    src = next((trained_run.parents[1] / "faces" / "sad").glob("*.png"))
    # The same picture, larger and grayscale-free RGBA: predict must resize it as training did.
    big = tmp_path / "big.png"
    Image.open(src).convert("RGBA").resize((48, 48), Image.Resampling.NEAREST).save(big)
    rows = predict(trained_run, [str(src), str(big)])
    trained = load_run(trained_run)
    expected = trained.probabilities(load_image(src, 24)[None])[0]
    assert rows[0]["p_sad"] == pytest.approx(expected[1], abs=1e-5)
    assert rows[0]["class"] == ("sad" if expected[1] >= 0.5 else "happy")
    assert set(rows[1]) == {"file", "class", "probability", "p_happy", "p_sad"}


def test_grayscale_input(trained_run, tmp_path):
    gray = tmp_path / "g.png"
    Image.fromarray(np.full((30, 30), 128, np.uint8), mode="L").save(gray)
    assert len(predict(trained_run, [str(gray)])) == 1


def test_folders_and_globs(trained_run):
    faces = trained_run.parents[1] / "faces"
    assert len(expand_inputs([str(faces)])) == 16
    assert len(expand_inputs([str(faces / "happy" / "*.png")])) == 8
    with pytest.raises(DataError, match="no image file matches"):
        expand_inputs([str(faces / "nothing*.png")])


def test_cli_formats(trained_run):
    folder = str(trained_run.parents[1] / "faces" / "happy")
    table = CliRunner().invoke(main, ["predict", str(trained_run), folder])
    assert table.exit_code == 0 and table.output.splitlines()[0].split() == ["file", "class", "probability"]
    as_json = json.loads(CliRunner().invoke(main, ["predict", str(trained_run), folder, "--format", "json"]).output)
    assert len(as_json) == 8
    csv_out = CliRunner().invoke(main, ["predict", str(trained_run), folder, "--format", "csv",
                                        "--threshold", "0.9"]).output
    assert csv_out.splitlines()[0] == "file,class,probability,p_happy,p_sad"


def test_bad_inputs(trained_run, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    with pytest.raises(DataError, match="cannot read image"):
        predict(trained_run, [str(bad)])
    with pytest.raises(RunError, match="not found"):
        predict(tmp_path / "norun", [str(trained_run.parents[1] / "faces")])
    with pytest.raises(RunError, match="run folder .*norun not found"):  # the run is named first
        predict(tmp_path / "norun", [str(tmp_path / "none.png")])
    result = CliRunner().invoke(main, ["predict", str(trained_run), str(tmp_path / "none.png")])
    assert result.exit_code != 0 and "error: no image file matches" in result.stderr


def _edited_copy(trained_run, tmp_path, config=None, metrics=None):
    """A copy of the trained run with some config.yaml or metrics.json values replaced."""
    import shutil

    import yaml

    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    for name, changes, load, dump in (("config.yaml", config, yaml.safe_load, yaml.safe_dump),
                                      ("metrics.json", metrics, json.loads, json.dumps)):
        if changes:
            values = load((copy / name).read_text())
            (copy / name).write_text(dump({**values, **changes}))
    return copy


@pytest.mark.parametrize("config, metrics, problem", [
    ({"image_size": 64}, None, "config.yaml says image_size 64, but .*model.keras takes 24x24x3"),
    (None, {"class_names": [1, 2]}, "metrics.json: class_names is \\[1, 2\\], not a list"),
    (None, {"class_names": ["a", "b", "c"]}, "names 3 classes, but .*has 1 output unit \\(2"),
])
def test_run_files_that_disagree_are_refused_in_one_line(trained_run, tmp_path, config,
                                                          metrics, problem):
    copy = _edited_copy(trained_run, tmp_path, config, metrics)
    image = str(trained_run.parents[1] / "faces" / "happy")
    with pytest.raises(RunError, match=problem):
        predict(copy, [image])
    result = CliRunner().invoke(main, ["predict", str(copy), image])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and "damaged" in result.stderr


def test_an_empty_image_argument_is_refused(trained_run, tmp_path, monkeypatch):
    monkeypatch.chdir(trained_run.parents[1] / "faces")  # '' would be every image in here
    for empty in ("", "  "):
        with pytest.raises(DataError, match="an image argument is empty"):
            predict(trained_run, [empty])


@pytest.mark.parametrize("files", [
    {"config.yaml": "hidden: [3]\n", "metrics.json": '{"kind": "scratch", "status": "failed"}'},
    {"config.yaml": "hidden: [3]\nactivation: sigmoid\n"},  # killed before metrics.json
])
def test_a_scratch_run_without_its_network_is_named_a_scratch_run(tmp_path, files):
    run = tmp_path / "scratch-run"
    run.mkdir()
    for name, text in files.items():
        (run / name).write_text(text)
    with pytest.raises(RunError, match="is a from-scratch \\(NumPy\\) run") as caught:
        predict(run, [str(tmp_path)])
    assert "--resume" not in str(caught.value)
