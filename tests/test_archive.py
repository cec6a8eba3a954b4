"""happysad.archive: safe extraction, finding the class folders, resolving --data."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from happysad import archive
from happysad.archive import IGNORED_NAMES, find_class_root, is_ignored, prepare_data, safe_extract
from happysad.config import DEFAULT_SHA256
from happysad.download import sha256_file
from happysad.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_ZIP = SHARED_DATA / "happy-or-sad.zip"

GOOD = {f"{cls}/{cls}-{i}.png": b"\x89PNG fake " + bytes([i]) * 100 for cls in ("happy", "sad") for i in range(3)}


def write_zip(path: Path, entries: dict[str, bytes] | None = None, *, infos=(), method=zipfile.ZIP_DEFLATED) -> Path:
    """A zip of ``entries`` (name -> bytes) plus hand-made ``(ZipInfo, bytes)`` pairs."""
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in (entries if entries is not None else GOOD).items():
            zf.writestr(name, data)
        for info, data in infos:
            zf.writestr(info, data)
    return path


def make_tree(root: Path, files: list[str]) -> Path:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return root


def extracted_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def only_entry(parent: Path) -> list[str]:
    """What is in ``parent`` besides the zip: must be nothing after a refused extraction."""
    return sorted(p.name for p in parent.iterdir() if p.suffix != ".zip")


# -- safe_extract ----------------------------------------------------------------------


def test_good_zip_is_extracted(tmp_path):
    zip_path = write_zip(tmp_path / "d.zip")
    dest = safe_extract(zip_path, tmp_path / "out")
    assert dest == tmp_path / "out"
    assert extracted_files(dest) == sorted(GOOD)
    assert (dest / "happy/happy-1.png").read_bytes() == GOOD["happy/happy-1.png"]
    assert only_entry(tmp_path) == ["out"]  # no temp folder left next to it


def test_existing_destination_is_refused(tmp_path):
    zip_path = write_zip(tmp_path / "d.zip")
    (tmp_path / "out").mkdir()
    with pytest.raises(DataError, match="already exists"):
        safe_extract(zip_path, tmp_path / "out")


def test_not_a_zip(tmp_path):
    path = tmp_path / "d.zip"
    path.write_text("hello, I am text")
    with pytest.raises(DataError, match=r"d\.zip is not a zip file"):
        safe_extract(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_zip(tmp_path):
    data = write_zip(tmp_path / "full.zip").read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.zip is not a zip file"):
        safe_extract(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupt_entry_leaves_nothing(tmp_path):
    path = write_zip(tmp_path / "d.zip", {"happy/a.png": b"A" * 1000}, method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[data.index(b"AAAA") + 10] ^= 0xFF  # flip a byte of the stored data: CRC fails
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt"):
        safe_extract(path, tmp_path / "out")
    assert only_entry(tmp_path) == []


def test_a_name_too_long_for_the_file_system_says_so(tmp_path):
    path = write_zip(tmp_path / "d.zip", {"happy/" + "a" * 300 + ".png": b"x"})
    with pytest.raises(DataError, match="name too long for this file system") as caught:
        safe_extract(path, tmp_path / "out")
    assert "disk space" not in str(caught.value)
    assert only_entry(tmp_path) == []


def test_a_file_and_a_folder_of_the_same_name_says_so(tmp_path):
    path = write_zip(tmp_path / "d.zip", {"happy/x": b"file", "happy/x/a.png": b"x"})
    with pytest.raises(DataError, match="holds a file and a folder of the same name") as caught:
        safe_extract(path, tmp_path / "out")
    assert "disk space" not in str(caught.value)
    assert only_entry(tmp_path) == []


@pytest.mark.parametrize(
    "name",
    ["../x", "happy/../../x", "/etc/x", "C:/x", "C:\\x", "..\\x", "happy\\..\\..\\x"],
)
def test_escaping_entry_is_refused_and_nothing_written(tmp_path, name):
    zip_path = write_zip(tmp_path / "d.zip", {**GOOD, name: b"evil"})
    assert name in zipfile.ZipFile(zip_path).namelist()  # the crafted name survived
    with pytest.raises(DataError, match="unsafe entry") as info:
        safe_extract(zip_path, tmp_path / "sub" / "out")
    assert repr(name) in str(info.value)
    assert only_entry(tmp_path) == []  # not even the parent folder was made
    assert not Path("/etc/x").exists()


def test_symlink_entry_is_refused(tmp_path):
    link = zipfile.ZipInfo("happy/link.png")
    link.create_system = 3  # Unix
    link.external_attr = 0o120777 << 16
    zip_path = write_zip(tmp_path / "d.zip", infos=[(link, b"/etc/passwd")])
    with pytest.raises(DataError, match="symbolic link"):
        safe_extract(zip_path, tmp_path / "out")
    assert only_entry(tmp_path) == []


def test_encrypted_entry_is_refused(tmp_path):
    zip_path = write_zip(tmp_path / "d.zip")
    data = bytearray(zip_path.read_bytes())
    # Set the "encrypted" flag bit in the central directory of the first entry.
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1
    zip_path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="password-protected"):
        safe_extract(zip_path, tmp_path / "out")


def test_total_size_over_limit_is_refused(tmp_path):
    zip_path = write_zip(tmp_path / "d.zip", {"happy/zeros.bin": bytes(3_000_000)})
    with pytest.raises(DataError, match="zip bomb"):
        safe_extract(zip_path, tmp_path / "out", max_total_bytes=1_000_000)
    assert only_entry(tmp_path) == []


def test_compression_ratio_over_limit_is_refused(tmp_path):
    zip_path = write_zip(tmp_path / "d.zip", {"happy/zeros.bin": bytes(3_000_000)})
    with pytest.raises(DataError, match=r"over 200:1.*zip bomb"):
        safe_extract(zip_path, tmp_path / "out", ratio_min_bytes=1_000_000)
    assert only_entry(tmp_path) == []
    # The same entry is fine below the size where the ratio check starts.
    assert extracted_files(safe_extract(zip_path, tmp_path / "ok")) == ["happy/zeros.bin"]


def test_lying_size_header_is_caught_while_streaming(tmp_path):
    zip_path = write_zip(tmp_path / "d.zip", {"happy/zeros.bin": bytes(3_000_000)})
    data = bytearray(zip_path.read_bytes())
    small = (1000).to_bytes(4, "little")
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = small  # both headers now claim 1000 bytes
    data[central + 24 : central + 28] = small
    zip_path.write_bytes(bytes(data))
    with pytest.raises(DataError):
        safe_extract(zip_path, tmp_path / "out", ratio_min_bytes=10**9)
    assert only_entry(tmp_path) == []


def test_junk_is_ignored(tmp_path):
    junk = {
        "__MACOSX/happy/._happy-0.png": b"x",
        ".DS_Store": b"x",
        "happy/.DS_Store": b"x",
        "happy/Thumbs.db": b"x",
        "sad/desktop.ini": b"x",
        "sad/Desktop.ini": b"x",
        ".hidden/x.png": b"x",
        "happy/.hidden.png": b"x",
    }
    zip_path = write_zip(tmp_path / "d.zip", {**GOOD, **junk})
    assert extracted_files(safe_extract(zip_path, tmp_path / "out")) == sorted(GOOD)


def test_backslash_separators_are_folders(tmp_path):
    zip_path = write_zip(tmp_path / "d.zip", {"happy\\": b"", "happy\\a.png": b"x", "sad\\b.png": b"y"})
    assert extracted_files(safe_extract(zip_path, tmp_path / "out")) == ["happy/a.png", "sad/b.png"]


def test_interrupted_extraction_leaves_no_half_folder(tmp_path, monkeypatch):
    zip_path = write_zip(tmp_path / "d.zip")
    real_copy = archive._copy_entry
    calls = []

    def interrupt_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_copy(*args)

    monkeypatch.setattr(archive, "_copy_entry", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        safe_extract(zip_path, tmp_path / "out")
    assert only_entry(tmp_path) == []


def test_is_ignored():
    assert {"__macosx", ".ds_store", "thumbs.db", "desktop.ini"} <= IGNORED_NAMES
    for name in ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini", ".git", "._a.png"):
        assert is_ignored(name), name
    for name in ("happy", "a.png", "sad_faces", "thumbs"):
        assert not is_ignored(name), name


# -- find_class_root -------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "data/", "Files/data/"])
def test_class_root_found_at_depth(tmp_path, prefix):
    make_tree(tmp_path, [f"{prefix}happy/a.png", f"{prefix}sad/b.png"])
    expected = tmp_path / prefix if prefix else tmp_path
    assert find_class_root(tmp_path) == expected


def test_wrapper_with_junk_beside_it_is_descended(tmp_path):
    make_tree(tmp_path, ["data/happy/a.png", "data/sad/b.png", "__MACOSX/data/._x", ".DS_Store"])
    assert find_class_root(tmp_path) == tmp_path / "data"


def test_single_class_folder_at_top_is_the_root(tmp_path):
    make_tree(tmp_path, ["happy/a.png"])
    assert find_class_root(tmp_path) == tmp_path


def test_too_deep_is_not_found(tmp_path):
    make_tree(tmp_path, ["a/b/c/happy/x.png", "a/b/c/sad/y.png"])
    with pytest.raises(DataError, match="no class folders"):
        find_class_root(tmp_path)
    assert find_class_root(tmp_path, max_depth=3) == tmp_path / "a/b/c"


def test_loose_files_error_says_what_was_found(tmp_path):
    make_tree(tmp_path, ["a.png", "b.png", "c.png", ".DS_Store"])
    with pytest.raises(DataError) as info:
        find_class_root(tmp_path)
    message = str(info.value)
    assert f"no class folders in {tmp_path}" in message
    assert "happy/ and sad/" in message and "found 3 loose files" in message


def test_empty_folders_error_says_what_was_found(tmp_path):
    (tmp_path / "happy").mkdir()
    (tmp_path / "sad").mkdir()
    with pytest.raises(DataError, match=r"found 2 folders with no files in them \(happy/, sad/\)"):
        find_class_root(tmp_path)
    with pytest.raises(DataError, match="found an empty folder"):
        find_class_root(tmp_path / "happy")


# -- prepare_data ----------------------------------------------------------------------


def test_prepare_data_on_a_folder(tmp_path):
    make_tree(tmp_path / "mine", ["data/happy/a.png", "data/sad/b.png"])
    assert prepare_data(tmp_path / "mine", tmp_path / "cache") == tmp_path / "mine" / "data"
    assert not (tmp_path / "cache").exists()  # folders are used in place


def test_prepare_data_on_a_zip_extracts_once(tmp_path, monkeypatch):
    zip_path = write_zip(tmp_path / "faces.zip", {f"Files/data/{k}": v for k, v in GOOD.items()})
    calls = []
    real = archive.safe_extract
    monkeypatch.setattr(archive, "safe_extract", lambda *a, **k: calls.append(1) or real(*a, **k))

    cache = tmp_path / "cache"
    root = prepare_data(str(zip_path), cache)
    expected = cache / "extracted" / sha256_file(zip_path) / "Files" / "data"
    assert root == expected
    assert sorted(p.name for p in root.iterdir()) == ["happy", "sad"]
    assert prepare_data(zip_path, cache) == root
    assert len(calls) == 1  # the second call reused the extraction


def test_prepare_data_zip_with_another_extension(tmp_path):
    zip_path = write_zip(tmp_path / "faces.bin")
    root = prepare_data(zip_path, tmp_path / "cache")
    assert sorted(p.name for p in root.iterdir()) == ["happy", "sad"]


def test_prepare_data_cleans_a_killed_extraction(tmp_path):
    zip_path = write_zip(tmp_path / "faces.zip")
    digest = sha256_file(zip_path)
    stale = tmp_path / "cache" / "extracted" / f".{digest}.dead.tmp"
    make_tree(stale, ["happy/a.png"])
    root = prepare_data(zip_path, tmp_path / "cache")
    assert root == tmp_path / "cache" / "extracted" / digest
    assert not stale.exists()


def test_prepare_data_missing_path(tmp_path):
    with pytest.raises(DataError) as info:
        prepare_data(tmp_path / "nope.zip", tmp_path / "cache")
    message = str(info.value)
    assert f"data path {tmp_path / 'nope.zip'} not found" in message
    assert "happysad download" in message


def test_prepare_data_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "faces.zip"
    path.write_text("not a zip")
    with pytest.raises(DataError, match=r"faces\.zip is not a zip file"):
        prepare_data(path, tmp_path / "cache")


def test_prepare_data_unwritable_cache(tmp_path):
    zip_path = write_zip(tmp_path / "faces.zip")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="HAPPYSAD_CACHE"):
        prepare_data(zip_path, blocker / "cache")


def test_prepare_data_unsafe_zip_leaves_no_cache_entry(tmp_path):
    zip_path = write_zip(tmp_path / "faces.zip", {**GOOD, "../evil": b"x"})
    with pytest.raises(DataError, match="unsafe entry"):
        prepare_data(zip_path, tmp_path / "cache")
    assert not (tmp_path / "cache" / "extracted" / sha256_file(zip_path)).exists()


# -- the real dataset ------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.skipif(not REAL_ZIP.is_file(), reason=f"real dataset not found at {REAL_ZIP}")
def test_real_zip_checksum_and_classes(tmp_path):
    assert sha256_file(REAL_ZIP) == DEFAULT_SHA256
    root = prepare_data(REAL_ZIP, tmp_path / "cache")
    classes = {p.name: len([f for f in p.iterdir() if not is_ignored(f.name)]) for p in root.iterdir() if p.is_dir()}
    assert classes == {"happy": 40, "sad": 40}


def test_tampered_extraction_is_detected_and_extracted_again(tmp_path):
    import zipfile as _zipfile

    from happysad.archive import prepare_data

    zpath = tmp_path / "d.zip"
    with _zipfile.ZipFile(zpath, "w") as z:
        for name in ("happy/a.png", "happy/b.png", "sad/c.png"):
            z.writestr(name, name.encode() * 10)
    cache = tmp_path / "cache"
    root = prepare_data(zpath, cache)
    (root / "happy" / "a.png").unlink()                       # deleted
    (root / "sad" / "c.png").write_bytes(b"x" * 90)            # same size, other bytes
    again = prepare_data(zpath, cache)
    assert sorted(p.relative_to(again).as_posix() for p in again.rglob("*.png")) == [
        "happy/a.png", "happy/b.png", "sad/c.png"]
    assert (again / "sad" / "c.png").read_bytes() == b"sad/c.png" * 10


def test_zip_asking_for_an_unknown_version_is_a_data_error(tmp_path):
    path = write_zip(tmp_path / "future.zip")
    raw = bytearray(path.read_bytes())
    central = raw.find(b"PK\x01\x02")
    raw[central + 6:central + 8] = (145).to_bytes(2, "little")  # "needs zip version 14.5"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="not a zip file we can read"):
        safe_extract(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_device_or_fifo_is_not_data(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(DataError, match="not a regular file or folder"):
            prepare_data(path, tmp_path / "cache")
