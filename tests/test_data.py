"""Where the images come from: the data fingerprint."""

from __future__ import annotations

import numpy as np

from happysad.data import fingerprint

from .conftest import make_image_folder, write_image


def test_fingerprint_counts_the_images_the_loader_reads_and_nothing_else(tmp_path):
    data = make_image_folder(tmp_path / "faces", per_class=3)
    before = fingerprint(data)
    # Litter a file browser or a person leaves: the loader ignores it, so must the check
    # that a run's data is unchanged (before: a .DS_Store refused a resume).
    (data / ".DS_Store").write_bytes(b"x")
    (data / "happy" / "Thumbs.db").write_bytes(b"y")
    (data / "__MACOSX").mkdir()
    (data / "__MACOSX" / "a.png").write_bytes(b"z")
    (data / "sad" / "notes.txt").write_text("not an image")
    assert fingerprint(data) == before

    image = next((data / "happy").glob("*.png"))
    image.rename(image.with_name("renamed.png"))
    renamed = fingerprint(data)
    assert renamed != before
    write_image(data / "sad" / "new.png", np.zeros((24, 24, 3), np.uint8))
    assert fingerprint(data) not in (before, renamed)


def test_fingerprint_of_a_zip_is_its_sha256(tmp_path):
    import hashlib

    zip_path = tmp_path / "d.zip"
    zip_path.write_bytes(b"PK not really")
    assert fingerprint(zip_path) == hashlib.sha256(b"PK not really").hexdigest()
