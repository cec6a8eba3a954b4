"""Each export format is reloaded and checked against the trained model before it lands."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from happysad.cli import main
from happysad.errors import RunError
from happysad.export import ExportError, export_run


@pytest.mark.parametrize("fmt", ["keras", "saved_model", "tflite"])
def test_export_each_format(trained_run, tmp_path, fmt):
    out = tmp_path / {"keras": "m.keras", "saved_model": "sm", "tflite": "m.tflite"}[fmt]
    result = export_run(trained_run, fmt, out)
    assert out.exists() and result["max_abs_diff"] <= result["tolerance"]
    assert result["checked_images"] == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.slow
def test_export_cli_default_path_and_no_overwrite(trained_run):
    ok = CliRunner().invoke(main, ["export", str(trained_run), "--format", "tflite"])
    assert ok.exit_code == 0, ok.output
    assert (trained_run / "export" / "model.tflite").is_file()
    again = CliRunner().invoke(main, ["export", str(trained_run), "--format", "tflite"])
    assert again.exit_code != 0 and "already exists" in again.stderr


def test_export_errors(trained_run, tmp_path):
    with pytest.raises(ExportError, match="unknown export format"):
        export_run(trained_run, "onnx")
    with pytest.raises(ExportError, match="must end in .keras"):
        export_run(trained_run, "keras", tmp_path / "m.h5")
    with pytest.raises(RunError, match="not found"):
        export_run(tmp_path / "nope", "keras")
