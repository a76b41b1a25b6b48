"""The container's file system: its root, the spec's mounts, /dev, and pivot_root.

Runs in the container's init, inside its new mount namespace, before pivot_root.
Mount destinations are resolved inside the new root (symlinks in the image are
followed as if the root were /, never out of it), and missing mount points are
created, as runc does.
"""

from __future__ import annotations

import os
import stat

from ..._sys import libc
from ...errors import KernelError, StartError

# OCI mount options that are mount(2) flags: name -> (set, clear)
_FLAGS = {
    "ro": (libc.MS_RDONLY, 0), "rw": (0, libc.MS_RDONLY),
    "nosuid": (libc.MS_NOSUID, 0), "suid": (0, libc.MS_NOSUID),
    "nodev": (libc.MS_NODEV, 0), "dev": (0, libc.MS_NODEV),
    "noexec": (libc.MS_NOEXEC, 0), "exec": (0, libc.MS_NOEXEC),
    "sync": (libc.MS_SYNCHRONOUS, 0), "async": (0, libc.MS_SYNCHRONOUS),
    "dirsync": (libc.MS_DIRSYNC, 0), "remount": (libc.MS_REMOUNT, 0),
    "mand": (libc.MS_MANDLOCK, 0), "nomand": (0, libc.MS_MANDLOCK),
    "atime": (0, libc.MS_NOATIME), "noatime": (libc.MS_NOATIME, 0),
    "diratime": (0, libc.MS_NODIRATIME), "nodiratime": (libc.MS_NODIRATIME, 0),
    "relatime": (libc.MS_RELATIME, 0), "norelatime": (0, libc.MS_RELATIME),
    "strictatime": (libc.MS_STRICTATIME, 0), "nostrictatime": (0, libc.MS_STRICTATIME),
    "nosymfollow": (libc.MS_NOSYMFOLLOW, 0),
    "bind": (libc.MS_BIND, 0), "rbind": (libc.MS_BIND | libc.MS_REC, 0),
}
_PROPAGATION = {
    "private": libc.MS_PRIVATE, "rprivate": libc.MS_PRIVATE | libc.MS_REC,
    "shared": libc.MS_SHARED, "rshared": libc.MS_SHARED | libc.MS_REC,
    "slave": libc.MS_SLAVE, "rslave": libc.MS_SLAVE | libc.MS_REC,
    "unbindable": libc.MS_UNBINDABLE, "runbindable": libc.MS_UNBINDABLE | libc.MS_REC,
}
_READONLY_AFTER = libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC

# The devices every container gets (OCI runtime spec, "Default Devices").
DEFAULT_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                   ("urandom", 1, 9), ("tty", 5, 0))
DEV_SYMLINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(flags, propagation flags, data) of an OCI mount's options."""
    flags = prop = 0
    data = []
    for o in options:
        if o in _FLAGS:
            s, c = _FLAGS[o]
            flags = (flags | s) & ~c
        elif o in _PROPAGATION:
            prop |= _PROPAGATION[o]
        else:
            data.append(o)
    return flags, prop, ",".join(data)


def secure_join(root: str, path: str) -> str:
    """`root` + `path`, resolving symlinks as the container will (absolute targets and
    `..` stay inside `root`)."""
    todo = [p for p in path.split("/") if p and p != "."]
    todo.reverse()
    done: list[str] = []
    links = 0
    while todo:
        c = todo.pop()
        if c == "..":
            if done:
                done.pop()
            continue
        cand = root + "/" + "/".join(done + [c])
        try:
            st = os.lstat(cand)
        except (FileNotFoundError, NotADirectoryError):
            done.append(c)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 255:
                raise StartError(f"too many levels of symbolic links resolving {path} in the container")
            target = os.readlink(cand)
            if target.startswith("/"):
                done = []
            todo.extend(reversed([t for t in target.split("/") if t and t != "."]))
            continue
        done.append(c)
    return root + "/" + "/".join(done) if done else root


def _mountpoint(dest: str, is_file: bool) -> None:
    """Create a missing mount point: a directory, or an empty file for a file bind."""
    if is_file:
        os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
        if not os.path.lexists(dest):
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
    else:
        os.makedirs(dest, 0o755, exist_ok=True)


