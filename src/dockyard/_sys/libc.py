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
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine, 155)
_SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, 321)

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


def setdomainname(name: str) -> None:
    raw = name.encode()
    if _libc.setdomainname(ctypes.c_char_p(raw), ctypes.c_size_t(len(raw))) != 0:
        raise _fail("setdomainname", name)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (64-bit masks), _LINUX_CAPABILITY_VERSION_3."""
    hdr = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i] = _CapData((effective >> shift) & 0xFFFFFFFF, (permitted >> shift) & 0xFFFFFFFF,
                           (inheritable >> shift) & 0xFFFFFFFF)
    if _libc.capset(ctypes.byref(hdr), data) != 0:
        raise _fail("capset", None)


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


def _bpf(cmd: int, attr: ctypes.Array) -> int:
    _libc.syscall.restype = ctypes.c_long
    r = _libc.syscall(_SYS_BPF, ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    return r


def bpf_prog_load_cgroup_device(program: bytes) -> int:
    """BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd."""
    insns = ctypes.create_string_buffer(program, len(program))
    license = ctypes.create_string_buffer(b"Apache-2.0 or GPL")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    ctypes.memmove(attr, (15).to_bytes(4, "little") + (len(program) // 8).to_bytes(4, "little")
                   + ctypes.addressof(insns).to_bytes(8, "little")
                   + ctypes.addressof(license).to_bytes(8, "little")
                   + (1).to_bytes(4, "little") + len(log).to_bytes(4, "little")
                   + ctypes.addressof(log).to_bytes(8, "little"), 40)
    ctypes.memmove(ctypes.addressof(attr) + 68, (6).to_bytes(4, "little"), 4)  # expected_attach_type
    fd = _bpf(5, attr)  # BPF_PROG_LOAD
    if fd < 0:
        detail = log.value.decode(errors="replace").strip().splitlines()[-1:] or [""]
        e = ctypes.get_errno()
        raise KernelError("bpf(BPF_PROG_LOAD)", f"device filter{': ' + detail[0] if detail[0] else ''}", e)
    return fd


def bpf_prog_attach_cgroup_device(cgroup_fd: int, prog_fd: int) -> None:
    attr = ctypes.create_string_buffer(128)
    ctypes.memmove(attr, cgroup_fd.to_bytes(4, "little") + prog_fd.to_bytes(4, "little")
                   + (6).to_bytes(4, "little") + (2).to_bytes(4, "little"), 16)  # BPF_CGROUP_DEVICE, ALLOW_MULTI
    if _bpf(8, attr) != 0:  # BPF_PROG_ATTACH
        raise _fail("bpf(BPF_PROG_ATTACH)", "device filter")


# the new mount API (same numbers on every architecture)
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
MOUNT_ATTR_IDMAP = 0x00100000
MOVE_MOUNT_F_EMPTY_PATH = 0x4


def idmapped_bind(source: str, target: str, userns_fd: int) -> None:
    """Bind `source` onto `target` with its ids shifted by the user namespace
    `userns_fd` (an idmapped mount: files owned by 0 appear owned by that namespace's
    root), without changing anything on disk."""
    _libc.syscall.restype = ctypes.c_long
    fd = _libc.syscall(_SYS_OPEN_TREE, ctypes.c_int(AT_FDCWD), _b(source),
                       ctypes.c_uint(OPEN_TREE_CLONE | os.O_CLOEXEC | AT_RECURSIVE))
    if fd < 0:
        raise _fail("open_tree", source)
    try:
        attr = ctypes.create_string_buffer(32)  # struct mount_attr
        ctypes.memmove(attr, MOUNT_ATTR_IDMAP.to_bytes(8, "little"), 8)
        ctypes.memmove(ctypes.addressof(attr) + 24, userns_fd.to_bytes(8, "little"), 8)
        if _libc.syscall(_SYS_MOUNT_SETATTR, ctypes.c_int(fd), b"", ctypes.c_uint(AT_EMPTY_PATH | AT_RECURSIVE),
                         attr, ctypes.c_size_t(32)) != 0:
            raise _fail("mount_setattr idmap", source)
        if _libc.syscall(_SYS_MOVE_MOUNT, ctypes.c_int(fd), b"", ctypes.c_int(AT_FDCWD), _b(target),
                         ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)) != 0:
            raise _fail("move_mount", target)
    finally:
        os.close(fd)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    r = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if r < 0:
        raise _fail("prctl", str(option))
    return r


# openat2(2): path resolution the kernel keeps inside a directory (`docker cp`)
_SYS_OPENAT2 = 437
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10


def openat2(dir_fd: int, path: str | bytes, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2 with `struct open_how`; raises OSError (ENOSYS before Linux 5.6, so
    callers can fall back), never KernelError: callers turn ENOENT into their own
    "not found" messages."""
    _libc.syscall.restype = ctypes.c_long
    how = ctypes.create_string_buffer(24)  # struct open_how {u64 flags, mode, resolve}
    ctypes.memmove(how, (flags & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"), 8)
    ctypes.memmove(ctypes.addressof(how) + 8, mode.to_bytes(8, "little"), 8)
    ctypes.memmove(ctypes.addressof(how) + 16, resolve.to_bytes(8, "little"), 8)
    fd = _libc.syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dir_fd), _b(path), how, ctypes.c_size_t(24))
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path if isinstance(path, str) else path.decode(errors="replace"))
    return fd
