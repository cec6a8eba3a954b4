"""Turn a user's ``--data`` value (a zip or a folder) into a folder of class folders.

A dataset is a folder with one subfolder per class::

    happy/  happy1-00.png ...
    sad/    sad1-00.png ...

It may come as a zip, and the class folders may sit under one or two wrapper folders
(``data/happy``, ``Files/data/happy``); ``find_class_root`` finds them. Zips are
extracted once into the cache, named by their checksum::

    <cache>/extracted/<sha256-of-zip>/   complete: it only gets this name by an atomic
                                         rename after every entry was written

Extraction refuses entries that would escape the target folder, symlinks, and zip bombs,
and skips junk (``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``, ``desktop.ini``, hidden
files). The image loader uses ``is_ignored`` to skip the same junk in plain folders.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .download import CACHE_ENV, _format_bytes, default_cache_dir, file_lock, sha256_file
from .errors import DataError

log = logging.getLogger("happysad")

EXTRACTED_DIR = "extracted"
CHUNK_SIZE = 1 << 16

# Names the OS or an archiver adds; never data. Compared in lower case.
IGNORED_NAMES = frozenset({"__macosx", ".ds_store", "thumbs.db", "desktop.ini"})

# Zip-bomb limits. The lab's zip unpacks to ~2.7 MB; real image sets stay far below 2 GiB.
MAX_TOTAL_BYTES = 2 * 1024**3
# Images barely compress (PNG/JPEG are compressed already), so an entry that shrank more
# than 200:1 is suspect. Small entries are exempt: a tiny blank image may well do that,
# and cannot fill a disk; deflate's own ceiling is ~1032:1.
MAX_RATIO = 200
RATIO_MIN_BYTES = 10 * 1024**2

_DRIVE = re.compile(r"^[A-Za-z]:")
_REFUSE = "refusing to extract this zip (inspect it, or unzip it yourself and pass the folder)"


def is_ignored(name: str) -> bool:
    """True for junk names to skip: OS/archiver litter and hidden files or folders.

    Args:
        name: one path component (a file or folder name, not a path).

    Returns:
        Whether the loader and the extractor should pretend it is not there.
    """
    return name.startswith(".") or name.lower() in IGNORED_NAMES


def _is_ignored_path(parts: tuple[str, ...]) -> bool:
    return any(is_ignored(p) for p in parts)


# ---------------------------------------------------------------------------------------
# Safe extraction
# ---------------------------------------------------------------------------------------


class _DestinationExists(DataError):
    """``dest`` exists already (or appeared while we extracted: another process won)."""


def _entry_parts(info: zipfile.ZipInfo, zip_path: Path) -> tuple[str, ...]:
    """The entry's path components, or DataError if it could land outside the target.

    Backslashes count as separators: old Windows tools write ``happy\\a.png``, and an
    attacker writes ``..\\x``.
    """
    name = info.filename
    unified = name.replace("\\", "/")
    refuse = f"{zip_path} has an unsafe entry {name!r}"
    if unified.startswith("/") or _DRIVE.match(unified):
        raise DataError(f"{refuse}: an absolute path; {_REFUSE}")
    parts = tuple(p for p in PurePosixPath(unified).parts if p not in ("", "."))
    if ".." in parts:
        raise DataError(f"{refuse}: it points outside the folder ('..'); {_REFUSE}")
    if "\x00" in name:
        raise DataError(f"{refuse}: a NUL byte in its name; {_REFUSE}")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DataError(f"{refuse}: a symbolic link; {_REFUSE}")
    return parts


def _plan(
    zf: zipfile.ZipFile,
    zip_path: Path,
    max_total_bytes: int,
    max_ratio: float,
    ratio_min_bytes: int,
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...], bool]]:
    """Validate every entry before anything is written; return the ones to extract."""
    plan = []
    total = 0
    for info in zf.infolist():
        parts = _entry_parts(info, zip_path)  # check junk too: a bad entry is a bad zip
        if not parts or _is_ignored_path(parts):
            continue
        if info.flag_bits & 0x1:
            raise DataError(
                f"{zip_path} entry {info.filename!r} is password-protected; "
                "unzip it yourself and pass the folder"
            )
        # Backslash-terminated names are folders too (old Windows archivers).
        is_dir = info.filename.replace("\\", "/").endswith("/")
        if not is_dir:
            size = info.file_size
            if size > ratio_min_bytes and size > max_ratio * max(info.compress_size, 1):
                raise DataError(
                    f"{zip_path} entry {info.filename!r} unpacks {_format_bytes(size)} from "
                    f"{_format_bytes(info.compress_size)} (over {max_ratio:g}:1), a likely zip "
                    f"bomb; {_REFUSE}"
                )
            total += size
            if total > max_total_bytes:
                raise DataError(
                    f"{zip_path} would unpack to more than {_format_bytes(max_total_bytes)}, "
                    f"a likely zip bomb; {_REFUSE}"
                )
        plan.append((info, parts, is_dir))
    return plan


def _write_hint(exc: OSError) -> str:
    """What to do about a failed write, by its cause."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some disk space"
    if exc.errno == errno.ENAMETOOLONG:
        return "the archive holds a name too long for this file system"
    if exc.errno in (errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
        return "the archive holds a file and a folder of the same name"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make the folder writable or set {CACHE_ENV} to one that is"
    return "check free disk space and permissions"


def _copy_entry(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    out: Path,
    zip_path: Path,
    budget: int,
) -> int:
    """Stream one entry to ``out``; return its size. Enforces sizes on the real bytes."""
    written = 0
    try:
        with zf.open(info) as src, open(out, "wb") as dst:
            while chunk := src.read(CHUNK_SIZE):
                written += len(chunk)
                # Headers can lie; count what actually comes out.
                if written > info.file_size or written > budget:
                    raise DataError(
                        f"{zip_path} entry {info.filename!r} unpacks to more than its header "
                        f"says or past the size limit, a likely zip bomb; {_REFUSE}"
                    )
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise DataError(
            f"{zip_path} is corrupt or unsupported at entry {info.filename!r}: {exc}; "
            "download it again, or unzip it yourself and pass the folder"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot write {out}: {exc.strerror or exc}; {_write_hint(exc)}") from None
    return written


def safe_extract(
    zip_path: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
    ratio_min_bytes: int = RATIO_MIN_BYTES,
) -> Path:
    """Extract a zip into a new folder ``dest``, refusing anything unsafe.

    Every entry is checked before anything is written: no absolute paths, drive letters
    or ``..`` (with ``/`` or ``\\``), no symlinks, no password-protected entries, and the
    declared sizes must stay within the zip-bomb limits. The sizes are enforced again on
    the bytes actually decompressed. Junk entries (``is_ignored``) are skipped.

    The zip is extracted into a hidden temp folder next to ``dest`` and renamed into place,
    so ``dest`` exists only once it is complete; an interrupted extraction leaves nothing.

    Args:
        zip_path: the zip file.
        dest: the folder to create; it must not exist yet.
        max_total_bytes: refuse zips that unpack to more than this (default 2 GiB).
        max_ratio: refuse entries compressed more than this ratio ...
        ratio_min_bytes: ... if they unpack to more than this many bytes (default 10 MiB).

    Returns:
        ``dest``.

    Raises:
        DataError: not a zip, corrupt, unsafe, too large, or ``dest`` cannot be written.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    if dest.exists():
        raise _DestinationExists(
            f"cannot extract {zip_path} into {dest}: it already exists; "
            "remove it or pick another folder"
        )
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        # NotImplementedError: a header asking for a zip version or feature Python lacks.
        raise DataError(
            f"{zip_path} is not a zip file we can read: {exc}; it may be truncated, damaged or another format "
            "(download it again, or pass a folder of class folders)"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read {zip_path}: {exc.strerror or exc}") from None
    with zf:
        plan = _plan(zf, zip_path, max_total_bytes, max_ratio, ratio_min_bytes)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
        except OSError as exc:
            raise DataError(
                f"cannot create a folder in {dest.parent}: {exc.strerror or exc}; "
                "extract into a writable folder"
            ) from None
        try:
            budget = max_total_bytes
            for info, parts, is_dir in plan:
                out = tmp.joinpath(*parts)
                if is_dir:
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                budget -= _copy_entry(zf, info, out, zip_path, budget)
            try:
                os.rename(tmp, dest)  # atomic: dest is complete or absent
            except OSError:
                if dest.exists():
                    raise _DestinationExists(
                        f"{dest} appeared while extracting {zip_path}; remove it and try again"
                    ) from None
                raise
        except OSError as exc:  # mkdir clashes (a file and a folder of one name), disk full
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(
                f"cannot extract {zip_path} into {dest}: {exc.strerror or exc}; "
                f"{_write_hint(exc)}, or unzip it yourself and pass the folder"
            ) from None
        except BaseException:  # includes KeyboardInterrupt: leave no half folder
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


# ---------------------------------------------------------------------------------------
# Finding the class folders
# ---------------------------------------------------------------------------------------


def _listing(folder: Path) -> tuple[list[Path], list[Path]]:
    """(visible subfolders, visible files) of ``folder``, sorted, junk left out."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise DataError(f"cannot read folder {folder}: {exc.strerror or exc}") from None
    entries = [e for e in entries if not is_ignored(e.name)]
    return [e for e in entries if e.is_dir()], [e for e in entries if e.is_file()]


def _has_files(folder: Path) -> bool:
    return bool(_listing(folder)[1])


def _describe(folder: Path) -> str:
    """What ``folder`` holds, in words, for an error message."""
    dirs, files = _listing(folder)
    if not dirs and not files:
        return "an empty folder"
    found = []
    if dirs:
        names = ", ".join(d.name + "/" for d in dirs[:3]) + (", ..." if len(dirs) > 3 else "")
        what = (
            "1 folder with no files in it"
            if len(dirs) == 1
            else f"{len(dirs)} folders with no files in them"
        )
        found.append(f"{what} ({names})")
    if files:
        found.append(f"{len(files)} loose file{'s' if len(files) != 1 else ''}")
    return " and ".join(found)


def _search(folder: Path, depth_left: int) -> Path | None:
    """The class root at or under ``folder`` (through wrappers only), or None."""
    dirs, files = _listing(folder)
    # A lone subfolder and no files of our own: a wrapper, if classes sit somewhere below.
    if depth_left > 0 and len(dirs) == 1 and not files:
        found = _search(dirs[0], depth_left - 1)
        if found is not None:
            return found
    if any(_has_files(d) for d in dirs):
        return folder
    return None


def _innermost_wrapper(folder: Path, max_depth: int) -> Path:
    """Follow lone subfolders down (for the error message: where the search ended)."""
    for _ in range(max_depth):
        dirs, files = _listing(folder)
        if len(dirs) != 1 or files:
            break
        folder = dirs[0]
    return folder


def find_class_root(folder: str | os.PathLike, max_depth: int = 2) -> Path:
    """The folder whose subfolders are the classes.

    A folder is the class root if at least one of its (non-junk) subfolders holds files.
    Wrapper folders are tried first: a folder with no files of its own and exactly one
    subfolder is stepped into if a class root lies below it, at most ``max_depth`` levels
    down (``data/happy``, ``Files/data/happy``). So ``data/happy/*.png`` gives ``data``
    (one class, happy), while ``happy/*.png`` alone gives the top folder.

    Args:
        folder: where to start.
        max_depth: how many wrapper folders to descend at most.

    Returns:
        The class root.

    Raises:
        DataError: no class folders found; the message says what was there instead.
    """
    start = Path(folder)
    if not start.is_dir():
        raise DataError(f"data folder {start} not found")
    found = _search(start, max_depth)
    if found is not None:
        return found
    last = _innermost_wrapper(start, max_depth)
    where = str(start) if last == start else f"{start} (looked inside {last})"
    raise DataError(
        f"no class folders in {where}: expected one folder per class such as happy/ and sad/, "
        f"found {_describe(last)}"
    )


# ---------------------------------------------------------------------------------------
# --data resolution
# ---------------------------------------------------------------------------------------


def _extraction_intact(zip_path: Path, dest: Path) -> bool:
    """True if ``dest`` holds exactly the zip's files, byte for byte (by CRC-32).

    A cached extraction is reused across runs; a file deleted, added or edited there by
    hand would otherwise train on data the recorded checksum does not describe.
    """
    try:
        with zipfile.ZipFile(zip_path) as zf:
            expected = {
                "/".join(parts): info
                for info, parts, is_dir in _plan(zf, zip_path, MAX_TOTAL_BYTES, MAX_RATIO,
                                                  RATIO_MIN_BYTES)
                if not is_dir
            }
        found = {p.relative_to(dest).as_posix(): p for p in dest.rglob("*") if p.is_file()}
    except (OSError, zipfile.BadZipFile, NotImplementedError, DataError):
        return False
    if set(found) != set(expected):
        return False
    for name, info in expected.items():
        path = found[name]
        if path.stat().st_size != info.file_size:
            return False
        crc = 0
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                crc = zlib.crc32(chunk, crc)
        if crc != info.CRC:
            return False
    return True


def _discard(folder: Path) -> None:
    """Move a stale extraction aside atomically, then delete it."""
    trash = folder.with_name(f".{folder.name}.{os.getpid()}.stale.tmp")
    try:
        os.replace(folder, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _extract_cached(zip_path: Path, cache_dir: Path | None) -> Path:
    """Extract ``zip_path`` once into ``<cache>/extracted/<sha256>/``; reuse it afterwards."""
    root = Path(cache_dir if cache_dir is not None else default_cache_dir()) / EXTRACTED_DIR
    try:
        digest = sha256_file(zip_path)
    except OSError as exc:
        raise DataError(f"cannot read {zip_path}: {exc.strerror or exc}") from None
    dest = root / digest
    if dest.is_dir():  # complete by construction (atomic rename); check nobody edited it
        if _extraction_intact(zip_path, dest):
            return dest
        log.warning("the extracted copy of %s in %s was changed; extracting it again",
                    zip_path, dest)
        _discard(dest)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the extraction cache {root}: {exc.strerror or exc}; "
            f"set {CACHE_ENV} to a writable folder"
        ) from None
    with file_lock(root / f"{digest}.lock") as locked:
        if dest.is_dir() and _extraction_intact(zip_path, dest):  # extracted while we waited
            return dest
        if locked:  # leftovers of killed extractions; nobody else can be writing them
            for stale in root.glob(f".{digest}.*.tmp"):
                shutil.rmtree(stale, ignore_errors=True)
        try:
            safe_extract(zip_path, dest)
        except _DestinationExists:  # lost a race without a lock: theirs is as good
            pass
    return dest


def prepare_data(source: str | os.PathLike, cache_dir: Path | None = None) -> Path:
    """Resolve a ``--data`` value into the folder of class folders.

    Args:
        source: a folder (class folders at the top or under wrapper folders), or a zip
            file, which is extracted once into ``<cache>/extracted/<sha256>/``.
        cache_dir: the cache folder; default ``default_cache_dir()``.

    Returns:
        The class root (see ``find_class_root``).

    Raises:
        DataError: missing path, a file that is not a zip, an unsafe or corrupt zip, or
            no class folders.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(
            f"data path {path} not found; pass a zip or a folder of class folders, "
            "or run 'happysad download'"
        )
    if path.is_dir():
        return find_class_root(path)
    if not path.is_file():  # /dev/zero, a FIFO: reading it for a zip would never end
        raise DataError(f"data path {path} is not a regular file or folder; pass a zip or a "
                        "folder of class folders")
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path} is not a zip file (or it is truncated); pass a .zip of class folders "
            "or a folder with one subfolder per class, such as happy/ and sad/"
        )
    return find_class_root(_extract_cached(path, cache_dir))
