"""The run folder: new names only, history files, reading back."""

from __future__ import annotations

import json

import pytest

from happysad.errors import RunError
from happysad.runs import RunFolder, create_run_dir, list_runs


def test_new_folders_never_reuse_an_existing_one(tmp_path):
    a = create_run_dir(tmp_path / "runs")
    b = create_run_dir(tmp_path / "runs")
    assert a != b and a.is_dir() and b.is_dir()
    create_run_dir(tmp_path / "runs", "mine")
    with pytest.raises(RunError, match="already exists"):
        create_run_dir(tmp_path / "runs", "mine")
    for bad in ("a/b", "..", ""):
        with pytest.raises(RunError, match="bad run name"):
            create_run_dir(tmp_path / "runs", bad)


def test_history_round_trip_csv_and_json(tmp_path):
    run = RunFolder(tmp_path)
    rows = [{"epoch": 1, "loss": 0.5, "accuracy": 0.75},
            {"epoch": 2, "loss": float("nan"), "accuracy": 1.0, "val_loss": 0.1}]
    run.write_history(rows)
    assert json.loads(run.history_json.read_text())[1]["loss"] is None  # plain JSON, no NaN
    assert run.history_csv.read_text().splitlines()[0] == "epoch,loss,accuracy,val_loss"
    assert run.history() == {"epoch": [1, 2], "loss": [0.5, None], "accuracy": [0.75, 1.0],
                             "val_loss": [None, 0.1]}
    run.history_json.unlink()  # the CSV alone is enough
    assert run.history()["accuracy"] == [0.75, 1.0]


def test_require_and_list(tmp_path):
    with pytest.raises(RunError, match="not found"):
        RunFolder(tmp_path / "x").require()
    (tmp_path / "r1").mkdir()
    with pytest.raises(RunError, match="no metrics.json"):
        RunFolder(tmp_path / "r1").require("metrics.json")
    (tmp_path / "r1" / "config.yaml").write_text("epochs: 1\n")
    (tmp_path / "junk").mkdir()
    assert [r.path.name for r in list_runs(tmp_path)] == ["r1"]
    assert list_runs(tmp_path / "nowhere") == []


def test_damaged_metrics_and_history_are_errors(tmp_path):
    run = RunFolder(tmp_path)
    run.metrics_path.write_text("[]")
    with pytest.raises(RunError, match="not a JSON object"):
        run.metrics()
    run.history_json.write_text("[1, 2]")
    with pytest.raises(RunError, match="not a list of epochs"):
        run.history()


def test_a_run_killed_outright_is_listed_with_its_last_epoch(tmp_path):
    from happysad.runs import summarize_runs

    run = RunFolder(tmp_path / "killed")
    run.path.mkdir()
    run.config_path.write_text("epochs: 5\n")
    run.write_history([{"epoch": 1, "accuracy": 0.5, "val_accuracy": 0.25},
                       {"epoch": 2, "accuracy": 0.75, "val_accuracy": 0.5}])
    (row,) = summarize_runs(tmp_path)
    assert row == {"run": "killed", "status": "incomplete", "epochs": 2, "accuracy": 0.75,
                   "val_accuracy": 0.5, "stop_reason": ""}


def _listed_run(runs_dir, name, metrics=None):
    run = RunFolder(runs_dir / name)
    run.path.mkdir(parents=True)
    run.config_path.write_text("epochs: 2\n")
    if metrics is not None:
        run.metrics_path.write_text(json.dumps(metrics))
    return run


def test_damaged_runs_are_listed_as_damaged_and_the_others_still_are(tmp_path):
    from click.testing import CliRunner

    from happysad.cli import main
    from happysad.runs import summarize_runs

    good = {"status": "finished", "epochs_run": 2, "final": {"accuracy": 1.0}, "stop_reason": "done"}
    _listed_run(tmp_path, "a-good", good)
    _listed_run(tmp_path, "b-final", {**good, "final": [1]})
    _listed_run(tmp_path, "c-status", {**good, "status": {"x": 1}})
    _listed_run(tmp_path, "d-binary").history_csv.write_bytes(b"\xff\xfe\x00\x81epoch\n\x9c")
    rows = {r["run"]: r for r in summarize_runs(tmp_path)}
    assert rows["a-good"]["status"] == "finished" and rows["a-good"]["accuracy"] == 1.0
    assert [rows[n]["status"] for n in ("b-final", "c-status", "d-binary")] == ["damaged"] * 3
    result = CliRunner().invoke(main, ["runs", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 5 and result.output.count("damaged") == 3


@pytest.mark.parametrize("field, value", [
    ("final", [1]), ("status", {"x": 1}), ("stop_reason", 3), ("epochs_run", "two"),
    ("epochs_run", float("nan")), ("class_names", [1, 2]), ("class_names", ["a", "a"]),
    ("class_names", ["a"]), ("data_sha256", None),
])
def test_metrics_fields_of_the_wrong_type_are_errors(tmp_path, field, value):
    run = RunFolder(tmp_path)
    run.metrics_path.write_text(json.dumps({"status": "finished", field: value}))
    with pytest.raises(RunError, match=f"metrics.json: {field} is .*the run folder is damaged"):
        run.metrics()
