"""Reading a file of a container's root without mounting it: path resolution over a
stack of layer directories, with overlayfs's rules and symlinks kept inside the root.

Used to read the image's /etc/passwd and /etc/group when the user is given by name:
the container's root is only mounted inside its own mount namespace.
"""

from __future__ import annotations

import os
import stat

MAX_LINKS = 40
MAX_READ = 4 << 20


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _entry(stack: list[str], comps: list[str]) -> tuple[str, os.stat_result] | None:
    """The top-most layer entry for `comps` (all ancestors already resolved as dirs)."""
    for layer in stack:
        path = layer
        hidden = False
        for i, c in enumerate(comps):
            path = f"{path}/{c}"
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                break
            if _is_whiteout(st):
                return None
            if i == len(comps) - 1:
                return path, st
            if not stat.S_ISDIR(st.st_mode):
                return None  # a non-directory here hides the lower layers' directory
            if _opaque(path):
                hidden = True
        if hidden:
            return None
    return None


def resolve(stack: list[str], path: str) -> tuple[str, os.stat_result] | None:
    """Resolve `path` as the container would see it; symlinks cannot climb above /."""
    todo = [p for p in path.split("/") if p and p != "."]
    done: list[str] = []
    links = 0
    found = None
    while todo:
        c = todo.pop(0)
        if c == "..":
            if done:
                done.pop()
            continue
        found = _entry(stack, done + [c])
        if found is None:
            return None
        p, st = found
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_LINKS:
                return None
            target = os.readlink(p)
            if target.startswith("/"):
                done = []
            todo = [t for t in target.split("/") if t and t != "."] + todo
            continue
        done.append(c)
    if not done:
        return None
    return found


def read(stack: list[str], path: str) -> bytes | None:
    """The content of a regular file in the merged view, or None."""
    found = resolve(stack, path)
    if found is None or not stat.S_ISREG(found[1].st_mode):
        return None
    return read_regular(found[0], MAX_READ)


def read_regular(real: str, limit: int) -> bytes | None:
    """Up to `limit` bytes of the file at `real` (a path in a layer), never through a
    symlink there; None when it cannot be opened."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)
