"""The vfs snapshotter: a full copy of the image's layers per container, for file
systems where overlayfs cannot be mounted.

Layers are stored with the tar's own whiteout files (`.wh.NAME`, `.wh..wh..opq`),
applied here while copying bottom to top. Every entry is created relative to a
directory fd without following symlinks, like layer extraction.
"""

from __future__ import annotations

import os
import stat

from ..core.files import remove_at
from ..image.tarsafe import OPAQUE_MARKER, WHITEOUT_PREFIX
from . import Mount

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class CopySnapshotter:
    name = "vfs"
    whiteouts = "aufs"

    def __init__(self, layers_root: str) -> None:
        self.layers_root = layers_root

    def prepare(self, home: str, layers: list[str]) -> Mount:
        rootfs = home + "/rootfs"
        os.makedirs(rootfs, 0o755, exist_ok=True)
        dst = os.open(rootfs, _DIR)
        try:
            for d in layers:
                src = os.open(f"{self.layers_root}/{d[7:]}/diff", _DIR)
                links: dict = {}
                try:
                    _copy_dir(src, dst, links)
                finally:
                    os.close(src)
                    for fd, _ in links.values():
                        os.close(fd)
        finally:
            os.close(dst)
        return Mount("bind", rootfs, ["rbind"])

    def stack(self, home: str, layers: list[str]) -> list[str]:
        return [home + "/rootfs"]

    def upper(self, home: str) -> str:
        return home + "/rootfs"


def _copy_meta(st: os.stat_result, name: str, dfd: int, is_link: bool = False) -> None:
    os.chown(name, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
    if not is_link:
        os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dfd)
    try:
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)
    except OSError:
        pass


def _copy_xattrs(src: int, dst: int) -> None:
    try:
        names = os.listxattr(src)
    except OSError:
        return
    for n in names:
        if n.startswith("trusted."):
            continue
        try:
            os.setxattr(dst, n, os.getxattr(src, n))
        except OSError:
            pass


def _copy_dir(sfd: int, dfd: int, links: dict) -> None:
    with os.scandir(sfd) as it:
        entries = sorted(e.name for e in it)
    if OPAQUE_MARKER in entries:
        with os.scandir(dfd) as it:
            for e in list(it):
                remove_at(dfd, e.name)
    for name in entries:
        if name == OPAQUE_MARKER:
            continue
        if name.startswith(WHITEOUT_PREFIX):
            remove_at(dfd, name[len(WHITEOUT_PREFIX):])
            continue
        st = os.stat(name, dir_fd=sfd, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            try:
                dst_st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                if not stat.S_ISDIR(dst_st.st_mode):
                    remove_at(dfd, name)
                    os.mkdir(name, 0o700, dir_fd=dfd)
            except FileNotFoundError:
                os.mkdir(name, 0o700, dir_fd=dfd)
            s2 = os.open(name, _DIR, dir_fd=sfd)
            d2 = os.open(name, _DIR, dir_fd=dfd)
            try:
                _copy_dir(s2, d2, links)
                _copy_xattrs(s2, d2)
            finally:
                os.close(s2)
                os.close(d2)
            _copy_meta(st, name, dfd)
            continue
        remove_at(dfd, name)
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            ldfd, lname = links[key]
            os.link(lname, name, src_dir_fd=ldfd, dst_dir_fd=dfd, follow_symlinks=False)
            continue
        if stat.S_ISREG(mode):
            s = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=sfd)
            try:
                d = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                            0o600, dir_fd=dfd)
                try:
                    remaining = st.st_size
                    while remaining > 0:
                        n = os.copy_file_range(s, d, remaining) if hasattr(os, "copy_file_range") \
                            else os.sendfile(d, s, None, remaining)
                        if n == 0:
                            break
                        remaining -= n
                    _copy_xattrs(s, d)
                finally:
                    os.close(d)
            finally:
                os.close(s)
            _copy_meta(st, name, dfd)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=sfd), name, dir_fd=dfd)
            _copy_meta(st, name, dfd, is_link=True)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(name, stat.S_IMODE(mode), dir_fd=dfd)
            _copy_meta(st, name, dfd)
        else:
            continue
        if st.st_nlink > 1:
            links[key] = (os.dup(dfd), name)
