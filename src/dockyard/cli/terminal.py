"""The user's terminal, for `run -t`, `attach` and `exec -t`.

`raw(fd)` puts the terminal in raw mode (the container's pty does the line
editing and turns Ctrl-C into SIGINT) and restores it on every way out, errors and
signals included; `size(fd)` is the window size to give the container's pty; and
`DetachKeys` finds Docker's detach sequence (default Ctrl-P Ctrl-Q) in what the
user types.
"""

from __future__ import annotations

import os

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


class raw:
    """`with raw(0):` - raw mode for a terminal, restored on exit (a no-op when
    `fd` is not a terminal)."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self.saved = None

    def __enter__(self) -> "raw":
        import termios
        import tty

        if os.isatty(self.fd):
            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def restore(self) -> None:
        if self.saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            except OSError:
                pass
            self.saved = None

    def __exit__(self, *exc) -> None:
        self.restore()


def size(fd: int = 1) -> tuple[int, int] | None:
    """(rows, columns) of a terminal, or None when `fd` is not one."""
    try:
        cols, rows = os.get_terminal_size(fd)
    except OSError:
        return None
    return rows, cols


def parse_detach_keys(spec: str) -> bytes:
    """Docker's `--detach-keys` syntax: comma-separated keys, each a single
    character or `ctrl-<c>` (a-z, @, [, \\, ], ^, _). Raises ValueError."""
    out = bytearray()
    for key in spec.split(","):
        if key.startswith("ctrl-") and len(key) == 6:
            c = key[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise ValueError(f"Unknown character: '{key}'")
        elif len(key) == 1:
            out.append(ord(key))
        else:
            raise ValueError(f"Unknown character: '{key}'")
    if not out:
        raise ValueError("empty detach keys")
    return bytes(out)


class DetachKeys:
    """Feeds typed bytes through, holding back a possible start of the detach
    sequence; `feed` returns (bytes to forward, whether the user detached)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            self.held += bytes((b,))
            if self.keys.startswith(self.held):
                if len(self.held) == len(self.keys):
                    self.held = b""
                    return bytes(out), True
                continue
            # not the sequence: let all but the last byte through, which may start it anew
            out += self.held[:-1]
            self.held = self.held[-1:]
            if not self.keys.startswith(self.held):
                out += self.held
                self.held = b""
        return bytes(out), False
