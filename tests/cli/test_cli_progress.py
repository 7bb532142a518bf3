"""Progress of long steps: an upload is sent as exactly its bytes (not chunked) while its
progress is reported up to the total, a download likewise; the bars go to stderr only on a
terminal and never with -q."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import time
from collections.abc import Iterator

import pytest

from cryptoscore_cli.api import Client, ProgressBody
from cryptoscore_cli.commands.common import progress_bar, transfer_bar

BODY = bytes(range(256)) * 4099  # ~1 MB, not a multiple of any block size


class _Echo(http.server.BaseHTTPRequestHandler):
    """POST: what arrived (length, hash, how it was framed); GET: ``BODY``."""

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        data = self.rfile.read(length)
        self._reply(
            json.dumps(
                {
                    "length": length,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "chunked": self.headers.get("Transfer-Encoding"),
                    "signature": self.headers.get("X-CryptoScore-Signature"),
                }
            ).encode()
        )

    def do_GET(self) -> None:
        self._reply(BODY)

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_upload_sends_exactly_its_bytes_and_reports_the_total(echo):
    reports: list[tuple[int, int]] = []
    got = Client(echo).post_bytes(
        "/x", BODY, {"X-CryptoScore-Signature": "ab"}, lambda d, t: reports.append((d, t))
    )
    assert got == {
        "length": len(BODY),
        "sha256": hashlib.sha256(BODY).hexdigest(),
        "chunked": None,
        "signature": "ab",
    }
    assert len(reports) > 1 and reports[-1] == (len(BODY), len(BODY))
    assert all(t == len(BODY) for _, t in reports)
    assert [d for d, _ in reports] == sorted({d for d, _ in reports})  # growing, each once


def test_a_multipart_upload_is_the_same_bytes_with_or_without_progress(echo):
    client = Client(echo)
    sizes: list[int] = []
    with_progress = client.post_multipart(
        "/x", {"a": 1}, {"f": BODY}, upload=lambda d, t: sizes.append(t)
    )
    assert with_progress["length"] == sizes[-1] and with_progress["chunked"] is None
    # the same parts without progress: the same length (the boundary alone differs)
    assert client.post_multipart("/x", {"a": 1}, {"f": BODY})["length"] == sizes[-1]


def test_a_download_reports_its_progress(echo):
    reports: list[tuple[int, int]] = []
    assert Client(echo).get_bytes("/x", lambda d, t: reports.append((d, t))) == BODY
    assert reports[-1] == (len(BODY), len(BODY))


def test_the_body_reads_in_blocks():
    seen: list[int] = []
    body = ProgressBody(b"abcdefg", lambda d, _t: seen.append(d))
    assert len(body) == 7
    assert [body.read(3), body.read(3), body.read(3), body.read(3)] == [b"abc", b"def", b"g", b""]
    assert seen == [3, 6, 7]
    assert ProgressBody(b"xyz", lambda d, t: None).read() == b"xyz"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("terminal", "quiet", "shown"),
    [(True, False, True), (True, True, False), (False, False, False)],
)
def test_bars_show_on_a_terminal_only_and_never_with_quiet(monkeypatch, terminal, quiet, shown):
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    with progress_bar(3, "work", quiet) as advance, transfer_bar("upload", quiet) as sent:
        time.sleep(0.6)  # past the bars' delay
        advance(2)
        sent(10, 20)
        advance(3)
        sent(20, 20)
    assert bool(stderr.getvalue()) is shown
    if shown:
        assert "work" in stderr.getvalue() and "upload" in stderr.getvalue()
