"""Data for the scratch network: numeric tables, MATLAB .mat files and image folders.

Every loader returns a ``Dataset``: raw features ``X`` (m x n, float64, not yet scaled:
training fits the min-max scaling on its own examples), class indices ``y`` (0..C-1)
and the class names they stand for.

* a table (``.csv``, ``.txt``, ``.data``, ...): one example per line, cells separated by
  commas and/or any whitespace (the UCI seeds file repeats tabs), the class in the last
  column; an optional header line; blank lines are skipped;
* a ``.mat`` file holding a matrix ``X`` and labels ``y`` (as in the course exercises,
  where digit 0 is labelled 10: labels are just class values here);
* an image folder of class folders, or a ``.zip`` of one: grayscale, resized to
  ``image_size`` x ``image_size`` pixels, one input per pixel.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("1.0,2.0,a\\n3.0\\t4.0\\tb\\n")
    >>> data = load_table(path)
    >>> data.X.tolist(), data.y.tolist(), data.class_names
    ([[1.0, 2.0], [3.0, 4.0]], [0, 1], ['a', 'b'])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

TABLE_SEPARATOR = re.compile(r"\s*,\s*|\s+")  # a comma (with any spaces) or a run of whitespace


@dataclass
class Dataset:
    """Examples for the scratch network.

    Attributes:
        X: features, one example per row (m x n), float64, as read (not scaled).
        y: class indices 0..C-1 (m,).
        class_names: the name of each class index.
        source: where the data came from (for messages and metrics).
        kind: "table", "mat" or "images".
    """

    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    source: str = ""
    kind: str = "table"

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __post_init__(self) -> None:
        if self.X.shape[0] == 0:
            raise DataError(f"{self.source}: no examples found")
        check_features(self.X, self.source)
        if self.n_classes < 2:
            raise DataError(
                f"{self.source}: only one class ({self.class_names[0]!r}); a classifier needs at least two"
            )


def check_features(X: np.ndarray, source: str | Path) -> None:
    """Raise a DataError naming the column unless every feature is finite and its range
    (max - min, which the min-max scaling divides by) is a finite number too.

    Example:
        >>> check_features(np.array([[-1e308, 0.0], [1e308, 1.0]]), "t.csv")
        Traceback (most recent call last):
        ...
        happysad.errors.DataError: t.csv, column 1: values from -1e+308 to 1e+308 span more than a float can hold; rescale the column (e.g. divide it by 1e10) or drop it
    """
    if X.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(X)
        if not finite.all():
            row, column = (int(i) for i in np.argwhere(~finite)[0])
            raise DataError(
                f"{source}, column {column + 1}: example {row + 1} has the value {X[row, column]}, "
                "not a finite number; fix or drop that example"
            )
        low, high = X.min(axis=0), X.max(axis=0)
        span = high - low
    bad = np.flatnonzero(~np.isfinite(span))
    if bad.size:
        column = int(bad[0])
        raise DataError(
            f"{source}, column {column + 1}: values from {low[column]:g} to {high[column]:g} span "
            "more than a float can hold; rescale the column (e.g. divide it by 1e10) or drop it"
        )


def _class_name(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def encode_labels(values: Sequence) -> tuple[np.ndarray, list[str]]:
    """Map arbitrary class values to indices 0..C-1, keeping their names.

    Numeric labels sort by value (so 1, 2, 10 stay in that order), others as text.

    Returns:
        ``(indices, class_names)``.

    Example:
        >>> encode_labels([3, 1, 10, 1])
        (array([1, 0, 2, 0]), ['1', '3', '10'])
        >>> encode_labels(["sad", "happy"])[1]
        ['happy', 'sad']
    """
    values = list(values)
    try:
        numbers = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        numbers = None
    for v in values:  # NaN would become a class of its own ('nan' != 'nan' for np.unique)
        if _non_finite_number(v):
            raise DataError(f"class label {v!r} is not a finite number; every example needs a class")
    if numbers is not None:
        unique, indices = np.unique(numbers, return_inverse=True)
        return indices.astype(np.int64), [_class_name(u) for u in unique]
    texts = [str(v).strip() for v in values]
    unique_texts, indices = np.unique(np.array(texts), return_inverse=True)
    return indices.astype(np.int64), [str(u) for u in unique_texts]


def _non_finite_number(value) -> bool:
    """Whether ``value`` reads as a number that is NaN or infinite ("nan", "inf", ...)."""
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_table(path: str | Path) -> Dataset:
    """Read a numeric table whose last column is the class label.

    Cells may be separated by commas, tabs, spaces or any mix of them; blank lines are
    skipped; a first line with no numbers at all is a header and is skipped.

    Args:
        path: the table file.

    Returns:
        A ``Dataset`` of raw (unscaled) features.

    Raises:
        DataError: naming the file and line, for a missing file, a non-numeric or empty
            cell, a row with the wrong number of columns, or a table with no rows.
    """
    path = Path(path)
    _require_file(path, "data file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not a text table (byte {exc.start} is not UTF-8)") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None

    rows: list[list[str]] = []
    line_numbers: list[int] = []
    width = 0
    first_line = True
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        cells = TABLE_SEPARATOR.split(stripped)
        if first_line:
            first_line = False
            if not any(_is_number(c) for c in cells):
                continue  # a header line: column names
        if not rows:
            width = len(cells)
            if width < 2:
                raise DataError(
                    f"{path}, line {number}: found one column; a table needs features and a "
                    "class label in the last column, separated by commas or whitespace"
                )
        if len(cells) != width:
            raise DataError(
                f"{path}, line {number}: {len(cells)} columns, but the first row has {width}"
            )
        rows.append(cells)
        line_numbers.append(number)
    if not rows:
        raise DataError(f"{path} holds no rows of data")

    features = [row[:-1] for row in rows]
    try:
        X = np.array(features, dtype=np.float64)
    except ValueError:
        X = None
    if X is None or not np.all(np.isfinite(X)):
        _raise_bad_cell(path, features, line_numbers)
    labels = [row[-1] for row in rows]
    for label, number in zip(labels, line_numbers):
        if label == "":
            raise DataError(
                f"{path}, line {number}: the class label (last column) is empty; fill it in or drop the row"
            )
        if _non_finite_number(label):
            raise DataError(
                f"{path}, line {number}: the class label {label!r} is not a finite number; "
                "fill in the class or drop the row"
            )
    y, class_names = encode_labels(labels)
    return Dataset(X, y, class_names, str(path), "table")


def _raise_bad_cell(path: Path, features: list[list[str]], line_numbers: list[int]) -> None:
    for row, number in zip(features, line_numbers):
        for column, cell in enumerate(row, start=1):
            if cell == "":
                raise DataError(f"{path}, line {number}, column {column}: empty cell; fill it in or drop the row")
            try:
                value = float(cell)
            except ValueError:
                raise DataError(
                    f"{path}, line {number}, column {column}: {cell!r} is not a number "
                    "(only the last column, the class, may be text)"
                ) from None
            if not math.isfinite(value):
                raise DataError(f"{path}, line {number}, column {column}: {cell!r} is not a finite number")
    raise AssertionError("a bad cell was expected")  # pragma: no cover


def load_mat(path: str | Path) -> Dataset:
    """Read a MATLAB ``.mat`` file holding ``X`` (m x n) and ``y`` (m labels).

    ``y`` may be a column (m x 1) or a row; labels are class values as they are (the
    course's digit files label 0 as 10, which is then simply the class named "10").
    """
    from scipy.io import loadmat

    path = Path(path)
    _require_file(path, "data file")
    if _is_hdf5(path):  # v7.3, or HDF5 written by h5py: scipy says 'version 0, 0'
        raise DataError(f"{path} is a MATLAB v7.3 (HDF5) file, which cannot be read here; {MAT_ADVICE}")
    try:
        contents = loadmat(str(path))
    except NotImplementedError:
        raise DataError(f"{path} is a MATLAB v7.3 (HDF5) file, which cannot be read here; {MAT_ADVICE}") from None
    # A damaged file fails inside scipy with many exception types (MatReadError,
    # ValueError, IndexError, ...): all mean 'not a readable .mat file'.
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path} is not a readable .mat file ({exc}); {MAT_ADVICE}") from None
    found = sorted(k for k in contents if not k.startswith("__"))
    missing = [k for k in ("X", "y") if k not in contents]
    if missing:
        raise DataError(
            f"{path} has no {' or '.join(missing)}; a .mat file needs a matrix X and labels y "
            f"(found: {', '.join(found) or 'nothing'})"
        )
    X, y = np.asarray(contents["X"]), np.asarray(contents["y"])
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise DataError(f"{path}: X must be a numeric matrix (m x n), got {X.dtype} of shape {X.shape}")
    X = X.astype(np.float64)
    check_features(X, f"{path}: X")
    if y.size != X.shape[0] or y.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: y must hold one numeric label per row of X ({X.shape[0]}), got {y.dtype} of shape {y.shape}"
        )
    labels = y.ravel().astype(np.float64)
    non_finite = np.flatnonzero(~np.isfinite(labels))
    if non_finite.size:
        raise DataError(
            f"{path}: label {int(non_finite[0]) + 1} of y is {labels[non_finite[0]]}, not a finite "
            "number; every example needs a class"
        )
    indices, class_names = encode_labels(labels)
    return Dataset(X, indices, class_names, str(path), "mat")


MAT_ADVICE = "save it with MATLAB's -v7 (or older) format, save('f.mat', 'X', 'y', '-v7'), or export X and y to CSV"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file (the superblock sits at 0, 512, 1024, 2048, ...)."""
    try:
        with path.open("rb") as f:
            for offset in (0, 512, 1024, 2048):
                f.seek(offset)
                if f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                    return True
    except OSError:
        return False
    return False


def load_image_dataset(source: str | Path, image_size: int = 20) -> Dataset:
    """Read a folder of class folders (or a .zip of one) as grayscale pixel rows.

    Each image becomes ``image_size * image_size`` inputs (0..255, scaled later).
    """
    try:
        from ..images import load_images
    except ImportError as exc:  # pragma: no cover - only while happysad.images is missing
        raise DataError(f"image data needs happysad.images, which cannot be imported: {exc}") from None

    images = load_images(source, image_size, color="grayscale")
    x = np.asarray(images.x)
    X = x.reshape(x.shape[0], -1).astype(np.float64)
    y = np.asarray(images.y, dtype=np.int64)
    return Dataset(X, y, [str(c) for c in images.class_names], str(source), "images")


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise DataError(f"{what} {path} not found; check the path")
    if not path.is_file():
        raise DataError(f"{what} {path} is not a file")


def load_dataset(path: str | Path, image_size: int = 20) -> Dataset:
    """Load any supported data by its path: a folder or ``.zip`` is images, ``.mat`` is
    MATLAB, anything else a table.

    Example:
        >>> load_dataset("missing.csv")
        Traceback (most recent call last):
        ...
        happysad.errors.DataError: data file missing.csv not found; check the path
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} not found; check the path")
    if path.is_dir() or path.suffix.lower() == ".zip":
        return load_image_dataset(path, image_size)
    if path.suffix.lower() == ".mat":
        return load_mat(path)
    return load_table(path)
