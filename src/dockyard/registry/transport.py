"""HTTP for the registry client: one request at a time per call, redirects followed
(blob downloads are usually redirected to object storage), bodies streamed.

A seam: tests and other transports implement `Transport.request`; the default one
uses http.client (the standard library; nothing like requests is needed for
GET/HEAD/POST/PUT/PATCH with streaming bodies).
"""

from __future__ import annotations

import http.client
import ssl
import urllib.parse

from ..errors import Unavailable

MAX_REDIRECTS = 10
TIMEOUT = 60.0
USER_AGENT = "dockyard/0.1"


class Response:
    """A response whose body is read on demand; close() releases the connection."""

    def __init__(self, status: int, headers: dict[str, str], raw, conn, url: str) -> None:
        self.status = status
        self.headers = headers  # lower-case names
        self.raw = raw
        self.conn = conn
        self.url = url

    def read(self, n: int = -1) -> bytes:
        return self.raw.read(n) if n >= 0 else self.raw.read()

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self.conn.close()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HTTPTransport:
    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._ssl = None

    def _connection(self, scheme: str, netloc: str):
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            return http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self._ssl)
        return http.client.HTTPConnection(netloc, timeout=self.timeout)

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                body=None, length: int | None = None) -> Response:
        """Send one request, following redirects for GET/HEAD; Authorization is only
        sent to the host it was meant for."""
        headers = dict(headers or {})
        headers.setdefault("User-Agent", USER_AGENT)
        origin = urllib.parse.urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https"):
                raise Unavailable(f"registry sent an unsupported URL: {url}")
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            send = dict(headers)
            if parts.netloc != origin:
                send.pop("Authorization", None)
            if length is not None:
                send["Content-Length"] = str(length)
            elif body is None and method in ("PUT", "POST", "PATCH"):
                send["Content-Length"] = "0"
            conn = self._connection(parts.scheme, parts.netloc)
            try:
                conn.request(method, path, body=body, headers=send)
                raw = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
                raise Unavailable(f"cannot reach {parts.scheme}://{parts.netloc}: {reason}") from None
            hdrs = {k.lower(): v for k, v in raw.getheaders()}
            if raw.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD") and "location" in hdrs:
                raw.read()
                conn.close()
                url = urllib.parse.urljoin(url, hdrs["location"])
                continue
            return Response(raw.status, hdrs, raw, conn, url)
        raise Unavailable(f"too many redirects from {url}")
