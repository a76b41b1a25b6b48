"""File operations the engine needs to be safe and fast: atomic writes, tree removal
that never follows symlinks or crosses into a mount, and disk usage.

`shutil` is avoided on purpose: it imports `fnmatch` and `re`, several ms on the
`run` hot path, and its rmtree would descend into a still-mounted rootfs.
"""

from __future__ import annotations

import os

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def atomic_write(path: str, data: bytes | str, mode: int = 0o644, sync: bool = False) -> None:
    """Write `path` so readers see the old or the new content, never a part."""
    if isinstance(data, str):
        data = data.encode()
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def write_file(path: str, data: bytes | str, mode: int = 0o644) -> None:
    """Create or truncate a small file in one write (files nobody reads concurrently)."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_file(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        os.close(fd)


class MountedError(OSError):
    """rmtree met a mount point: removing through it would destroy someone else's data."""


def rmtree(path: str) -> None:
    """Remove `path` and everything below it; a missing path is not an error.

    Never follows symlinks (every directory is opened O_NOFOLLOW relative to its
    parent) and refuses to descend into another file system, so a rootfs that is
    still mounted is never emptied through its mount.
    """
    parent, name = os.path.split(path.rstrip("/"))
    pfd = os.open(parent or "/", _DIR_FLAGS)
    try:
        remove_at(pfd, name, where=path)
    finally:
        os.close(pfd)


def remove_at(pfd: int, name: str, where: str = "") -> None:
    """Remove the entry `name` of the directory `pfd`, recursively, as rmtree does."""
    try:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if (st.st_mode & 0o170000) != 0o040000:
        os.unlink(name, dir_fd=pfd)
        return
    if st.st_dev != os.fstat(pfd).st_dev:
        raise MountedError(16, "is a mount point", where or name)
    sub = os.open(name, _DIR_FLAGS, dir_fd=pfd)
    try:
        _clear(sub, st.st_dev, where or name)
    finally:
        os.close(sub)
    os.rmdir(name, dir_fd=pfd)


def _clear(dfd: int, dev: int, where: str) -> None:
    with os.scandir(dfd) as it:
        entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    for name, is_dir in entries:
        if not is_dir:
            os.unlink(name, dir_fd=dfd)
            continue
        sub = os.open(name, _DIR_FLAGS, dir_fd=dfd)
        try:
            if os.fstat(sub).st_dev != dev:
                raise MountedError(16, "is a mount point", f"{where}/{name}")
            _clear(sub, dev, f"{where}/{name}")
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=dfd)


def write_all(fd: int, data: bytes) -> bool:
    """All of `data` to `fd`; False (rather than an error) when the other end is gone,
    for copying loops that carry on without that reader."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
        return True
    except OSError:
        return False


def disk_usage(path: str) -> int:
    """Bytes used by the files below `path` (hard links counted once), like `du -sb`."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        top = stack.pop()
        try:
            it = os.scandir(top)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_size
    return total
