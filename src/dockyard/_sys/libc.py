"""ctypes bindings for the namespace, mount and process calls the runtime needs.

Imported only by processes that set containers up (it costs ~4 ms): the CLI loads
it just before forking the monitor, so the monitor and the container's init get it
for free.
"""

from __future__ import annotations

import ctypes
import os

from ..errors import KernelError

_libc = ctypes.CDLL(None, use_errno=True)

# sched.h
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# sys/mount.h
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25
MNT_FORCE = 1
MNT_DETACH = 2

# prctl
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine, 155)

_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)


def _fail(call: str, path: str | bytes | None) -> KernelError:
    e = ctypes.get_errno()
    if isinstance(path, bytes):
        path = path.decode(errors="replace")
    return KernelError(call, path, e)


def _b(s: str | bytes | None) -> bytes | None:
    return s.encode() if isinstance(s, str) else s


def mount(source: str | bytes | None, target: str | bytes, fstype: str | bytes | None,
          flags: int = 0, data: str | bytes | None = None) -> None:
    if _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)) != 0:
        raise _fail(f"mount {fstype or ''}".rstrip() if fstype else "mount", target)


def umount2(target: str | bytes, flags: int = 0) -> None:
    if _libc.umount2(_b(target), flags) != 0:
        raise _fail("umount2", target)


def unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        raise _fail("unshare", None)


def setns(fd: int, nstype: int = 0) -> None:
    if _libc.setns(fd, nstype) != 0:
        raise _fail("setns", None)


def pivot_root(new_root: str | bytes, put_old: str | bytes) -> None:
    if _libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)) != 0:
        raise _fail("pivot_root", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    if _libc.sethostname(raw, len(raw)) != 0:
        raise _fail("sethostname", name)


def loopback_up() -> None:
    """Bring up `lo` in this network namespace (a new one starts with it down), with
    the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls on a throwaway socket."""
    fd = _libc.socket(2, 2 | 0o2000000, 0)  # AF_INET, SOCK_DGRAM | SOCK_CLOEXEC
    if fd < 0:
        raise _fail("socket", "lo")
    try:
        ifr = ctypes.create_string_buffer(b"lo", 40)  # struct ifreq: name[16], flags
        if _libc.ioctl(fd, 0x8913, ifr) != 0:  # SIOCGIFFLAGS
            raise _fail("ioctl SIOCGIFFLAGS", "lo")
        flags = int.from_bytes(ifr.raw[16:18], "little") | 0x1  # IFF_UP
        ctypes.memmove(ctypes.addressof(ifr) + 16, flags.to_bytes(2, "little"), 2)
        if _libc.ioctl(fd, 0x8914, ifr) != 0:  # SIOCSIFFLAGS
            raise _fail("ioctl SIOCSIFFLAGS", "lo")
    finally:
        os.close(fd)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    r = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if r < 0:
        raise _fail("prctl", str(option))
    return r
