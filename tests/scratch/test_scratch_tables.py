"""Loading data: tables (any mix of whitespace and commas), .mat files, image folders."""

from __future__ import annotations

import importlib.util
import zipfile

import numpy as np
import pytest

from happysad.errors import DataError
from happysad.scratch.tables import encode_labels, load_dataset, load_mat, load_table

from .conftest import write_image_folder

HAS_IMAGES = importlib.util.find_spec("happysad.images") is not None
needs_images = pytest.mark.skipif(not HAS_IMAGES, reason="happysad.images (the image loader) is not written yet")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_repeated_tabs_like_the_uci_seeds_file(tmp_path):
    path = write(tmp_path, "seeds.txt",
                 "15.26\t14.84\t0.871\t1\n"
                 "14.88\t\t14.57\t0.8811\t1\n"       # repeated tab
                 "13.84\t13.94\t\t0.8955\t\t2\n"     # several
                 "  16.14 14.99\t 0.9034   3  \n"    # spaces and tabs
                 "\n\n")                             # empty trailing lines
    data = load_table(path)
    assert data.X.shape == (4, 3)
    np.testing.assert_allclose(data.X[1], [14.88, 14.57, 0.8811])
    assert data.y.tolist() == [0, 0, 1, 2]
    assert data.class_names == ["1", "2", "3"]
    assert data.kind == "table"


def test_commas_with_spaces_a_header_and_crlf(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"area, perimeter, class\r\n1.5, 2 ,setosa\r\n3,4,virginica\r\n5 ,6, setosa\r\n")
    data = load_table(path)
    np.testing.assert_allclose(data.X, [[1.5, 2], [3, 4], [5, 6]])
    assert data.class_names == ["setosa", "virginica"]
    assert data.y.tolist() == [0, 1, 0]


def test_numeric_labels_sort_by_value_and_keep_their_names():
    indices, names = encode_labels(["10", "2", "1", "10.0"])
    assert names == ["1", "2", "10"]
    assert indices.tolist() == [2, 1, 0, 2]
    assert encode_labels([0.5, 1.5])[1] == ["0.5", "1.5"]


def test_a_non_numeric_cell_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "bad.csv", "1,2,1\n\n3,oops,2\n")
    with pytest.raises(DataError) as info:
        load_table(path)
    message = str(info.value)
    assert "bad.csv" in message and "line 3" in message and "'oops'" in message and "column 2" in message
    assert "\n" not in message


@pytest.mark.parametrize("text,match", [
    ("1,2,1\n3,4\n", "line 2: 2 columns, but the first row has 3"),
    ("1,,1\n", "line 1, column 2: empty cell"),
    ("1,nan,1\n", "not a finite number"),
    ("1\n2\n", "one column"),
    ("\n\n", "no rows"),
    ("a,b,c\n", "no rows"),
])
def test_malformed_tables(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        load_table(write(tmp_path, "t.csv", text))


def test_missing_binary_and_single_class_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "nope.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(DataError, match="not a text table"):
        load_table(binary)
    with pytest.raises(DataError, match="only one class"):
        load_table(write(tmp_path, "one.csv", "1,2,7\n3,4,7\n"))


def test_mat_file_with_course_labels(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    X = rng.random((12, 5))
    y = np.array([10, 1, 2, 10, 3, 1, 2, 3, 10, 1, 2, 3]).reshape(-1, 1)  # (m, 1), 10 = digit 0
    path = tmp_path / "ex4data1.mat"
    savemat(path, {"X": X, "y": y})
    data = load_dataset(path)
    np.testing.assert_allclose(data.X, X)
    assert data.class_names == ["1", "2", "3", "10"]
    assert data.y.tolist() == [3, 0, 1, 3, 2, 0, 1, 2, 3, 0, 1, 2]
    assert data.kind == "mat"


def test_bad_mat_files(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "noy.mat"
    savemat(path, {"X": np.zeros((3, 2)), "labels": np.zeros(3)})
    with pytest.raises(DataError, match="no y.*found: X, labels"):
        load_mat(path)
    path = tmp_path / "short.mat"
    savemat(path, {"X": np.zeros((3, 2)), "y": np.array([1, 2])})
    with pytest.raises(DataError, match="one numeric label per row"):
        load_mat(path)
    fake = tmp_path / "fake.mat"
    fake.write_text("not matlab")
    with pytest.raises(DataError, match="not a readable .mat file"):
        load_mat(fake)


@needs_images
def test_image_folder_becomes_grayscale_pixel_rows(tmp_path):
    root = write_image_folder(tmp_path / "faces", per_class=4, size=16)
    data = load_dataset(root, image_size=8)
    assert data.X.shape == (8, 64)
    assert data.class_names == ["happy", "sad"]
    assert data.y.tolist() == [0] * 4 + [1] * 4
    assert data.kind == "images"
    assert 0 <= data.X.min() and data.X.max() <= 255
    # happy: bright top half; sad: bright bottom half (see write_image_folder).
    top, bottom = data.X[:, :32].mean(axis=1), data.X[:, 32:].mean(axis=1)
    assert np.all((top > bottom) == (data.y == 0))


@needs_images
def test_image_zip(tmp_path):
    root = write_image_folder(tmp_path / "faces", per_class=3, size=12)
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for png in sorted(root.rglob("*.png")):
            z.write(png, png.relative_to(root).as_posix())
    data = load_dataset(archive, image_size=6)
    assert data.X.shape == (6, 36) and data.class_names == ["happy", "sad"]
