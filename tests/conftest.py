"""Shared fixtures: a tiny generated image dataset, the real data when present, a clean cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REAL_ZIP = SHARED_DATA / "happy-or-sad.zip"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """Never touch the user's cache or pick up their HAPPYSAD_DATA."""
    monkeypatch.setenv("HAPPYSAD_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("HAPPYSAD_DATA", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """Each test gets Ctrl-C and SIGTERM as it found them: the CLI ignores both once a
    command ends (in a test, the command ends and pytest goes on)."""
    import signal

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def write_image(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)
    return path


def make_image_folder(root: Path, per_class: int = 6, size: int = 24, seed: int = 0,
                      classes=("happy", "sad")) -> Path:
    """Write a small, learnable dataset: class 0 bright on top, class 1 bright below.

    Every third image is RGBA (transparent corners), as in the real data.
    """
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        for i in range(per_class):
            img = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
            half = slice(0, size // 2) if label % 2 == 0 else slice(size // 2, size)
            img[half] += np.uint8(150 + 20 * (label // 2))
            if i % 3 == 0:
                alpha = np.full((size, size, 1), 255, dtype=np.uint8)
                alpha[:3, :3] = 0
                write_image(root / name / f"{name}{i:02d}.png", np.concatenate([img, alpha], 2))
            else:
                write_image(root / name / f"{name}{i:02d}.png", img)
    return root


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """A folder with happy/ and sad/, 6 small PNGs each (some RGBA)."""
    return make_image_folder(tmp_path / "faces")


@pytest.fixture
def real_zip() -> Path:
    if not REAL_ZIP.is_file():
        pytest.skip(f"real dataset not present at {REAL_ZIP}")
    return REAL_ZIP


def smoke_overrides(tmp_path: Path, **extra) -> dict:
    """Config values for a training run that takes a few seconds."""
    values = dict(
        image_size=24, conv_filters=[4], dense_units=8, batch_size=4, epochs=2,
        threshold=None, progress="none", runs_dir=str(tmp_path / "runs"), seed=3,
    )
    values.update(extra)
    return values


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One small finished Keras run on generated data, shared by the read-only tests."""
    from happysad.config import TrainConfig, build_config
    from happysad.train import train

    root = tmp_path_factory.mktemp("trained")
    data = make_image_folder(root / "faces", per_class=8)
    values = smoke_overrides(root, data=str(data), epochs=8, conv_filters=[8], dense_units=16,
                             learning_rate=0.003, val_split=0.25, name="run")
    result = train(build_config(TrainConfig, values), echo=lambda s: None)
    return result.run.path
