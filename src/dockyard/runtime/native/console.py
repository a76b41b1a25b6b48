"""A pseudo-terminal for the container's process (`process.terminal`), made from the
container's own /dev/pts so that its name and permissions are the container's.

The standalone runtime's caller passes `--console-socket PATH`: a Unix socket on
which it waits for the pty's master end, sent with SCM_RIGHTS, as runc and crun send
it (containerd and podman read it that way). The connection is made before
pivot_root, while the path is in reach; the pty is opened after it.
"""

from __future__ import annotations

import fcntl
import os
import socket

_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431
_TIOCSCTTY = 0x540E


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def attach(sock: socket.socket, uid: int, gid: int) -> None:
    """Open a pty, send its master on `sock`, and make its slave this process's
    controlling terminal and stdin, stdout and stderr."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, b"\0\0\0\0")  # unlockpt
        number = int.from_bytes(fcntl.ioctl(master, _TIOCGPTN, b"\0\0\0\0"), "little")
        slave_path = f"/dev/pts/{number}"
        slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
        socket.send_fds(sock, [slave_path.encode()], [master])
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
