"""happysad.download against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from happysad import download
from happysad.download import default_cache_dir, fetch, sha256_file
from happysad.errors import DownloadError

try:
    from helpers_http import FakeServer
except ImportError:  # tests/ imported as a package
    from tests.helpers_http import FakeServer

FAST = {"progress": False, "backoff": 0.01, "read_timeout": 2, "connect_timeout": 2}


def make_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for cls in ("happy", "sad"):
            for i in range(3):
                zf.writestr(f"{cls}/{cls}-{i}.png", os.urandom(2000))
    return buf.getvalue()


@pytest.fixture(scope="module")
def payload() -> bytes:
    return make_zip()


@pytest.fixture
def sha(payload) -> str:
    return hashlib.sha256(payload).hexdigest()


@pytest.fixture
def server(payload):
    with FakeServer(payload) as srv:
        yield srv


def leftovers(cache: Path) -> list[str]:
    """Temp files a fetch must never leave behind."""
    folder = cache / "downloads"
    return sorted(p.name for p in folder.glob("*.part")) if folder.exists() else []


def cached_zips(cache: Path) -> list[Path]:
    folder = cache / "downloads"
    return sorted(folder.glob("*.zip")) if folder.exists() else []


# -- success paths ---------------------------------------------------------------------


def test_good_file_is_cached_and_second_call_stays_offline(server, payload, sha, tmp_path):
    path = fetch(server.url("/good.zip"), sha, tmp_path, **FAST)
    assert path == tmp_path / "downloads" / f"{sha}.zip"
    assert path.read_bytes() == payload
    assert server.hits["/good.zip"] == 1

    again = fetch(server.url("/good.zip"), sha, tmp_path, **FAST)
    assert again == path
    assert server.hits["/good.zip"] == 1  # verified from the cache, no request
    assert leftovers(tmp_path) == []


def test_uppercase_checksum_is_accepted(server, sha, tmp_path):
    path = fetch(server.url("/good.zip"), sha.upper(), tmp_path, **FAST)
    assert path.name == f"{sha}.zip"


def test_redirect_is_followed(server, payload, sha, tmp_path):
    path = fetch(server.url("/redirect.zip"), sha, tmp_path, **FAST)
    assert path.read_bytes() == payload
    assert server.hits["/redirect.zip"] == 1 and server.hits["/good.zip"] == 1


def test_500_then_success_is_retried(server, payload, sha, tmp_path):
    path = fetch(server.url("/flaky.zip"), sha, tmp_path, retries=3, **FAST)
    assert path.read_bytes() == payload
    assert server.hits["/flaky.zip"] == 2


def test_corrupted_cache_entry_is_detected_and_refetched(server, payload, sha, tmp_path, capsys):
    path = fetch(server.url("/good.zip"), sha, tmp_path, **FAST)
    path.write_bytes(b"bit rot")
    again = fetch(server.url("/good.zip"), sha, tmp_path, **FAST)
    assert again == path and path.read_bytes() == payload
    assert server.hits["/good.zip"] == 2
    assert "corrupted" in capsys.readouterr().err


def test_stale_part_files_are_cleaned(server, sha, tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    stale = folder / f".{sha}.dead.part"
    stale.write_bytes(b"half")
    fetch(server.url("/good.zip"), sha, tmp_path, **FAST)
    assert not stale.exists()


def test_progress_prints_one_line_off_a_terminal(server, sha, tmp_path, capsys):
    fetch(server.url("/good.zip"), sha, tmp_path, **{**FAST, "progress": True})
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "downloaded good.zip" in err


def test_progress_false_prints_nothing(server, sha, tmp_path, capsys):
    fetch(server.url("/good.zip"), sha, tmp_path, **FAST)
    assert capsys.readouterr().err == ""


# -- failures --------------------------------------------------------------------------


def test_wrong_checksum_is_an_error_and_leaves_nothing_trusted(server, payload, sha, tmp_path):
    url = server.url("/wrong.zip")
    with pytest.raises(DownloadError) as info:
        fetch(url, sha, tmp_path, **FAST)
    message = str(info.value)
    got = hashlib.sha256(payload[::-1]).hexdigest()
    assert sha in message and got in message and url in message
    assert cached_zips(tmp_path) == [] and leftovers(tmp_path) == []
    assert server.hits["/wrong.zip"] == 1  # a mismatch is final, not retried


def test_404_fails_at_once(server, sha, tmp_path):
    url = server.url("/missing.zip")
    with pytest.raises(DownloadError, match="404") as info:
        fetch(url, sha, tmp_path, retries=3, **FAST)
    assert url in str(info.value)
    assert server.hits["/missing.zip"] == 1


def test_always_500_gives_up_after_retries(server, sha, tmp_path, capsys):
    with pytest.raises(DownloadError, match=r"503.*3 attempts"):
        fetch(server.url("/down.zip"), sha, tmp_path, retries=2, **FAST)
    assert server.hits["/down.zip"] == 3
    assert capsys.readouterr().err.count("retrying") == 2
    assert leftovers(tmp_path) == []


def test_stalled_server_times_out(server, sha, tmp_path):
    with pytest.raises(DownloadError, match="stalled"):
        fetch(server.url("/stall.zip"), sha, tmp_path, retries=0, **{**FAST, "read_timeout": 0.5})
    assert cached_zips(tmp_path) == [] and leftovers(tmp_path) == []


def test_short_body_is_an_error(server, sha, tmp_path):
    with pytest.raises(DownloadError, match="cut short"):
        fetch(server.url("/short.zip"), sha, tmp_path, retries=1, **FAST)
    assert server.hits["/short.zip"] == 2  # a dropped connection is worth a retry
    assert cached_zips(tmp_path) == [] and leftovers(tmp_path) == []


@pytest.mark.parametrize("path", ["/page.zip", "/sneaky.zip"])
def test_html_page_is_not_a_zip(server, sha, tmp_path, path):
    with pytest.raises(DownloadError, match="served a web page"):
        fetch(server.url(path), sha, tmp_path, retries=3, **FAST)
    assert server.hits[path] == 1
    assert cached_zips(tmp_path) == [] and leftovers(tmp_path) == []


def test_connection_refused_is_retried_then_an_error(sha, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=r"cannot reach .*2 attempts"):
        fetch(f"http://127.0.0.1:{port}/x.zip", sha, tmp_path, retries=1, **FAST)


@pytest.mark.parametrize("url", ["ftp://example.com/x.zip", "not a url", "http:///x.zip", ""])
def test_invalid_url(url, sha, tmp_path):
    with pytest.raises(DownloadError, match="invalid URL"):
        fetch(url, sha, tmp_path, **FAST)


def test_invalid_checksum(server, tmp_path):
    with pytest.raises(DownloadError, match="64 hex digits"):
        fetch(server.url("/good.zip"), "abc", tmp_path, **FAST)


def test_unwritable_cache_names_it_and_suggests_env(server, sha, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = blocker / "cache"  # mkdir fails even as root
    with pytest.raises(DownloadError) as info:
        fetch(server.url("/good.zip"), sha, cache, **FAST)
    assert str(cache / "downloads") in str(info.value)
    assert "HAPPYSAD_CACHE" in str(info.value)
    assert server.hits["/good.zip"] == 0


def test_keyboard_interrupt_leaves_no_temp_file(server, sha, tmp_path, monkeypatch):
    def interrupt(self, done):
        raise KeyboardInterrupt

    monkeypatch.setattr(download._Progress, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fetch(server.url("/good.zip"), sha, tmp_path, **FAST)
    assert cached_zips(tmp_path) == [] and leftovers(tmp_path) == []


# -- concurrency -----------------------------------------------------------------------


def test_two_processes_at_once_end_with_one_good_copy(server, payload, sha, tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from happysad.download import fetch
        print(fetch(sys.argv[1], sys.argv[2], Path(sys.argv[3]), progress=False, backoff=0.01))
        """
    )
    args = [sys.executable, "-c", code, server.url("/slow.zip"), sha, str(tmp_path)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
    paths = {out.strip() for out, _ in results}
    expected = tmp_path / "downloads" / f"{sha}.zip"
    assert paths == {str(expected)}
    assert cached_zips(tmp_path) == [expected]
    assert expected.read_bytes() == payload
    assert leftovers(tmp_path) == []
    if download.fcntl is not None:  # the lock makes the second process reuse the first's copy
        assert server.hits["/slow.zip"] == 1


# -- helpers ---------------------------------------------------------------------------


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(200_000)  # several chunks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path, chunk_size=7) == hashlib.sha256(data).hexdigest()


def test_default_cache_dir_env_and_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("HAPPYSAD_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("HAPPYSAD_CACHE")
    import platformdirs

    assert default_cache_dir() == Path(platformdirs.user_cache_dir("happysad"))


def test_short_body_is_caught_even_if_requests_does_not_raise(server, sha, tmp_path, monkeypatch):
    # Some requests/urllib3 versions end a short body quietly; we count bytes ourselves.
    import requests

    monkeypatch.setattr(requests.Response, "iter_content", lambda self, *a, **k: iter([b"PK\x03\x04 half"]))
    with pytest.raises(DownloadError, match=r"cut short: got 9 of \d+ bytes"):
        fetch(server.url("/good.zip"), sha, tmp_path, retries=0, **FAST)
    assert cached_zips(tmp_path) == [] and leftovers(tmp_path) == []


def test_disk_full_is_a_download_error_and_leaves_no_temp(server, sha, tmp_path, monkeypatch):
    import errno

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download.os, "fsync", no_space)
    with pytest.raises(DownloadError, match="No space left.*HAPPYSAD_CACHE"):
        fetch(server.url("/good.zip"), sha, tmp_path, **FAST)
    assert cached_zips(tmp_path) == [] and leftovers(tmp_path) == []


def test_progress_bar_redraws_on_a_terminal(server, sha, tmp_path, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    fetch(server.url("/good.zip"), sha, tmp_path, **{**FAST, "progress": True})
    text = tty.getvalue()
    assert text.startswith("\r") and "100%" in text and text.endswith("\n")
