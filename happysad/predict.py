"""Classify images with a trained run, preprocessed exactly as in training."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .images import is_image_file, load_image
from .inference import check_run, load_run


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Image files named by paths, folders (searched recursively) or glob patterns.

    Raises:
        DataError: an input is empty or matches no image file.
    """
    from .archive import is_ignored

    found: list[Path] = []
    for item in inputs:
        if not item.strip():  # Path("") is ".": every image under the current folder
            raise DataError("an image argument is empty; give image files, folders or a quoted "
                            "glob such as 'photos/*.png'")
        path = Path(item).expanduser()
        if path.is_dir():
            matches = sorted(
                p for p in path.rglob("*")
                if p.is_file() and is_image_file(p)
                and not any(is_ignored(part) for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(item), recursive=True)
                             if Path(p).is_file() and is_image_file(Path(p)))
        if not matches:
            raise DataError(
                f"no image file matches {item!r}; give image files, folders or a quoted glob "
                "such as 'photos/*.png'"
            )
        found.extend(m for m in matches if m not in found)
    return found


def predict(run_path: str | os.PathLike, inputs: list[str], threshold: float = 0.5,
            batch_size: int = 32) -> list[dict[str, Any]]:
    """Predict the class of each image.

    Args:
        run_path: a finished run folder.
        inputs: image files, folders, or glob patterns.
        threshold: for a binary model, P(second class) at or above this predicts it.
        batch_size: images per forward pass.

    Returns:
        One dict per image: ``file``, ``class``, ``probability`` (of that class) and
        ``p_<class>`` for every class.

    Example:
        >>> predict("runs/lab", ["face.png"])         # doctest: +SKIP
        [{'file': 'face.png', 'class': 'happy', 'probability': 0.98, ...}]
    """
    if not 0.0 < threshold < 1.0:
        raise DataError(f"threshold must be between 0 and 1, got {threshold}")
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1, got {batch_size}")
    check_run(run_path)  # the run, then the images, then the slow model load
    files = expand_inputs(inputs)
    trained = load_run(run_path)
    size = trained.config.image_size
    x = np.stack([load_image(f, size, "rgb") for f in files])
    probs = trained.probabilities(x, batch_size)
    names = trained.class_names
    if trained.binary:
        labels = (probs[:, 1] >= threshold).astype(int)
    else:
        labels = probs.argmax(axis=1)
    rows = []
    for file, label, p in zip(files, labels, probs):
        row = {"file": str(file), "class": names[label], "probability": round(float(p[label]), 6)}
        row.update({f"p_{name}": round(float(v), 6) for name, v in zip(names, p)})
        rows.append(row)
    return rows


def format_rows(rows: list[dict[str, Any]], fmt: str = "table") -> str:
    """Render predictions as an aligned table, CSV or JSON."""
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    width = max(len("file"), *(len(r["file"]) for r in rows))
    cwidth = max(len("class"), *(len(r["class"]) for r in rows))
    lines = [f"{'file':<{width}}  {'class':<{cwidth}}  probability"]
    lines += [f"{r['file']:<{width}}  {r['class']:<{cwidth}}  {r['probability']:.4f}" for r in rows]
    return "\n".join(lines) + "\n"
