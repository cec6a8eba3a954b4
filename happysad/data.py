"""Where a job's images come from: ``--data`` resolved to a local zip or folder.

- a path (zip or folder of class folders) is used as it is, offline;
- ``synth`` is the procedurally drawn dataset (``happysad synth``), made once in the cache;
- nothing means the pinned download (verified, cached, reused offline afterwards).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import DataError

DATA_ENV = "HAPPYSAD_DATA"
SYNTH = "synth"


def locate_data(data: str | None, url: str, sha256: str, *, progress: bool = True,
                cache_dir: Path | None = None) -> Path:
    """Resolve a data setting to a local zip or folder.

    Args:
        data: a path, ``"synth"``, or None to download ``url``.
        url, sha256: the download and its pinned checksum.
        progress: draw a download progress bar on stderr.
        cache_dir: the cache (default ``$HAPPYSAD_CACHE`` or the user cache folder).

    Returns:
        A path that ``happysad.images.load_images`` accepts.
    """
    if data is not None and not data.strip():
        raise DataError("--data is empty; pass a zip or a folder of class folders, or 'synth'")
    if data is None:
        from .download import fetch
        from .errors import DownloadError

        try:
            return fetch(url, sha256, cache_dir, progress=progress)
        except DownloadError as exc:
            raise DownloadError(
                f"{exc}; to work offline, pass --data PATH (a zip or a folder) or --data synth"
            ) from None
    if data == SYNTH:
        from .download import default_cache_dir
        from .synth import ensure_synth

        return ensure_synth(Path(cache_dir or default_cache_dir()) / "synth")
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(
            f"data path {path} not found; pass a zip or a folder of class folders, "
            "'synth', or leave --data out to download the dataset"
        )
    if not (path.is_file() or path.is_dir()):  # a device or FIFO would be read forever
        raise DataError(f"data path {path} is not a regular file or folder; pass a zip or a "
                        "folder of class folders")
    return path


def fingerprint(path: Path) -> str:
    """SHA-256 of a zip, or of a folder's image files: relative names and contents (sorted).

    Only what the loader reads counts: junk it ignores (``.DS_Store``, which a file browser
    drops just by opening a folder, ``Thumbs.db``, hidden files) and non-image files do not.
    """
    from .images import ignored_under, is_image_file

    path = Path(path)
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    images = (p for p in path.rglob("*")
              if p.is_file() and is_image_file(p) and not ignored_under(path, p))
    for file in sorted(images):
        digest.update(os.fsencode(file.relative_to(path).as_posix()) + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()
