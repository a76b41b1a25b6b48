"""The attach socket: how clients reach a running container's stdio through its monitor.

The monitor owns the container's stdio (a pty master with `-t`, else pipes) and
listens on a Unix socket, `<runroot>/containers/<id>/attach` (mode 0600 in a 0700
directory). Any number of clients may attach; each gets the output it asked for,
every byte still goes to the json-file log, and stdin from any of them goes to the
container. `run -t` and `start -a` on a terminal container get a pre-connected
client (one end of a socketpair handed to the monitor before the command starts),
so not a byte of the first output is missed.

Protocol (version 1), both directions over one stream socket:

1. The client sends one hello line, ASCII::

       ATTACH/1 stdin=1 stdout=1 stderr=0\\n

   naming the streams it wants (missing ones are 0).
2. The monitor answers with a frame `k` (accepted; payload `tty=0` or `tty=1`) or
   `e` (refused; payload the reason, e.g. the container is restarting) and closes.
3. Then frames, each `<kind: 1 byte><length: 4 bytes big-endian><payload>`:

   client -> monitor
     `0`  stdin data
     `c`  stdin closed (EOF): the container's stdin is closed when it was
          created with StdinOnce and has no terminal; otherwise ignored
     `r`  resize: payload b"<rows> <cols>" (TIOCSWINSZ on the pty master)
     `s`  signal: payload b"<signal number>", sent to the container's process
          (`--sig-proxy`)
     `d`  the client detached with its detach keys (recorded as an event)

   monitor -> client
     `1`  stdout data (with a terminal, everything the pty prints)
     `2`  stderr data
     `x`  the process exited: payload b"<exit code>"; the monitor then closes
          the connection (a restart policy starts a new process; clients attach
          again)

Paths in the runroot can be longer than a socket address allows (108 bytes), so
both ends open the directory and use `/proc/self/fd/<n>/attach`, as conmon does.

Everything here uses the `_socket` C module only: `socket` imports `enum`, which
the monitor and the `run` path avoid.
"""

from __future__ import annotations

import os

HELLO = b"ATTACH/1"
STREAMS = ("stdin", "stdout", "stderr")
SOCKET_NAME = "attach"
MAX_PENDING = 8 << 20  # bytes queued for one slow client before it is dropped

STDIN, STDIN_CLOSE, RESIZE, SIGNAL, DETACHED = b"0", b"c", b"r", b"s", b"d"
STDOUT, STDERR, EXIT, ACCEPTED, REFUSED = b"1", b"2", b"x", b"k", b"e"
STREAM_KIND = {"stdout": STDOUT, "stderr": STDERR}


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + len(payload).to_bytes(4, "big") + payload


def hello(stdin: bool, stdout: bool, stderr: bool) -> bytes:
    return HELLO + f" stdin={int(stdin)} stdout={int(stdout)} stderr={int(stderr)}\n".encode()


def parse_hello(line: bytes) -> set[str] | None:
    """The streams a hello line asks for; None when it is not a hello."""
    words = line.strip().split()
    if not words or words[0] != HELLO:
        return None
    wants = set()
    for w in words[1:]:
        name, _, value = w.decode(errors="replace").partition("=")
        if name in STREAMS and value == "1":
            wants.add(name)
    return wants


class Refused(Exception):
    """The monitor refused the attach (its reason is the message) or hung up."""


class FrameReader:
    """Incremental parser: feed bytes, take whole frames."""

    __slots__ = ("buf",)

    def __init__(self, buf: bytes = b"") -> None:
        self.buf = buf

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self.buf += data
        out = []
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 5:
            n = int.from_bytes(buf[pos + 1:pos + 5], "big")
            if len(buf) - pos - 5 < n:
                break
            out.append((buf[pos:pos + 1], buf[pos + 5:pos + 5 + n]))
            pos += 5 + n
        self.buf = buf[pos:]
        return out


def socket_dir(runroot: str, cid: str) -> str:
    return f"{runroot}/containers/{cid}"


def listen(directory: str):
    """The monitor's listening socket in `directory` (made 0700), non-blocking."""
    import _socket

    os.makedirs(directory, 0o700, exist_ok=True)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        path = f"/proc/self/fd/{dfd}/{SOCKET_NAME}"
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
        old = os.umask(0o177)
        try:
            s.bind(path)
        finally:
            os.umask(old)
        s.listen(16)
    finally:
        os.close(dfd)
    return s


