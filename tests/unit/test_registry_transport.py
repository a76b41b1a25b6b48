"""The registry's HTTP/1.1 transport against a socket server that answers with
canned bytes: body framings (length, chunks, connection end), interim responses,
header folding, and answers that are not HTTP."""

from __future__ import annotations

import socket
import threading

import pytest

from dockyard.errors import Unavailable
from dockyard.registry.transport import HTTPTransport, split_url


class CannedServer:
    """Accepts connections on 127.0.0.1 and answers each request with the next
    canned reply; keeps what it received."""

    def __init__(self, *replies: bytes) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for reply in self.replies:
            conn, _ = self.sock.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest)
                conn.sendall(reply)

    def url(self, path: str = "/v2/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def serve():
    servers: list[CannedServer] = []

    def make(*replies: bytes) -> CannedServer:
        s = CannedServer(*replies)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def test_content_length_body_and_request_headers(serve):
    s = serve(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello-and-more")
    with HTTPTransport().request("GET", s.url("/v2/x?y=1"), {"Accept": "a/b"}) as r:
        assert r.status == 200
        assert r.headers["content-type"] == "application/json"
        assert r.read(100) == b"hello"
        assert r.read(100) == b""
    req = s.requests[0].decode()
    assert req.startswith("GET /v2/x?y=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{s.port}\r\n" in req and "Accept: a/b\r\n" in req and "User-Agent: dockyard" in req


def test_meanwhile_runs_once_the_request_is_sent_and_its_error_is_its_own(serve):
    s = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    seen = []

    def meanwhile() -> None:
        for _ in range(500):  # the request has reached the server before this runs
            if s.requests:
                break
            threading.Event().wait(0.01)
        seen.append(len(s.requests))

    with HTTPTransport().request("GET", s.url(), meanwhile=meanwhile) as r:
        assert r.read() == b"ok"
    assert seen == [1]

    def fails() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):  # not "cannot reach": the server is fine
        HTTPTransport().request("GET", s.url(), meanwhile=fails)


def test_chunked_body_is_one_stream(serve):
    body = b"4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nTrailer: x\r\n\r\n"
    s = serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    with HTTPTransport().request("GET", s.url()) as r:
        assert r.read(5) == b"abcde"
        assert r.read() == b"fg"
        assert r.read(10) == b""


def test_body_until_the_connection_ends(serve):
    s = serve(b"HTTP/1.0 200 OK\r\n\r\nall of it")
    with HTTPTransport().request("GET", s.url()) as r:
        assert r.read() == b"all of it"


def test_interim_response_skipped_and_folded_header_joined(serve):
    s = serve(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\n"
              b"WWW-Authenticate: Bearer realm=\"r\",\r\n service=\"s\"\r\nContent-Length: 0\r\n\r\n")
    with HTTPTransport().request("GET", s.url()) as r:
        assert r.status == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="r", service="s"'
        assert r.read() == b""


def test_head_and_no_content_have_no_body(serve):
    s = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n")
    t = HTTPTransport()
    with t.request("HEAD", s.url()) as r:
        assert r.status == 200 and r.headers["content-length"] == "1234" and r.read() == b""
    with t.request("PUT", s.url(), body=b"x" * 100000) as r:
        assert r.status == 204 and r.read() == b""
    assert s.requests[1].endswith(b"\r\n\r\n" + b"x" * 100000)
    assert b"Content-Length: 100000\r\n" in s.requests[1]


def test_streamed_file_body(serve, tmp_path):
    import io

    s = serve(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    data = bytes(range(256)) * 5000
    with HTTPTransport().request("PUT", s.url(), body=io.BytesIO(data), length=len(data)) as r:
        assert r.status == 201
    assert s.requests[0].endswith(b"\r\n\r\n" + data)


@pytest.mark.parametrize("reply", [b"SSH-2.0-OpenSSH_9.6\r\n", b"", b"HTTP/1.1 abc\r\n\r\n",
                                   b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                                   b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n"],
                         ids=["ssh", "nothing", "bad-status", "bad-header", "bad-length"])
def test_answers_that_are_not_http_are_unavailable(serve, reply):
    s = serve(reply)
    with pytest.raises(Unavailable, match="cannot reach http://127.0.0.1"):
        HTTPTransport().request("GET", s.url())


def test_nothing_listening_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Unavailable, match=f"cannot reach http://127.0.0.1:{port}"):
        HTTPTransport(timeout=5).request("GET", f"http://127.0.0.1:{port}/v2/")


def test_relative_redirect_keeps_credentials_on_the_same_host(serve):
    s = serve(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /blobs/real\r\nContent-Length: 3\r\n\r\nabc",
              b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    with HTTPTransport().request("GET", s.url("/v2/r/blobs/x"), {"Authorization": "Bearer t"}) as r:
        assert r.read() == b"ok"
        assert r.url == s.url("/blobs/real")
    assert s.requests[1].startswith(b"GET /blobs/real HTTP/1.1") and b"Authorization: Bearer t" in s.requests[1]


def test_split_url():
    assert split_url("https://registry-1.docker.io/v2/") == ("https", "registry-1.docker.io", 443,
                                                             "registry-1.docker.io", "/v2/")
    assert split_url("http://[::1]:5000/v2/x?n=1#frag") == ("http", "[::1]:5000", 5000, "::1", "/v2/x?n=1")
    assert split_url("HTTP://example.com") == ("http", "example.com", 80, "example.com", "/")
    assert split_url("http://h:8080?q") == ("http", "h:8080", 8080, "h", "/?q")
    for bad in ("ftp://h/x", "h/x", "http://h:0/", "http://h:99999/", "http://h:x/", "http:///x"):
        with pytest.raises(Unavailable, match="unsupported URL"):
            split_url(bad)


def test_readinto_fills_the_buffer_across_chunks_and_stops_at_the_length(serve):
    data = bytes(range(256)) * 4096
    s = serve(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data + b"extra",
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    t = HTTPTransport()
    with t.request("GET", s.url()) as r:
        buf = bytearray(300000)
        got = bytearray()
        while n := r.readinto(buf):
            got += buf[:n]
        assert got == data
    with t.request("GET", s.url()) as r:
        buf = bytearray(4)
        assert r.readinto(buf) == 4 and buf == b"abcd"
        assert r.readinto(buf) == 1 and buf[:1] == b"e"
        assert r.readinto(buf) == 0


def test_https_with_a_trusted_certificate_and_refusal_of_an_untrusted_one(tmp_path):
    """TLS goes through ssl over the same connection code (the socket is handed
    to ssl); a certificate the client does not trust is an Unavailable error."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    got: list[bytes] = []

    def serve_tls() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += tls.recv(65536)
                    got.append(data)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsecured")
            except (ssl.SSLError, OSError):
                conn.close()  # the untrusting client hangs up during the handshake

    t = threading.Thread(target=serve_tls, daemon=True)
    t.start()
    try:
        untrusting = HTTPTransport(timeout=5)
        with pytest.raises(Unavailable, match="certificate"):
            untrusting.request("GET", f"https://localhost:{port}/v2/")
        trusting = HTTPTransport(timeout=5)
        trusting._ssl = ssl.create_default_context(cafile=str(cert))
        with trusting.request("GET", f"https://localhost:{port}/v2/") as r:
            assert (r.status, r.read()) == (200, b"secured")
        assert got and got[-1].startswith(b"GET /v2/ HTTP/1.1\r\n")
    finally:
        listener.close()
        t.join(timeout=5)
