"""Fetch the dataset zip into a local cache, verified by its pinned SHA-256.

The cache holds one file per checksum::

    <cache>/downloads/<sha256>.zip     a verified copy; trusted only because of its name
    <cache>/downloads/<sha256>.lock    lock file: concurrent fetches of one zip take turns

A file only ever gets its ``<sha256>.zip`` name after its bytes hashed to that checksum
(it is written as a hidden ``.part`` file and renamed atomically), so a crash, a Ctrl-C or
a second process can never leave a half file that the cache would trust. A cached copy is
re-hashed on every use; a corrupted one is deleted and fetched again.

The cache folder is ``$HAPPYSAD_CACHE`` if set, else the platform's user cache folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from .errors import DownloadError
from .files import probe_writable

try:  # POSIX only; elsewhere concurrent fetches rely on the atomic rename alone.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

CACHE_ENV = "HAPPYSAD_CACHE"
DOWNLOADS_DIR = "downloads"
CHUNK_SIZE = 1 << 16

# Statuses that mean "try again later"; every other 4xx is the URL's fault and final.
_RETRY_4XX = {408, 429}


class _Retryable(Exception):
    """A fault that may pass (5xx, dropped connection, timeout); the message says which."""


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """The cache folder: ``$HAPPYSAD_CACHE`` if set, else the user cache folder.

    Returns:
        The folder path (not created here).
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("happysad"))


def sha256_file(path: str | os.PathLike, chunk_size: int = CHUNK_SIZE) -> str:
    """The SHA-256 of a file as 64 lowercase hex digits, read in chunks.

    Args:
        path: the file.
        chunk_size: bytes read at a time (memory stays flat for any file size).

    Returns:
        The hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` for the ``with`` block (POSIX ``flock``).

    Other processes that lock the same path wait until this one leaves the block. The
    lock file is left in place: deleting it would let two processes lock two different
    files of the same name.

    Args:
        path: the lock file, created if missing; its folder must exist.

    Returns:
        A context manager yielding True if the lock is held, False where locking is not
        available (non-POSIX, or a file system without ``flock``); callers then rely on
        atomic renames alone.
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield False
        return
    with open(path, "a") as f:  # "a": creates it, never truncates someone else's
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        except OSError:  # e.g. ENOLCK on some network file systems: go on unlocked
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover - loop always returns


class _Progress:
    """A progress bar on stderr: redrawn in place on a terminal, one final line otherwise.

    Args:
        label: what is being downloaded (shown on the line).
        total: expected bytes, or None when the server did not say.
        enabled: False prints nothing at all.
    """

    def __init__(self, label: str, total: int | None, enabled: bool = True):
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = enabled and bool(isatty and isatty())
        self.last_draw = 0.0

    def update(self, done: int) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if now - self.last_draw < 0.1:  # redraw at most 10 times a second
            return
        self.last_draw = now
        self._draw(done, end="")

    def close(self, done: int) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._draw(done, end="\n")
        else:
            print(f"downloaded {self.label}: {_format_bytes(done)}", file=self.stream, flush=True)

    def abort(self) -> None:
        """End a half-drawn bar so that an error message starts on its own line."""
        if self.tty and self.last_draw:
            print(file=self.stream, flush=True)

    def _draw(self, done: int, end: str) -> None:
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            text = f"{self.label} [{bar:<30}] {frac:4.0%} {_format_bytes(done)}/{_format_bytes(self.total)}"
        else:
            text = f"{self.label} {_format_bytes(done)}"
        print(f"\r{text}", end=end, file=self.stream, flush=True)


# ---------------------------------------------------------------------------------------
# Checks before any network traffic
# ---------------------------------------------------------------------------------------


def _check_sha256(sha256: str) -> str:
    text = str(sha256).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise DownloadError(
            f"checksum {sha256!r} is not a SHA-256 (64 hex digits); "
            "pass the zip's sha256, e.g. from 'sha256sum file.zip'"
        )
    return text


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise DownloadError(f"invalid URL {url!r}: {exc}; pass an http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(
            f"invalid URL {url!r}: expected an http:// or https:// address of a zip file"
        )


def _ensure_writable(folder: Path) -> None:
    """Create ``folder`` and prove a file can be written there, or raise DownloadError."""
    try:
        probe_writable(folder)
    except OSError as exc:
        raise DownloadError(
            f"cannot write to the download cache {folder}: {exc.strerror or exc}; "
            f"set {CACHE_ENV} to a writable folder"
        ) from None


def _is_verified(path: Path, sha256: str) -> bool:
    try:
        return path.is_file() and sha256_file(path) == sha256
    except OSError:
        return False  # unreadable counts as corrupted: it gets replaced


def _remove_stale_parts(folder: Path, sha256: str) -> None:
    """Delete leftovers of killed fetches; only call while holding the lock."""
    for part in folder.glob(f".{sha256}.*.part"):
        part.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# One HTTP attempt
# ---------------------------------------------------------------------------------------


def _short_reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, without the wrapper noise."""
    inner: object = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    while isinstance(getattr(inner, "reason", None), BaseException):
        inner = inner.reason  # type: ignore[attr-defined]
    args = getattr(inner, "args", ())
    # urllib3 errors carry (message, cause); the message alone reads best.
    text = args[0] if len(args) > 1 and isinstance(args[0], str) else str(inner)
    # Drop "<HTTPConnection object at 0x..>: " / "HTTPConnection(host=.., port=..): ".
    return re.sub(r"^(<[^>]*>|HTTPS?Connection(Pool)?\([^)]*\)): ", "", text)