def mount_rootfs(rootfs: str, encoded: str | None) -> None:
    """Mount the container's root at `rootfs` (the snapshotter's mount, or a bind of
    the directory onto itself: pivot_root needs a mount point)."""
    if encoded:
        from ...snapshot import Mount

        m = Mount.decode(encoded)
        if m.chdir:
            os.chdir(m.chdir)
        if m.type == "bind":
            libc.mount(m.source, rootfs, None, libc.MS_BIND | libc.MS_REC)
        else:
            libc.mount(m.source, rootfs, m.type, 0, ",".join(m.options))
    else:
        libc.mount(rootfs, rootfs, None, libc.MS_BIND | libc.MS_REC)


def mount_all(rootfs: str, mounts: list[dict], cgroup_mounts: list[tuple[str, str, str]],
              bind_cgroup: str | None = None) -> None:
    """The spec's mounts. `bind_cgroup` (in a user namespace, where cgroup v1 cannot be
    mounted) is the container's cgroup path, bound from the host's hierarchies."""
    for m in mounts:
        dest = m.get("destination") or ""
        if not dest.startswith("/"):
            raise StartError(f"mount destination {dest!r} is not absolute")
        target = secure_join(rootfs, dest)
        mtype = m.get("type") or ""
        flags, prop, data = parse_options(m.get("options") or [])
        source = m.get("source") or mtype
        if flags & libc.MS_BIND or mtype == "bind":
            try:
                is_file = not os.path.isdir(source)
            except OSError:
                is_file = True
            _mountpoint(target, is_file)
            libc.mount(source, target, None, libc.MS_BIND | (flags & libc.MS_REC))
            extra = flags & ~(libc.MS_BIND | libc.MS_REC)
            if extra:
                libc.mount(None, target, None, libc.MS_BIND | libc.MS_REMOUNT | extra)
        elif mtype == "cgroup":
            _mountpoint(target, False)
            _mount_cgroups(target, flags, cgroup_mounts, bind_cgroup)
        else:
            _mountpoint(target, False)
            libc.mount(source, target, mtype, flags, data or None)
        if prop:
            libc.mount(None, target, None, prop)


def _mount_cgroups(target: str, flags: int, hierarchies: list[tuple[str, str, str]],
                   bind_cgroup: str | None) -> None:
    """/sys/fs/cgroup inside: the cgroup2 file system, or for v1 a tmpfs holding each
    hierarchy; all read-only, and rooted at the container's cgroup (its namespace)."""
    if len(hierarchies) == 1 and hierarchies[0][0] == "":
        libc.mount("cgroup2", target, "cgroup2", flags)
        return
    libc.mount("tmpfs", target, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC, "mode=755")
    for name, fstype, opts in hierarchies:
        d = f"{target}/{name}"
        os.mkdir(d, 0o755)
        if bind_cgroup:
            src = f"/sys/fs/cgroup/{name}{bind_cgroup}"
            libc.mount(src, d, None, libc.MS_BIND)
            libc.mount(None, d, None, libc.MS_BIND | libc.MS_REMOUNT | _READONLY_AFTER)
            continue
        libc.mount("cgroup", d, fstype, flags | libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC,
                   opts or None)
    libc.mount(None, target, None, libc.MS_REMOUNT | libc.MS_BIND | _READONLY_AFTER)


def make_devices(rootfs: str, bind: bool = False) -> None:
    """Default device nodes and /dev symlinks, when /dev is the container's own tmpfs.
    In a user namespace, where mknod is refused, the host's nodes are bound instead."""
    dev = rootfs + "/dev"
    for name, major, minor in DEFAULT_DEVICES:
        p = f"{dev}/{name}"
        if bind:
            _bind_device(f"/dev/{name}", p)
            continue
        try:
            os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        except FileExistsError:
            continue
        os.chmod(p, 0o666)
    for name, target in DEV_SYMLINKS:
        try:
            os.symlink(target, f"{dev}/{name}")
        except FileExistsError:
            pass


