"""A pseudo-terminal for the container's process (`process.terminal`), made from the
container's own /dev/pts so that its name and permissions are the container's.

Two callers hand the pty's master end on in the same way, over a Unix socket with
SCM_RIGHTS, as runc and crun send it:

- the standalone runtime's caller passes `--console-socket PATH` (containerd and
  podman read the master that way); the connection is made before pivot_root,
  while the path is in reach;
- the engine's monitor passes one end of a socketpair (`run -t`): it receives the
  master right after the command starts and keeps it for the container's life.

The pty itself is opened after pivot_root, just before exec, and sized from the
spec's `process.consoleSize` first, so the command never sees a 0x0 window.

Only the `_socket` C module is used: `socket` imports `enum`, which `run` avoids.
"""

from __future__ import annotations

import fcntl
import os
import sys

import _socket

_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431
_TIOCSCTTY = 0x540E
_TIOCSWINSZ = 0x5414
_TIOCGWINSZ = 0x5413


def connect(path: str) -> "_socket.socket":
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.connect(path)
    return s


def set_size(fd: int, rows: int, cols: int) -> None:
    """TIOCSWINSZ: the kernel sends SIGWINCH to the terminal's foreground group."""
    winsize = (int(rows) & 0xFFFF).to_bytes(2, sys.byteorder) + (int(cols) & 0xFFFF).to_bytes(2, sys.byteorder)
    fcntl.ioctl(fd, _TIOCSWINSZ, winsize + b"\0\0\0\0")


def get_size(fd: int) -> tuple[int, int]:
    data = fcntl.ioctl(fd, _TIOCGWINSZ, b"\0" * 8)
    return int.from_bytes(data[0:2], sys.byteorder), int.from_bytes(data[2:4], sys.byteorder)


def send_fd(sock, fd: int, name: bytes = b"") -> None:
    sock.sendmsg([name or b"\0"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])


def recv_fd(sock) -> tuple[int, bytes] | None:
    """(fd, name) sent with send_fd, or None at EOF (the sender failed before sending)."""
    msg, ancillary, _flags, _addr = sock.recvmsg(1024, _socket.CMSG_SPACE(4 * 4))
    fd = None
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds = [int.from_bytes(data[i:i + 4], sys.byteorder) for i in range(0, len(data) - len(data) % 4, 4)]
            fd = fds[0] if fds else None
            for extra in fds[1:]:
                os.close(extra)
    if fd is None:
        return None
    os.set_inheritable(fd, False)
    return fd, msg


def attach(sock, uid: int, gid: int, size: dict | None = None) -> None:
    """Open a pty, size it, send its master on `sock`, and make its slave this
    process's controlling terminal and stdin, stdout and stderr."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, b"\0\0\0\0")  # unlockpt
        number = int.from_bytes(fcntl.ioctl(master, _TIOCGPTN, b"\0\0\0\0"), "little")
        slave_path = f"/dev/pts/{number}"
        slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
        if size and size.get("height") and size.get("width"):
            set_size(master, size["height"], size["width"])
        send_fd(sock, master, slave_path.encode())
    finally:
        os.close(master)
        sock.close()
    os.fchown(slave, uid, gid)
    os.setsid()
    fcntl.ioctl(slave, _TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