def _is_read_timeout(exc: BaseException) -> bool:
    """True if a requests error is a read timeout (mid-body it arrives as a ConnectionError)."""
    from requests import exceptions as rex
    from urllib3.exceptions import ReadTimeoutError

    inner = exc.args[0] if exc.args else None
    return isinstance(exc, rex.ReadTimeout) or isinstance(inner, ReadTimeoutError)


def _cut_short(url: str, exc: BaseException) -> str:
    return f"download of {url} was cut short: {_short_reason(exc)}"


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype", b"<html"))


def _html_error(url: str, why: str) -> DownloadError:
    return DownloadError(
        f"{url} served a web page ({why}), not a zip file; the URL may need a sign-in or "
        "point at a download page: open it in a browser and use the direct link to the .zip"
    )


def _check_response(response, url: str) -> int | None:
    """Raise for bad statuses and HTML pages; return the Content-Length (None if unknown)."""
    status = response.status_code
    if status >= 500 or status in _RETRY_4XX:
        raise _Retryable(f"{url} answered HTTP {status} {response.reason or ''}".rstrip())
    if status >= 400:
        hint = "the file is not there" if status in (404, 410) else "you may lack access"
        raise DownloadError(
            f"{url} answered HTTP {status} {response.reason or ''}".rstrip()
            + f"; check the URL ({hint})"
        )
    if status != 200:
        raise DownloadError(f"{url} answered HTTP {status}, expected 200 with the zip file")
    content_type = response.headers.get("Content-Type", "")
    if "text/html" in content_type.lower():
        raise _html_error(url, f"Content-Type {content_type}")
    length = response.headers.get("Content-Length")
    encoding = response.headers.get("Content-Encoding", "identity").lower()
    # A compressed transfer has a Content-Length of the compressed bytes; skip the check then.
    if length is None or encoding not in ("", "identity"):
        return None
    try:
        return int(length)
    except ValueError:
        return None


def _download_once(
    url: str,
    sha256: str,
    folder: Path,
    timeouts: tuple[float, float],
    progress: bool,
) -> Path:
    """One GET of ``url`` into a hidden temp file in ``folder``, checked against ``sha256``.

    Args:
        url: http(s) address of the zip.
        sha256: expected checksum (lowercase hex).
        folder: where the temp file is written (the cache's downloads folder).
        timeouts: (connect, read) seconds for requests.
        progress: draw a progress bar on stderr.

    Returns:
        The verified temp file; the caller renames it into place.

    Raises:
        _Retryable: a fault worth another try. DownloadError: a final fault.
    """
    import requests
    from requests import exceptions as rex

    try:
        response = requests.get(
            url,
            stream=True,
            timeout=timeouts,
            # Ask for the raw bytes so Content-Length counts what we hash.
            headers={"Accept-Encoding": "identity", "User-Agent": "happysad"},
        )
    except (rex.InvalidURL, rex.MissingSchema, rex.InvalidSchema, rex.URLRequired) as exc:
        raise DownloadError(f"invalid URL {url!r}: {_short_reason(exc)}") from None
    except rex.TooManyRedirects:
        raise DownloadError(f"{url} redirects in a loop; check the URL") from None
    except rex.ConnectTimeout:
        raise _Retryable(f"could not connect to {url} within {timeouts[0]:g}s") from None
    except rex.ReadTimeout:
        raise _Retryable(f"{url} sent no answer for {timeouts[1]:g}s") from None
    except rex.RequestException as exc:
        raise _Retryable(f"cannot reach {url}: {_short_reason(exc)}") from None

    with response:
        total = _check_response(response, url)
        try:
            fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{sha256}.", suffix=".part")
        except OSError as exc:
            raise DownloadError(
                f"cannot write to the download cache {folder}: {exc.strerror or exc}; "
                f"set {CACHE_ENV} to a writable folder"
            ) from None
        tmp = Path(tmp_name)
        bar = _Progress(url.rsplit("/", 1)[-1] or url, total, progress)
        try:
            try:
                with os.fdopen(fd, "wb") as f:
                    done, got = _write_body(response, f, url, timeouts[1], bar)
            except OSError as exc:  # the disk, not the network: those became _Retryable
                raise DownloadError(
                    f"cannot write the download to {folder}: {exc.strerror or exc}; free some "
                    f"disk space or set {CACHE_ENV} to another folder"
                ) from None
            # requests does not always notice a short body; count the bytes ourselves.
            if total is not None and done != total:
                raise _Retryable(f"download of {url} was cut short: got {done} of {total} bytes")
            bar.close(done)
            if got != sha256:
                from .config import DEFAULT_SHA256, DEFAULT_URL

                why = (
                    "the default checksum pins the lab's dataset only: pass this file's own "
                    "--sha256 (sha256sum prints it)"
                    if sha256 == DEFAULT_SHA256 and url != DEFAULT_URL else
                    "the file was corrupted in transit or changed on the server. Try again; "
                    "if the new file is trusted, pass its sha256 instead"
                )
                raise DownloadError(
                    f"checksum mismatch for {url}: expected sha256 {sha256}, got {got}; {why}"
                )
            return tmp
        except BaseException:  # includes KeyboardInterrupt: never leave a .part behind
            bar.abort()
            tmp.unlink(missing_ok=True)
            raise


