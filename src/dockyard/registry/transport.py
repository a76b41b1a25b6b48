"""HTTP for the registry client: one request at a time per call, redirects followed
(blob downloads are usually redirected to object storage), bodies streamed.

A seam: tests and other transports implement `Transport.request`; the default one
speaks HTTP/1.1 over a socket itself. The registry API needs little of HTTP (a
request, a status line, headers, a body framed by Content-Length, chunks or the
end of the connection), and http.client would cost every `pull` the import of the
email package, ~25 ms before the first byte is fetched. TLS (ssl) is loaded only
for https. Plain connections use the `_socket` C module directly: `socket.py`
brings enum and selectors, ~10 ms of imports before the first byte.
"""

from __future__ import annotations

import _socket
import io

from ..errors import Unavailable

MAX_REDIRECTS = 10
TIMEOUT = 60.0
USER_AGENT = "dockyard/0.1"
MAX_HEADER_LINE = 65536
MAX_HEADERS = 100
_NO_BODY = (204, 304)


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.x as we read it."""


def split_url(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, netloc, port, host, path with query) of an absolute http(s) URL."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise Unavailable(f"registry sent an unsupported URL: {url}")
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, path = rest[:cut], rest[cut:].partition("#")[0]
    if not path.startswith("/"):
        path = "/" + path
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):  # an IPv6 literal: [::1]:5000
        host, _, tail = hostport[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
    try:
        port = int(port_text) if port_text else (443 if scheme == "https" else 80)
        if not 0 < port < 65536 or not host:
            raise ValueError
    except ValueError:
        raise Unavailable(f"registry sent an unsupported URL: {url}") from None
    return scheme, netloc, port, host, path


class _Chunked:
    """A body in chunked transfer coding, read as one stream."""

    def __init__(self, fp) -> None:
        self.fp = fp
        self.left = 0     # bytes left in the current chunk
        self.done = False

    def _next_chunk(self) -> None:
        if self.left == 0 and not self.done:
            line = self.fp.readline(MAX_HEADER_LINE)
            try:
                self.left = int(line.split(b";", 1)[0].strip(), 16)
                if self.left < 0:
                    raise ValueError
            except ValueError:
                raise ProtocolError(f"bad chunk size line {line[:40]!r}") from None
            if self.left == 0:
                while self.fp.readline(MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.done = True

    def read(self, n: int = -1) -> bytes:
        parts = []
        want = n if n >= 0 else 1 << 62
        while want > 0:
            self._next_chunk()
            if self.done:
                break
            b = self.fp.read(min(want, self.left))
            if not b:
                break  # the connection ended inside a chunk: the caller sees a short body
            parts.append(b)
            want -= len(b)
            self.left -= len(b)
            if self.left == 0:
                self.fp.readline(MAX_HEADER_LINE)  # the CRLF after the chunk's data
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _Limited:
    """A body of Content-Length bytes (or, with None, up to the connection's end)."""

    def __init__(self, fp, length: int | None) -> None:
        self.fp = fp
        self.left = length

    def read(self, n: int = -1) -> bytes:
        if self.left is None:
            return self.fp.read(n) if n >= 0 else self.fp.read()
        if n < 0 or n > self.left:
            n = self.left
        if n == 0:
            return b""
        b = self.fp.read(n)
        self.left -= len(b)
        return b

    def readinto(self, b) -> int:
        view = memoryview(b)
        if self.left is not None:
            view = view[: self.left]
        n = self.fp.readinto(view) if len(view) else 0
        if self.left is not None:
            self.left -= n
        return n


def _open(host: bytes, port: int, timeout: float):
    """A connected TCP socket (socket.create_connection's loop over addresses)."""
    err: OSError | None = None
    for family, kind, proto, _, address in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as e:
            sock.close()
            err = e
    raise err or OSError(f"no address for {host.decode(errors='replace')}")


class _SocketIO(io.RawIOBase):
    """A plain socket as a raw stream, for io.BufferedReader (what socket.makefile
    builds, without socket.py)."""

    def __init__(self, sock) -> None:
        super().__init__()
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        return self.sock.recv_into(b)

    def fileno(self) -> int:
        return self.sock.fileno()


def _reader(sock):
    """A buffered reader of what the server sends (TLS sockets make their own)."""
    makefile = getattr(sock, "makefile", None)
    return makefile("rb") if makefile is not None else io.BufferedReader(_SocketIO(sock))


class Response:
    """A response whose body is read on demand; close() releases the connection.
    read(n) returns n bytes unless the body ends first."""

    def __init__(self, status: int, headers: dict[str, str], body, sock, url: str) -> None:
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body
        self.sock = sock
        self.url = url

    def read(self, n: int = -1) -> bytes:
        return self.body.read(n)

    def readinto(self, b) -> int:
        """Fills b unless the body ends first: a blob is received straight into
        the caller's buffer."""
        return self.body.readinto(b)

    def close(self) -> None:
        fp = getattr(self.body, "fp", None)
        try:
            if fp is not None:
                fp.close()
        finally:
            self.sock.close()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_head(fp) -> tuple[int, dict[str, str]]:
    """Status and headers, skipping interim 1xx responses."""
    while True:
        line = fp.readline(MAX_HEADER_LINE + 1)
        if not line:
            raise ProtocolError("the server closed the connection without answering")
        if len(line) > MAX_HEADER_LINE:
            raise ProtocolError("status line too long")
        version, _, rest = line.decode("iso-8859-1").strip().partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit() or rest[3:4] not in ("", " "):
            raise ProtocolError(f"not an HTTP/1.x status line: {line[:60]!r}")
        headers: dict[str, str] = {}
        last = None
        for _ in range(MAX_HEADERS + 1):
            h = fp.readline(MAX_HEADER_LINE + 1)
            if len(h) > MAX_HEADER_LINE:
                raise ProtocolError("header line too long")
            if h in (b"\r\n", b"\n", b""):
                break
            text = h.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last is not None:  # an obsolete folded line
                headers[last] += " " + text.strip()
                continue
            name, sep, value = text.partition(":")
            if not sep:
                raise ProtocolError(f"malformed header line {text[:60]!r}")
            last = name.strip().lower()
            headers[last] = value.strip()
        else:
            raise ProtocolError(f"more than {MAX_HEADERS} headers")
        status = int(code)
        if 100 <= status < 200 and status != 101:
            continue  # 100 Continue and friends: the real answer follows
        return status, headers


class HTTPTransport:
    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._ssl = None

    def _connect(self, scheme: str, host: str, port: int):
        # an ASCII name goes to getaddrinfo as bytes: a str is IDNA-encoded there,
        # which loads the idna codec (and unicodedata) for nothing
        try:
            addr = host.encode("ascii")
        except UnicodeEncodeError:
            addr = host.encode("idna")
        sock = _open(addr, port, self.timeout)
        if scheme == "https":
            import socket  # ssl wraps socket.socket objects (and imports socket itself)

            sock = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
            try:
                sock.settimeout(self.timeout)
                if self._ssl is None:
                    import ssl

                    self._ssl = ssl.create_default_context()
                sock = self._ssl.wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
        else:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock

    def _send(self, sock, method: str, path: str, headers: dict[str, str], body) -> None:
        head = [f"{method} {path} HTTP/1.1"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("iso-8859-1")
        if body is None:
            sock.sendall(data)
        elif isinstance(body, (bytes, bytearray, memoryview)):
            if len(body) < 65536:
                sock.sendall(data + bytes(body))  # one segment for a manifest
            else:
                sock.sendall(data)
                sock.sendall(body)
        else:  # a file-like body, streamed
            sock.sendall(data)
            while chunk := body.read(1 << 20):
                sock.sendall(chunk)

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                body=None, length: int | None = None, meanwhile=None) -> Response:
        """Send one request, following redirects for GET/HEAD; Authorization is only
        sent to the host it was meant for. `meanwhile`, if given, runs once the
        request is sent, before the answer is read: the caller's work overlaps the
        server's (a pull's imports, ~2 ms of waiting for each of its first requests)."""
        headers = dict(headers or {})
        headers.setdefault("User-Agent", USER_AGENT)
        origin = split_url(url)[1]
        for _ in range(MAX_REDIRECTS + 1):
            scheme, netloc, port, host, path = split_url(url)
            send = {"Host": netloc.rpartition("@")[2], "Accept-Encoding": "identity", "Connection": "close"}
            send.update(headers)
            if netloc != origin:
                send.pop("Authorization", None)
            if length is not None:
                send["Content-Length"] = str(length)
            elif body is not None and isinstance(body, (bytes, bytearray, memoryview)):
                send["Content-Length"] = str(len(body))
            elif body is None and method in ("PUT", "POST", "PATCH"):
                send["Content-Length"] = "0"
            sock = None
            try:
                sock = self._connect(scheme, host, port)
                self._send(sock, method, path, send, body)
            except (OSError, ValueError) as e:
                if sock is not None:
                    sock.close()
                raise _unreachable(scheme, netloc, e) from None
            if meanwhile is not None:
                task, meanwhile = meanwhile, None
                try:
                    task()
                except BaseException:
                    sock.close()
                    raise
            try:
                fp = _reader(sock)
                status, hdrs = _read_head(fp)
            except (OSError, ValueError) as e:
                sock.close()
                raise _unreachable(scheme, netloc, e) from None
            if method == "HEAD" or status in _NO_BODY:
                reader = _Limited(fp, 0)
            elif "chunked" in hdrs.get("transfer-encoding", "").lower():
                reader = _Chunked(fp)
            else:
                try:
                    n = int(hdrs["content-length"]) if "content-length" in hdrs else None
                    if n is not None and n < 0:
                        raise ValueError
                except ValueError:
                    fp.close()
                    sock.close()
                    raise Unavailable(f"cannot reach {scheme}://{netloc}: bad Content-Length") from None
                reader = _Limited(fp, n)
            r = Response(status, hdrs, reader, sock, url)
            if status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD") and "location" in hdrs:
                r.close()
                url = _join(url, hdrs["location"])
                continue
            return r
        raise Unavailable(f"too many redirects from {url}")


def _unreachable(scheme: str, netloc: str, e: Exception) -> Unavailable:
    reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return Unavailable(f"cannot reach {scheme}://{netloc}: {reason}")


def _join(base: str, location: str) -> str:
    if "://" in location.split("?", 1)[0]:
        return location
    import urllib.parse

    return urllib.parse.urljoin(base, location)
