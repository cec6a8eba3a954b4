"""Figures drawn from a saved history only: full runs, cut-short runs, no validation."""

from __future__ import annotations

import logging

import pytest

from happysad.errors import RunError
from happysad.plot import plot_run
from happysad.runs import RunFolder

PNG = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path, rows):
    path = tmp_path / "run"
    path.mkdir()
    RunFolder(path).write_history(rows)
    return path


def test_both_figures_from_history(tmp_path):
    rows = [{"epoch": e, "loss": 1 / e, "accuracy": e / 4, "val_loss": 1.2 / e,
             "val_accuracy": e / 5} for e in range(1, 5)]
    written = plot_run(_run(tmp_path, rows))
    assert [p.name for p in written] == ["training.png", "validation.png"]
    assert all(p.read_bytes()[:8] == PNG and p.stat().st_size > 5000 for p in written)


def test_run_without_validation_draws_training_only(tmp_path, caplog):
    rows = [{"epoch": 1, "loss": 0.7, "accuracy": 0.5}]
    with caplog.at_level(logging.WARNING, logger="happysad"):
        written = plot_run(_run(tmp_path, rows), tmp_path / "figs")
    assert [p.name for p in written] == ["training.png"]
    assert (tmp_path / "figs" / "training.png").is_file()
    assert "no val_accuracy" in caplog.text


def test_cut_short_run_with_a_nan_epoch(tmp_path):
    rows = [{"epoch": 1, "loss": 0.7, "accuracy": 0.5},
            {"epoch": 2, "loss": float("nan"), "accuracy": 0.5}]
    assert len(plot_run(_run(tmp_path, rows))) == 1


def test_no_history_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no history yet"):
        plot_run(tmp_path / "empty")
    with pytest.raises(RunError, match="not found"):
        plot_run(tmp_path / "missing")


def test_out_folder_files_are_never_overwritten(tmp_path):
    run = _run(tmp_path, [{"epoch": 1, "loss": 0.7, "accuracy": 0.5}])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "training.png").write_text("precious")
    with pytest.raises(RunError, match="already exists"):
        plot_run(run, mine)
    assert (mine / "training.png").read_text() == "precious"
    plot_run(run)
    plot_run(run)  # the run folder's own figures are simply redrawn


def test_damaged_history_values_are_an_error(tmp_path):
    run = _run(tmp_path, [{"epoch": 1, "loss": 0.7, "accuracy": 0.5, "val_loss": "abc"}])
    with pytest.raises(RunError, match="val_loss of epoch 1 is 'abc', not a number"):
        plot_run(run)


@pytest.mark.parametrize("name, content, problem", [
    ("history.csv", b"epoch,loss,accuracy\n1,0.7,0.5\n2,0.6,0.5,0.9\n", "line 3 has more cells"),
    ("history.csv", b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary", "cannot read"),
    ("history.json", b'[{"epoch": NaN, "loss": 0.7, "accuracy": 0.5}]', "epoch nan is not"),
    ("history.json", b'[{"epoch": 1, "loss": 0.7}, {"loss": 0.6}]', "epoch None is not"),
])
def test_damaged_history_files_are_an_error_naming_them(tmp_path, name, content, problem):
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_bytes(content)
    with pytest.raises(RunError) as caught:
        plot_run(run)
    message = str(caught.value)
    assert str(run / name) in message and problem in message and "run folder is damaged" in message
    assert "\n" not in message
    assert not (run / "training.png").exists()
