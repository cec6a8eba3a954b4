"""Image loading: class folders, modes, sizes, junk, corrupt files, empty classes."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from happysad.errors import DataError
from happysad.images import load_image, load_images

from .conftest import make_image_folder, write_image


def test_loads_sorted_classes_with_labels(image_folder):
    images = load_images(image_folder, 24)
    assert images.class_names == ["happy", "sad"]
    assert images.x.shape == (12, 24, 24, 3) and images.x.dtype == np.uint8
    assert images.counts() == {"happy": 6, "sad": 6}
    assert list(images.y) == [0] * 6 + [1] * 6


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "LA", "I;16", "CMYK"])
def test_every_colour_mode_becomes_rgb(tmp_path, mode):
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[:5] = 200
    image = Image.fromarray(rgb).convert(mode if mode != "I;16" else "L")
    if mode == "I;16":
        image = Image.fromarray(np.where(rgb[..., 0] > 0, 50000, 0).astype(np.uint16))
    path = tmp_path / f"x{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}"
    image.save(path)
    array = load_image(path, 10)
    assert array.shape == (10, 10, 3)
    assert array[:5].mean() > 150 and array[5:].mean() < 30  # content survived


def test_rgba_drops_alpha_like_the_lab_loader(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 100
    rgba[..., 3] = 0
    write_image(tmp_path / "a.png", rgba)
    assert (load_image(tmp_path / "a.png", 4)[..., 0] == 100).all()


def test_other_sizes_are_resized(tmp_path):
    write_image(tmp_path / "big.png", np.full((300, 200, 3), 77, np.uint8))
    out = load_image(tmp_path / "big.png", 150)
    assert out.shape == (150, 150, 3) and (out == 77).all()
    assert load_image(tmp_path / "big.png", 20, "grayscale").shape == (20, 20, 1)


def test_non_images_and_junk_are_skipped_with_a_count(image_folder, caplog):
    (image_folder / "happy" / "notes.txt").write_text("hi")
    (image_folder / "sad" / "readme.md").write_text("hi")
    (image_folder / "sad" / ".DS_Store").write_bytes(b"\0\0")
    (image_folder / "sad" / "Thumbs.db").write_bytes(b"\0\0")
    (image_folder / "__MACOSX").mkdir()
    (image_folder / "__MACOSX" / "._x.png").write_bytes(b"junk")
    (image_folder / ".hidden").mkdir()
    with caplog.at_level(logging.WARNING, logger="happysad"):
        images = load_images(image_folder, 24)
    assert images.class_names == ["happy", "sad"] and len(images) == 12
    assert images.skipped_other == 2
    assert "skipped 2 non-image files" in caplog.text


def test_broken_links_and_pipes_are_counted_as_skipped_never_read(image_folder, caplog):
    import os

    (image_folder / "happy" / "gone.png").symlink_to(image_folder / "nowhere.png")
    os.mkfifo(image_folder / "sad" / "pipe.png")  # reading it would block for ever
    with caplog.at_level(logging.WARNING, logger="happysad"):
        images = load_images(image_folder, 24)
    assert len(images) == 12 and images.skipped_other == 2
    assert "skipped 2 non-image files" in caplog.text


def test_corrupt_image_is_an_error_naming_it_or_skipped_on_request(image_folder):
    good = (image_folder / "sad" / "sad01.png").read_bytes()
    (image_folder / "sad" / "broken.png").write_bytes(good[: len(good) // 2])
    (image_folder / "happy" / "fake.png").write_text("not a png")
    with pytest.raises(DataError, match=r"cannot read image .*(broken|fake)\.png.*--skip-bad-images"):
        load_images(image_folder, 24)
    images = load_images(image_folder, 24, skip_bad=True)
    assert images.skipped_bad == 2 and len(images) == 12


def test_empty_single_and_missing_classes(tmp_path):
    make_image_folder(tmp_path / "d", per_class=2)
    (tmp_path / "d" / "neutral").mkdir()
    with pytest.raises(DataError, match="class folder neutral .* has no images"):
        load_images(tmp_path / "d", 24)
    one = make_image_folder(tmp_path / "one", per_class=2, classes=("happy",))
    with pytest.raises(DataError, match=r"only one class folder \(happy\)"):
        load_images(one, 24)
    (tmp_path / "none" / "a").mkdir(parents=True)
    (tmp_path / "none" / "b").mkdir()
    (tmp_path / "none" / "a" / "x.txt").write_text("x")
    with pytest.raises(DataError, match="no images in"):
        load_images(tmp_path / "none", 24)
    with pytest.raises(DataError, match="not found"):
        load_images(tmp_path / "missing", 24)


def test_images_in_nested_folders_of_a_class_count(image_folder):
    write_image(image_folder / "happy" / "more" / "extra.png", np.zeros((24, 24, 3), np.uint8))
    assert load_images(image_folder, 24).counts()["happy"] == 7


@pytest.mark.realdata
def test_real_zip_loads_80_images(real_zip):
    images = load_images(real_zip, 150)
    assert images.x.shape == (80, 150, 150, 3)
    assert images.counts() == {"happy": 40, "sad": 40}


def _png_claiming_size(path, width, height):
    """A real 1x1 PNG whose header claims another size (a decompression bomb's trick)."""
    import io
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of header
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(data))
    return path


def test_absurd_dimensions_are_refused_not_a_crash(image_folder):
    _png_claiming_size(image_folder / "sad" / "huge.png", 60000, 60000)
    with pytest.raises(DataError, match=r"huge.png is too large to decode safely"):
        load_images(image_folder, 24)
    assert load_images(image_folder, 24, skip_bad=True).skipped_bad == 1


def test_class_folders_differing_only_in_case(image_folder):
    make_image_folder(image_folder.parent / "other", per_class=1, classes=("Happy",))
    (image_folder.parent / "other" / "Happy").rename(image_folder / "Happy")
    with pytest.raises(DataError, match="'Happy' and 'happy' .* differ only in case"):
        load_images(image_folder, 24)


def test_float_image_with_nan_inf_and_negatives_loads_quietly(tmp_path):
    import warnings

    from PIL import Image

    from happysad.images import load_image

    raw = np.linspace(-1.0, 2.0, 64, dtype=np.float32).reshape(8, 8)
    raw[0, 0], raw[0, 1], raw[0, 2] = np.nan, np.inf, -np.inf
    path = tmp_path / "float.tif"
    Image.fromarray(raw, mode="F").save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from NumPy would fail here
        array = load_image(path, 8)
    assert array.shape == (8, 8, 3)
    assert array[0, :3].max() == 0 and array.max() == 255  # non-finite -> 0, no wrap-around
    assert array[7, 7, 0] == 255 and array[1, 0, 0] == 0
