"""Small file-system helpers shared by the cache, the run folders and the config."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def probe_writable(directory: Path, keep: bool = True) -> None:
    """Create ``directory`` if missing and prove a file can be made there (raises OSError).

    Args:
        directory: the folder to test.
        keep: leave the folders it had to create; False removes them again, for a check
            made before work that may still fail (which should then leave no trace).
    """
    directory = Path(directory)
    missing = []  # deepest first: the order to remove them in
    for folder in (directory, *directory.parents):
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    finally:
        if not keep:
            for folder in missing:
                try:
                    folder.rmdir()
                except OSError as exc:
                    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        break  # something else appeared in it meanwhile: leave it
                    # else the mkdir failed before making this one: go on to its parent


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def replaced_whole(path: Path):
    """Yield a temporary path beside ``path`` to write to; it becomes ``path`` only if the
    block succeeds, so ``path`` is never half-written. A failed block's file (or folder)
    is removed; one that a kill leaves behind is hidden, named ``.tmp-PID-NAME``.
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")  # keeps the suffix Keras wants
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
