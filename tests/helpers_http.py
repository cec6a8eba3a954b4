"""A real HTTP server on 127.0.0.1 whose behaviour per path is set by the test.

Used by the download tests; no test ever touches the internet. Paths::

    /good.zip      200, the payload
    /wrong.zip     200, other bytes (checksum mismatch)
    /missing.zip   404
    /flaky.zip     500 for the first ``flaky_failures`` hits, then the payload
    /down.zip      always 500
    /stall.zip     headers and half the body, then silence (until the server stops)
    /short.zip     Content-Length larger than the body, then the connection closes
    /redirect.zip  302 to /good.zip
    /page.zip      200 text/html error page
    /sneaky.zip    200 application/octet-stream whose body is an HTML page
    /slow.zip      the payload in 10 pieces over ~1 s (for concurrent fetches)

``hits`` counts requests per path.
"""

from __future__ import annotations

import collections
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>"


class FakeServer:
    """Start with ``with FakeServer(payload) as server:``; ``server.url("/good.zip")``."""

    def __init__(self, payload: bytes, flaky_failures: int = 1):
        self.payload = payload
        self.flaky_failures = flaky_failures
        self.hits: collections.Counter[str] = collections.Counter()
        self.release = threading.Event()  # stalled handlers give up once this is set
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def count(self, path: str) -> int:
        with self._lock:
            self.hits[path] += 1
            return self.hits[path]

    def __enter__(self) -> "FakeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _make_handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _send(
            self, status: int, body: bytes, content_type: str = "application/zip", length: int | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            path = self.path.split("?", 1)[0]
            n = server.count(path)
            payload = server.payload
            if path == "/good.zip":
                self._send(200, payload)
            elif path == "/wrong.zip":
                self._send(200, payload[::-1])
            elif path == "/missing.zip":
                self._send(404, b"not found", "text/plain")
            elif path == "/flaky.zip":
                if n <= server.flaky_failures:
                    self._send(500, b"oops", "text/plain")
                else:
                    self._send(200, payload)
            elif path == "/down.zip":
                self._send(503, b"down", "text/plain")
            elif path == "/stall.zip":
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                server.release.wait(10)
            elif path == "/short.zip":
                self._send(200, payload[: len(payload) // 2], length=len(payload))
            elif path == "/redirect.zip":
                self.send_response(302)
                self.send_header("Location", "/good.zip")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/page.zip":
                self._send(200, HTML_PAGE, "text/html; charset=utf-8")
            elif path == "/sneaky.zip":
                self._send(200, HTML_PAGE, "application/octet-stream")
            elif path == "/slow.zip":
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                step = max(1, len(payload) // 10 + 1)
                for i in range(0, len(payload), step):
                    self.wfile.write(payload[i : i + step])
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self._send(404, b"no such test path", "text/plain")

    return Handler