def remove(directory: str) -> None:
    """The socket and its directory, once the monitor is done."""
    for path in (f"{directory}/{SOCKET_NAME}", directory):
        try:
            (os.rmdir if path == directory else os.unlink)(path)
        except OSError:
            pass


class Client:
    """The monitor's view of one attached client."""

    __slots__ = ("sock", "fd", "wants", "reader", "pending", "greeted", "primary")

    def __init__(self, sock, wants: set[str] | None = None, primary: bool = False,
                 reader_buf: bytes = b"", pending: bytes = b"") -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.wants = wants
        self.greeted = wants is not None
        self.reader = FrameReader(reader_buf)
        self.pending = pending
        self.primary = primary

    def describe(self) -> tuple:
        """For a monitor that re-executes itself (marshal-able)."""
        return (self.fd, sorted(self.wants) if self.wants is not None else None, self.primary,
                self.reader.buf, self.pending)

    @classmethod
    def restore(cls, desc: tuple) -> "Client":
        import _socket

        fd, wants, primary, buf, pending = desc
        sock = _socket.socket(fileno=fd)
        sock.setblocking(False)
        return cls(sock, set(wants) if wants is not None else None, primary, buf, pending)

    def take_hello(self, data: bytes) -> bytes | None:
        """Read the hello line; returns what followed it (frames), or None while incomplete."""
        self.reader.buf += data
        nl = self.reader.buf.find(b"\n")
        if nl < 0:
            if len(self.reader.buf) > 4096:
                raise ValueError("no hello line")
            return None
        line, rest = self.reader.buf[:nl], self.reader.buf[nl + 1:]
        self.reader.buf = b""
        wants = parse_hello(line)
        if wants is None:
            raise ValueError("not an attach hello")
        self.wants = wants
        self.greeted = True
        return rest

    def send(self, data: bytes) -> bool:
        """Queue and write what the socket takes now; False when the client is gone
        or too slow (more than MAX_PENDING queued)."""
        if self.pending:
            self.pending += data
        else:
            self.pending = data
        return self.flush()

    def flush(self) -> bool:
        while self.pending:
            try:
                n = self.sock.send(self.pending)
            except BlockingIOError:
                return len(self.pending) <= MAX_PENDING
            except OSError:
                return False
            self.pending = self.pending[n:]
        return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Connection:
    """A client's end of the attach socket (what `attach`, `run -t` and `start -a`
    hold). Blocking; `fileno()` for poll, `read()` for the frames that arrived."""

    def __init__(self, sock, tty: bool = False) -> None:
        self.sock = sock
        self.tty = tty
        self.reader = FrameReader()
        self.closed = False
        self.backlog: list[tuple[bytes, bytes]] = []

    @classmethod
    def open(cls, directory: str, stdin: bool, stdout: bool, stderr: bool) -> "Connection":
        """Connect and say hello; raises Refused when the monitor refuses (its reason
        as the message), OSError when it is not there."""
        import _socket

        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            try:
                s.connect(f"/proc/self/fd/{dfd}/{SOCKET_NAME}")
            except OSError:
                s.close()
                raise
        finally:
            os.close(dfd)
        conn = cls(s)
        conn._send(hello(stdin, stdout, stderr))
        while True:
            frames = conn.read()
            if frames is None:
                conn.close()
                raise Refused("the container's monitor closed the connection")
            for i, (kind, payload) in enumerate(frames):
                if kind == REFUSED:
                    conn.close()
                    raise Refused(payload.decode(errors="replace"))
                if kind == ACCEPTED:
                    conn.tty = b"tty=1" in payload
                    conn.backlog = frames[i + 1:]
                    return conn

    def fileno(self) -> int:
        return self.sock.fileno()

    def _send(self, data: bytes) -> None:
        if not self.closed:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def send_stdin(self, data: bytes) -> None:
        self._send(frame(STDIN, data))

    def close_stdin(self) -> None:
        self._send(frame(STDIN_CLOSE))

    def resize(self, rows: int, cols: int) -> None:
        self._send(frame(RESIZE, f"{rows} {cols}".encode()))

    def signal(self, signum: int) -> None:
        self._send(frame(SIGNAL, str(int(signum)).encode()))

    def detached(self) -> None:
        self._send(frame(DETACHED))

    def read(self) -> list[tuple[bytes, bytes]] | None:
        """The frames in what one recv brings (maybe none yet); None at EOF."""
        if self.backlog:
            frames, self.backlog = self.backlog, []
            return frames
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            data = b""
        if not data:
            return None
        return self.reader.feed(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
