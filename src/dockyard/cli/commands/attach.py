"""`attach`, and the terminal session that `run -t` and `start -a` share with it.

`stream` copies between this process's stdio and a container's monitor (an attach
connection, monitor/attach.py): our stdin to the container (through the detach-key
filter when the container has a terminal), its output to our stdout and stderr,
SIGWINCH as a resize, other signals as the container's (`--sig-proxy`, without a
terminal). Our terminal is in raw mode meanwhile (the container's pty does the line
editing and turns Ctrl-C into SIGINT) and is restored on every way out.
"""

from __future__ import annotations

import os
import sys

from ..flags import Command, Flag, parse
from .run import proxied_signals

ATTACH = Command("attach", "[OPTIONS] CONTAINER",
                 "Attach local standard input, output, and error streams to a running container", [
                     Flag("--detach-keys", "str", "Override the key sequence for detaching a container"),
                     Flag("--no-stdin", "bool", "Do not attach STDIN"),
                     Flag("--sig-proxy", "bool", "Proxy all received signals to the process", default=True),
                 ], min_args=1, max_args=1, aliases=("container attach",))

NOT_A_TTY = "the input device is not a TTY"

# with a terminal these end the session (the container keeps running), as they end docker's CLI
_ENDING = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")


def detach_keys(spec: str | None) -> bytes:
    """The detach sequence from `--detach-keys` (Docker's default when unset)."""
    from ...errors import InvalidArgument
    from ..terminal import DEFAULT_DETACH_KEYS, parse_detach_keys

    text = spec or DEFAULT_DETACH_KEYS
    try:
        return parse_detach_keys(text)
    except ValueError:
        raise InvalidArgument(f"Invalid detach keys ({text}) provided") from None


class Ended:
    """How a session ended: the container exited (`code`), the user detached, the
    monitor went away, or a signal ended it (`signum`)."""

    __slots__ = ("code", "detached", "signum")

    def __init__(self, code: int | None = None, detached: bool = False, signum: int = 0) -> None:
        self.code = code
        self.detached = detached
        self.signum = signum


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            import select

            select.select([], [fd], [])


def stream(conn, *, stdin: bool, tty: bool, keys: bytes | None, sig_proxy: bool,
           out: int = 1, err: int = 2, inp: int = 0) -> Ended:
    import _signal
    import select

    from ..terminal import DetachKeys, raw, size

    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    caught = []
    if tty:
        caught = [_signal.SIGWINCH] + [getattr(_signal, n) for n in _ENDING]
    elif sig_proxy:
        caught = proxied_signals()
    old_handlers = {}
    for s in caught:
        try:
            old_handlers[s] = _signal.signal(s, _ignore)
        except (OSError, ValueError, RuntimeError):
            pass
    old_wakeup = _signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    detach = DetachKeys(keys) if tty and stdin and keys else None
    stdin_open = stdin
    try:
        with raw(inp if stdin and tty else -1):
            if tty:
                dims = size(out) or size(inp)
                if dims:
                    conn.resize(*dims)
            while True:
                frames = conn.read() if conn.backlog else []
                poller = select.poll()
                poller.register(conn.fileno(), select.POLLIN)
                poller.register(wake_r, select.POLLIN)
                if stdin_open:
                    poller.register(inp, select.POLLIN)
                events = [] if frames else poller.poll()
                for fd, ev in events:
                    if fd == wake_r:
                        for signum in os.read(wake_r, 256):
                            if tty and signum == _signal.SIGWINCH:
                                dims = size(out) or size(inp)
                                if dims:
                                    conn.resize(*dims)
                            elif tty:
                                return Ended(signum=signum)
                            else:
                                conn.signal(signum)
                    elif fd == inp:
                        try:
                            data = os.read(inp, 1 << 16)
                        except BlockingIOError:
                            continue
                        except OSError:
                            data = b""
                        if not data:
                            stdin_open = False
                            conn.close_stdin()
                            continue
                        if detach is not None:
                            data, gone = detach.feed(data)
                            if data:
                                conn.send_stdin(data)
                            if gone:
                                conn.detached()
                                return Ended(detached=True)
                        else:
                            conn.send_stdin(data)
                    elif fd == conn.fileno():
                        got = conn.read()
                        if got is None:
                            return Ended()
                        frames += got
                for kind, payload in frames:
                    if kind == b"1":
                        _write(out, payload)
                    elif kind == b"2":
                        _write(err, payload)
                    elif kind == b"x":
                        try:
                            return Ended(code=int(payload))
                        except ValueError:
                            return Ended()
    finally:
        _signal.set_wakeup_fd(old_wakeup)
        for s, h in old_handlers.items():
            try:
                _signal.signal(s, h)
            except (OSError, ValueError, RuntimeError):
                pass
        os.close(wake_r)
        os.close(wake_w)
        conn.close()


def _ignore(signum, frame) -> None:
    """The signal is read from the wakeup pipe by the session loop."""


def attach(ctx, argv: list[str]) -> int:
    o, args = parse(ATTACH, argv)
    if o["help"]:
        sys.stdout.write(ATTACH.help_text())
        return 0
    from ...errors import DockyardError

    engine = ctx.engine()
    keys = detach_keys(o["detach_keys"])
    try:
        c = engine.container(args[0])
        cfg = c.config.get("Config") or {}
        tty = bool(cfg.get("Tty"))
        want_stdin = not o["no_stdin"] and bool(cfg.get("OpenStdin"))
        if tty and want_stdin and not os.isatty(0):
            sys.stderr.write(NOT_A_TTY + "\n")
            return 1
        c, conn = engine.attach(args[0], stdin=want_stdin)
    except DockyardError as e:
        sys.stderr.write(e.message + "\n")  # docker prints these bare
        return 1
    sys.stdout.flush()
    ended = stream(conn, stdin=want_stdin, tty=tty, keys=keys, sig_proxy=o["sig_proxy"] and not tty)
    if ended.detached:
        sys.stderr.write("read escape sequence\n")  # what docker's attach says, exiting 1
        return 1
    if ended.signum:
        return 128 + ended.signum
    if ended.code is not None:
        return ended.code
    try:
        return engine.wait(c.id)
    except DockyardError:
        return 0
