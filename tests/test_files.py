"""File helpers: the write probe."""

from __future__ import annotations

import pytest

from happysad.files import probe_writable


def test_probe_keeps_the_folders_it_makes_by_default(tmp_path):
    probe_writable(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir() and not list((tmp_path / "a" / "b").iterdir())


def test_probe_can_remove_the_folders_it_made(tmp_path):
    (tmp_path / "kept").mkdir()
    probe_writable(tmp_path / "kept" / "a" / "b", keep=False)
    assert list(tmp_path.iterdir()) == [tmp_path / "kept"]
    assert not list((tmp_path / "kept").iterdir())


def test_probe_failure_raises_and_removes_what_it_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        probe_writable(blocker / "a", keep=False)
    assert blocker.read_text() == "x"


def test_a_folder_that_cannot_be_made_leaves_none_of_its_parents(tmp_path):
    too_long = tmp_path / "a" / "b" / ("x" * 300)  # a and b can be made; the last cannot
    with pytest.raises(OSError):
        probe_writable(too_long, keep=False)
    assert list(tmp_path.iterdir()) == []