def _bind_device(source: str, target: str) -> None:
    if not os.path.lexists(target):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666))
    libc.mount(source, target, None, libc.MS_BIND)


def make_spec_devices(rootfs: str, devices: list[dict], bind: bool = False) -> None:
    """linux.devices: device nodes the container is given (--device, --privileged)."""
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    for d in devices:
        path = d.get("path") or ""
        if not path.startswith("/dev/"):
            raise StartError(f"device path {path!r} is not under /dev")
        target = secure_join(rootfs, path)
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        if bind:
            _bind_device(d.get("hostPath") or path, target)
            continue
        try:
            os.unlink(target)
        except (FileNotFoundError, IsADirectoryError):
            pass
        mode = kinds.get(d.get("type", "c"), stat.S_IFCHR) | (int(d.get("fileMode", 0o666)) & 0o777)
        os.mknod(target, mode, os.makedev(int(d.get("major", 0)), int(d.get("minor", 0))))
        os.chmod(target, mode & 0o777)
        os.chown(target, int(d.get("uid", 0)), int(d.get("gid", 0)))


def mask_paths(paths: list[str]) -> None:
    """linux.maskedPaths, inside the new root: /dev/null over files, an empty
    read-only tmpfs over directories."""
    for p in paths:
        try:
            st = os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISDIR(st.st_mode):
            libc.mount("tmpfs", p, "tmpfs", libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC,
                       "size=0")
        else:
            libc.mount("/dev/null", p, None, libc.MS_BIND)


def readonly_paths(paths: list[str]) -> None:
    """linux.readonlyPaths: each bound onto itself and remounted read-only."""
    for p in paths:
        try:
            os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        libc.mount(p, p, None, libc.MS_BIND | libc.MS_REC)
        libc.mount(p, p, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY | libc.MS_NOSUID
                   | libc.MS_NODEV | libc.MS_NOEXEC)


def mount_points() -> list[str]:
    """The mount points of this mount namespace, in /proc/self/mountinfo's order
    (its octal escapes, as for a space, decoded)."""
    out = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            point = line.split()[4]
            if b"\\" in point:
                point = point.decode("unicode_escape").encode("latin-1")
            out.append(os.fsdecode(point))
    return out


def _at_or_below(path: str, point: str) -> bool:
    return path == point or path.startswith(point.rstrip("/") + "/")


def make_parent_private(rootfs: str) -> None:
    """pivot_root refuses a new root whose parent mount is shared: with a shared root
    propagation (the rest of "/" is shared with the host's), make that one mount
    private, as runc does."""
    parent = os.path.realpath(os.path.dirname(os.path.abspath(rootfs)))
    best = max((p for p in mount_points() if _at_or_below(parent, p)), key=len, default="/")
    libc.mount(None, best, None, libc.MS_PRIVATE)


def unmount_below(root: str) -> None:
    """Detach every mount at or below `root` in this mount namespace, deepest first
    (the mounts of a container that had no mount namespace of its own)."""
    for point in sorted((p for p in mount_points() if _at_or_below(p, root)), key=len, reverse=True):
        try:
            libc.umount2(point, libc.MNT_DETACH)
        except KernelError:
            pass  # gone already with its parent


def pivot(rootfs: str) -> None:
    """pivot_root into `rootfs` and detach the old root, leaving no path to the host.

    pivot_root(".", ".") stacks the old root under the new one at "/", where a lazy
    unmount takes it away: no put_old directory is needed in the image.
    """
    os.chdir(rootfs)
    libc.pivot_root(".", ".")
    # the old root is now mounted on top of the new one; make it private first so the
    # unmount cannot propagate back to the host's mount namespace
    libc.mount(None, ".", None, libc.MS_SLAVE | libc.MS_REC)
    libc.umount2(".", libc.MNT_DETACH)
    os.chdir("/")


def remount_readonly_root() -> None:
    try:
        libc.mount(None, "/", None, libc.MS_REMOUNT | libc.MS_BIND | libc.MS_RDONLY)
    except KernelError:
        libc.mount(None, "/", None, libc.MS_REMOUNT | libc.MS_RDONLY)