def _write_body(response, f, url: str, read_timeout: float, bar: _Progress) -> tuple[int, str]:
    """Stream the response body into ``f``, hashing as it goes.

    Args:
        response: a streaming ``requests`` response with a 200 status.
        f: the open temp file.
        url: for messages.
        read_timeout: for messages (requests enforces it).
        bar: the progress bar to advance.

    Returns:
        (bytes written, their SHA-256 hex digest).

    Raises:
        _Retryable: the network failed; OSError: writing failed; DownloadError: HTML body.
    """
    from requests import exceptions as rex

    digest = hashlib.sha256()
    done = 0
    chunks = response.iter_content(CHUNK_SIZE)
    while True:
        try:
            chunk = next(chunks, None)
        except (rex.RequestException, OSError) as exc:
            if _is_read_timeout(exc):
                raise _Retryable(f"{url} stalled: no data for {read_timeout:g}s after {done} bytes") from None
            raise _Retryable(_cut_short(url, exc)) from None
        if chunk is None:
            break
        if done == 0 and _looks_like_html(chunk[:512]):
            raise _html_error(url, "the body is HTML")
        f.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        bar.update(done)
    f.flush()
    os.fsync(f.fileno())  # the rename must not outlive the bytes after a crash
    return done, digest.hexdigest()


def _download_with_retries(
    url: str,
    sha256: str,
    folder: Path,
    timeouts: tuple[float, float],
    progress: bool,
    retries: int,
    backoff: float,
) -> Path:
    """``_download_once``, retried ``retries`` times with exponential backoff on faults that may pass."""
    last: _Retryable | None = None
    for attempt in range(retries + 1):
        try:
            return _download_once(url, sha256, folder, timeouts, progress)
        except _Retryable as exc:
            last = exc
            if attempt < retries:
                delay = backoff * 2**attempt
                _say(f"{exc}; retrying in {delay:g}s ({attempt + 1}/{retries})")
                time.sleep(delay)
    tries = f"{retries + 1} attempts" if retries else "1 attempt"
    raise DownloadError(
        f"{last} (gave up after {tries}); check your network connection and try again "
        "later, or fetch the zip from a mirror with --url URL --sha256 HEX"
    )


# ---------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------


def fetch(
    url: str,
    sha256: str,
    cache_dir: Path | None = None,
    *,
    progress: bool = True,
    connect_timeout: float = 10,
    read_timeout: float = 60,
    retries: int = 3,
    backoff: float = 0.5,
) -> Path:
    """Return a verified copy of the zip at ``url``, downloading it only if needed.

    Args:
        url: http(s) address of the zip (redirects are followed).
        sha256: its pinned SHA-256; the cached file is named after it.
        cache_dir: the cache folder; default ``default_cache_dir()``.
        progress: show a progress bar on stderr (a single line when not a terminal).
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds the server may go silent before the attempt fails.
        retries: extra attempts after a 5xx, a dropped connection or a timeout.
        backoff: first wait between attempts in seconds; doubled each time.

    Returns:
        ``<cache>/downloads/<sha256>.zip``, whose bytes hash to ``sha256``.

    Raises:
        DownloadError: bad URL, unwritable cache, HTTP error, a web page instead of a
            zip, a checksum mismatch, or faults that persisted through the retries.
    """
    sha256 = _check_sha256(sha256)
    _check_url(url)
    folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / DOWNLOADS_DIR
    target = folder / f"{sha256}.zip"
    if _is_verified(target, sha256):  # no lock needed: works on read-only caches too
        return target
    _ensure_writable(folder)
    with file_lock(folder / f"{sha256}.lock") as locked:
        # Another process may have fetched it while we waited for the lock.
        if target.exists():
            if _is_verified(target, sha256):
                return target
            _say(f"cached copy {target} is corrupted (checksum mismatch); downloading it again")
            target.unlink(missing_ok=True)
        if locked:
            _remove_stale_parts(folder, sha256)
        tmp = _download_with_retries(
            url,
            sha256,
            folder,
            (float(connect_timeout), float(read_timeout)),
            progress,
            max(0, int(retries)),
            float(backoff),
        )
        try:
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DownloadError(
                f"cannot save {target}: {exc.strerror or exc}; set {CACHE_ENV} to a writable folder"
            ) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return target
