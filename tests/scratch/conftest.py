"""Fixtures for the scratch network's tests: small tables, image folders, the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """These matrices are tiny: BLAS threads only add waiting (badly so on a busy CI box)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip saying it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} not present")
    return SHARED_DATA


def real_file(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real data file {path} not present")
    return path


def blobs(n_per_class: int = 40, n_classes: int = 4, seed: int = 0, spread: float = 0.35):
    """Well separated Gaussian blobs in 2-D, one per class, centres on a circle."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(n_classes) / n_classes
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 2.0
    X = np.concatenate([c + spread * rng.standard_normal((n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return X, y


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    """A 3-class, 4-feature CSV (60 rows) whose classes are easy to separate."""
    X, y = blobs(n_per_class=20, n_classes=3, seed=1)
    rng = np.random.default_rng(2)
    X = np.hstack([X, rng.random((X.shape[0], 2))])  # two noise features
    lines = [",".join(f"{v:.5f}" for v in row) + f",{label + 1}" for row, label in zip(X, y)]
    path = tmp_path / "tiny.csv"
    path.write_text("\n".join(lines) + "\n\n")
    return path


def write_image_folder(root: Path, per_class: int = 6, size: int = 16) -> Path:
    """happy/ (bright top half) and sad/ (bright bottom half) PNGs, some RGBA."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("happy", "sad")):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
            rows = slice(0, size // 2) if label == 0 else slice(size // 2, size)
            pixels[rows] += 150
            if i % 3 == 0:
                alpha = np.full((size, size, 1), 255, dtype=np.uint8)
                Image.fromarray(np.concatenate([pixels, alpha], axis=2), "RGBA").save(folder / f"{i}.png")
            else:
                Image.fromarray(pixels, "RGB").save(folder / f"{i}.png")
    return root


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return write_image_folder(tmp_path / "faces")
