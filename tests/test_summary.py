"""The layer table: of a config, of a saved Keras run (model parameters only), of a scratch run."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from happysad.cli import main
from happysad.summary import summarize


def test_saved_run_counts_the_model_not_the_optimizer(trained_run):
    text = summarize(trained_run)
    assert "Optimizer params" not in text
    # 24 -> conv 22 -> pool 11: 11*11*8 = 968 -> Dense(16) -> Dense(1)
    expected = (3 * 3 * 3 * 8 + 8) + (968 * 16 + 16) + (16 + 1)
    assert f"Total params: {expected:,}" in text


def test_scratch_run_summary(tmp_path):
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.normal(size=(30, 3)), np.repeat([1, 2, 3], 10)])
    table = tmp_path / "t.csv"
    np.savetxt(table, rows, delimiter=",")
    out = CliRunner().invoke(main, ["scratch", "train", "--data", str(table), "--hidden", "4",
                                    "--epochs", "5", "--runs-dir", str(tmp_path / "runs"),
                                    "--name", "s", "-q"])
    assert out.exit_code == 0, out.output
    result = CliRunner().invoke(main, ["summary", str(tmp_path / "runs" / "s")])
    assert result.exit_code == 0, result.output
    assert "3-4-3" in result.output
    assert f"Total params: {4 * 4 + 3 * 5}" in result.output  # Θ1 4x4, Θ2 3x5
