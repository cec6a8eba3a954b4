"""happysad.synth and ``happysad synth``: the procedurally drawn happy/sad faces dataset."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from happysad import synth
from happysad.cli import main
from happysad.errors import ConfigError, DataError
from happysad.images import load_images, to_array
from happysad.synth import MARKER, draw_face, ensure_synth, make_synth


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    """Temporary folders a run left next to its output."""
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return make_synth(tmp_path_factory.mktemp("synth") / "faces", per_class=6, seed=0, size=64)


# ------------------------------------------------------------------ layout and content


def test_layout_counts_and_marker(small):
    assert sorted(p.name for p in small.iterdir()) == [MARKER, "happy", "sad"]
    for name in ("happy", "sad"):
        pngs = sorted((small / name).iterdir())
        assert [p.name for p in pngs] == [f"{name}-{i:05d}.png" for i in range(6)]
    assert '"per_class": 6' in (small / MARKER).read_text()
    assert leftovers(small.parent) == []


def test_the_loader_reads_it(small):
    images = load_images(small, 32)
    assert images.class_names == ["happy", "sad"]
    assert images.counts() == {"happy": 6, "sad": 6}
    assert images.x.shape == (12, 32, 32, 3)


def test_sizes_modes_and_transparency(small):
    modes = set()
    for path in small.rglob("*.png"):
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (64, 64)
            modes.add(image.mode)
            if image.mode == "RGBA":
                pixels = np.asarray(image)
                clear = pixels[..., 3] == 0
                assert clear.any() and clear.mean() < 0.9  # a background, and a face on it
                assert not pixels[clear].any()  # transparent pixels are (0, 0, 0, 0), like the lab's
    assert modes == {"RGB", "RGBA"}


def test_default_size_is_150(tmp_path):
    result = run_cli("synth", tmp_path / "d", "--per-class", 1)
    assert result.exit_code == 0, result.output
    for path in (tmp_path / "d").rglob("*.png"):
        with Image.open(path) as image:
            assert image.size == (150, 150)


def test_same_seed_same_bytes_other_seed_differs(small, tmp_path):
    again = make_synth(tmp_path / "again", per_class=6, seed=0, size=64)
    assert files_of(again) == files_of(small)
    other = files_of(make_synth(tmp_path / "other", per_class=6, seed=1, size=64))
    reference = files_of(small)
    assert other.keys() == reference.keys()
    pngs = [k for k in reference if k.endswith(".png")]
    assert all(other[k] != reference[k] for k in pngs)


def test_more_per_class_extends_fewer(small, tmp_path):
    fewer = files_of(make_synth(tmp_path / "fewer", per_class=2, seed=0, size=64))
    reference = files_of(small)
    assert all(reference[k] == v for k, v in fewer.items() if k.endswith(".png"))


def test_draw_face_returns_a_pil_image():
    image = draw_face(np.random.default_rng(3), happy=True, size=40)
    assert isinstance(image, Image.Image) and image.size == (40, 40)
    assert image.mode in ("RGB", "RGBA")


# ------------------------------------------------------------------ never overwrite; atomic


def test_refuses_a_non_empty_out_and_leaves_it_alone(tmp_path):
    out = tmp_path / "out"
    (out / "happy").mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    (out / "happy" / "a.png").write_bytes(b"not touched")
    before = files_of(out)
    result = run_cli("synth", out, "--per-class", 2, "--size", 32)
    assert result.exit_code == 1
    assert result.stderr == f"error: {out} exists and is not empty; choose a new folder\n"
    assert files_of(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["happy", "keep.txt"]
    assert leftovers(tmp_path) == []
    with pytest.raises(DataError, match="exists and is not empty; choose a new folder"):
        make_synth(out, per_class=1, size=16)


def test_refuses_a_file(tmp_path):
    out = tmp_path / "file"
    out.write_text("mine")
    with pytest.raises(DataError, match="not a folder"):
        make_synth(out, per_class=1, size=16)
    assert out.read_text() == "mine"


def test_an_empty_folder_is_filled(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    result = run_cli("synth", out, "--per-class", 3, "--size", 32)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"folder: {out}", "happy:  3 images", "sad:    3 images"]
    assert len(list(out.rglob("*.png"))) == 6


def test_creates_missing_parents(tmp_path):
    out = make_synth(tmp_path / "a" / "b" / "faces", per_class=1, size=16)
    assert (out / MARKER).is_file()


def test_an_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    real = synth.draw_face

    def failing(rng, happy, size=150):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(rng, happy, size)

    monkeypatch.setattr(synth, "draw_face", failing)
    with pytest.raises(KeyboardInterrupt):
        make_synth(tmp_path / "out", per_class=4, size=16)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--per-class", "0"], "per_class"),
        (["--per-class", "-3"], "per_class"),
        (["--per-class", "100001"], "per_class"),
        (["--size", "15"], "size"),
        (["--size", "1025"], "size"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, args, words):
    out = tmp_path / "out"
    result = run_cli("synth", out, *args)
    assert result.exit_code == ConfigError.exit_code
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs", [{"per_class": 1.5}, {"per_class": True}, {"size": "64"}, {"seed": None}])
def test_bad_types_are_config_errors(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        make_synth(tmp_path / "out", **kwargs)


def test_numpy_ints_are_fine(tmp_path):
    out = make_synth(tmp_path / "out", per_class=np.int64(1), seed=np.int32(2), size=np.int64(16))
    assert len(list(out.rglob("*.png"))) == 2


# ------------------------------------------------------------------ ensure_synth (--data synth)


def mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_ensure_synth_builds_once_then_reuses(tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "synth"
    assert ensure_synth(folder, per_class=3, size=32) == folder
    before, content = mtimes(folder), files_of(folder)

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt a complete synth set")

    monkeypatch.setattr(synth, "make_synth", no_rebuild)
    assert ensure_synth(folder, per_class=3, size=32) == folder
    assert mtimes(folder) == before and files_of(folder) == content


def test_ensure_synth_defaults_match_make_synth_defaults(tmp_path):
    folder = ensure_synth(tmp_path / "synth", per_class=1)
    assert '"size": 150' in (folder / MARKER).read_text()
    with pytest.raises(DataError, match="per_class=1"):
        ensure_synth(folder)  # per_class 40 wanted, 1 found


def test_ensure_synth_refuses_other_parameters_and_changed_sets(tmp_path):
    folder = ensure_synth(tmp_path / "synth", per_class=2, size=16)
    content = files_of(folder)
    with pytest.raises(DataError, match="seed=0.*not.*seed=5"):
        ensure_synth(folder, per_class=2, seed=5, size=16)
    assert files_of(folder) == content
    next((folder / "sad").iterdir()).unlink()
    with pytest.raises(DataError, match="changed"):
        ensure_synth(folder, per_class=2, size=16)


def test_ensure_synth_never_writes_into_a_foreign_folder(tmp_path):
    folder = tmp_path / "synth"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        ensure_synth(folder, per_class=1, size=16)
    assert files_of(folder) == {"notes.txt": b"mine"}


def test_ensure_synth_race_both_end_with_the_complete_set(tmp_path, monkeypatch):
    """Two builders that both found no set: one rename wins, the other uses its result."""
    folder = tmp_path / "synth"
    barrier = threading.Barrier(2, timeout=30)
    real = synth._write_images

    def write_then_wait(root, per_class, seed, size):
        real(root, per_class, seed, size)
        barrier.wait()  # both have drawn their copy before either publishes

    monkeypatch.setattr(synth, "_write_images", write_then_wait)
    results, errors = [], []

    def worker():
        try:
            results.append(ensure_synth(folder, per_class=2, size=16))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and results == [folder, folder]
    assert len(list(folder.rglob("*.png"))) == 4 and (folder / MARKER).is_file()
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ the class signal


def test_the_class_changes_only_the_mouth():
    """Twin generators: a happy and a sad face that differ only in a small patch."""
    for seed in range(20):
        happy = np.asarray(draw_face(np.random.default_rng(seed), True, 96)).astype(int)
        sad = np.asarray(draw_face(np.random.default_rng(seed), False, 96)).astype(int)
        assert happy.shape == sad.shape  # same mode, same size
        changed = np.abs(happy - sad).sum(-1) > 0
        assert changed.any()
        ys, xs = np.nonzero(changed)
        box = (np.ptp(ys) + 1) * (np.ptp(xs) + 1) / changed.size
        assert box < 0.2, f"seed {seed}: the class changed a {box:.0%} box"


def _faces(n: int, size: int, seed: int) -> tuple[list[Image.Image], np.ndarray]:
    images, labels = [], []
    for i in range(n):
        for label in (0, 1):  # 0 happy, 1 sad, as the loader orders them
            images.append(draw_face(np.random.default_rng([seed, label, i]), label == 0, size))
            labels.append(label)
    return images, np.asarray(labels)


def _vertical_edges(images: list[Image.Image], size: int) -> np.ndarray:
    """Per-image normalised grayscale -> vertical gradient -> 3x3 max and min pooling."""
    gray = np.stack([to_array(im, size, "grayscale")[..., 0] for im in images]).astype(np.float64)
    gray = (gray - np.median(gray, (1, 2), keepdims=True)) / (gray.std((1, 2), keepdims=True) + 1e-6)
    dy = np.diff(gray, axis=1)[:, : (size - 1) // 3 * 3, : size // 3 * 3]
    n, h, w = dy.shape
    blocks = dy.reshape(n, h // 3, 3, w // 3, 3)
    return np.concatenate([blocks.max((2, 4)).reshape(n, -1), blocks.min((2, 4)).reshape(n, -1)], 1)


def _global_colour(images: list[Image.Image], size: int) -> np.ndarray:
    """What a giveaway would look like: mean and spread of each channel, transparency."""
    rgb = np.stack([to_array(im, size) for im in images]).astype(np.float64)
    alpha = np.array([[im.mode == "RGBA"] for im in images], dtype=np.float64)
    return np.concatenate([rgb.mean((1, 2)), rgb.std((1, 2)), alpha], 1)


def _logistic_accuracy(train_x, train_y, test_x, test_y, lam=1e-3, steps=1500, lr=0.5) -> float:
    mean, spread = train_x.mean(0), train_x.std(0) + 1e-6
    a, b = (train_x - mean) / spread, (test_x - mean) / spread
    w, bias = np.zeros(a.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(a @ w + bias)))
        g = p - train_y
        w -= lr * (a.T @ g / len(g) + lam * w)
        bias -= lr * g.mean()
    return float(((b @ w + bias > 0).astype(int) == test_y).mean())


def test_learnable_from_the_mouth_not_from_colour():
    """Logistic regression on held-out faces (32x32): 0.78 from vertical edges, ~0.5 from colour.

    Raw pixels give only ~0.69 (the faces move, scale and turn), so the task is not
    trivial; a translation-tolerant edge feature finds the smile/frown curve. Global
    colour statistics (and RGBA-or-not) carry nothing: a class-dependent colour would
    show up there.
    """
    size = 32
    train_images, train_y = _faces(400, size, seed=11)
    test_images, test_y = _faces(200, size, seed=12)

    edges = _logistic_accuracy(_vertical_edges(train_images, size), train_y,
                               _vertical_edges(test_images, size), test_y)
    colour = _logistic_accuracy(_global_colour(train_images, size), train_y,
                                _global_colour(test_images, size), test_y)
    assert edges >= 0.72, f"held-out accuracy from the mouth's edges {edges:.3f}"
    assert abs(colour - 0.5) < 0.1, f"colour alone gives {colour:.3f}: a class giveaway"
