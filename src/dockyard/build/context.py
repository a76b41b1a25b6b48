"""The build context: the directory whose files COPY and ADD may take, as the build
is allowed to see it.

What a Dockerfile names is resolved *inside* the context, as BuildKit does it with
the context as its root: a source is cleaned as a path from the context's `/`
(`../../etc/passwd` is the context's `etc/passwd`), and symlinks on the way,
including the source itself, are followed only within the context (openat2
RESOLVE_IN_ROOT), so a link to `/etc` means the context's own `etc`. Below a copied
directory nothing is followed: a symlink inside is copied as a symlink, pointing
wherever it points. `.dockerignore` hides what it excludes: an excluded file cannot
be copied and is not part of any directory that is.

A source's content (names, types, modes, sizes, link targets and a sha256 of each
file) is hashed for the step's cache key; modification times and owners are not
(COPY resets owners, and BuildKit ignores times too), so `touch` alone does not
invalidate the cache.
"""

from __future__ import annotations

import hashlib
import os
import stat

from ..core.paths import clean as go_clean
from ..errors import InvalidArgument

_GLOB = frozenset("*?[\\")


class Item:
    """One file-system entry a COPY takes: `rel` its path below the source's top
    (empty for the top itself), `real` where to read it, `st` its lstat."""

    __slots__ = ("rel", "real", "st")

    def __init__(self, rel: str, real: str, st: os.stat_result) -> None:
        self.rel = rel
        self.real = real
        self.st = st


class Match:
    """A source path after glob expansion: its name (the base name a file keeps
    at the destination) and every entry it brings, the top first."""

    __slots__ = ("name", "items", "is_dir")

    def __init__(self, name: str, items: list[Item]) -> None:
        self.name = name
        self.items = items
        self.is_dir = stat.S_ISDIR(items[0].st.st_mode)


def clean(path: str) -> str:
    """A source path as a path relative to the context root (no `..` above it)."""
    return go_clean("/" + path)[1:]


def has_glob(path: str) -> bool:
    return any(c in _GLOB for c in path)


def go_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match for one path component."""
    import re

    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("^", "!") else i + 1)
            if j < 0:
                raise InvalidArgument(f"syntax error in pattern: {pattern}")
            body = pattern[i + 1:j]
            neg = body[:1] in ("^", "!")
            if neg:
                body = body[1:]
            body = body.replace("\\", "\\\\")
            out.append(f"[{'^' if neg else ''}{body}]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.fullmatch("".join(out), name, re.S) is not None


class BuildContext:
    """A context directory (or none: `build -` gives the Dockerfile alone)."""

    def __init__(self, root: str | None, ignore=None) -> None:
        self.root = os.path.realpath(root) if root else None
        self.ignore = ignore
        self._fd = -1
        self.bytes_read = 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _root_fd(self) -> int:
        if self._fd < 0:
            self._fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return self._fd

    def _excluded(self, rel: str) -> bool:
        return bool(self.ignore) and bool(rel) and self.ignore.excluded(rel)

    def _resolve(self, rel: str) -> tuple[str, os.stat_result] | None:
        """The real path and stat of `rel`, symlinks followed inside the context."""
        from .._sys import libc

        if not rel:
            return self.root, os.stat(self.root)
        try:
            fd = libc.openat2(self._root_fd(), rel, os.O_PATH | os.O_CLOEXEC,
                              libc.RESOLVE_IN_ROOT | libc.RESOLVE_NO_MAGICLINKS)
        except OSError as e:
            import errno

            if e.errno == errno.ENOSYS:
                return self._resolve_by_hand(rel)
            return None
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if real != self.root and not real.startswith(self.root + "/"):
            return None  # cannot happen with RESOLVE_IN_ROOT; belt and braces
        return real, st

    def _resolve_by_hand(self, rel: str) -> tuple[str, os.stat_result] | None:
        parts = rel.split("/")
        done: list[str] = []
        links = 0
        while parts:
            c = parts.pop(0)
            if c in ("", "."):
                continue
            if c == "..":
                if done:
                    done.pop()
                continue
            path = os.path.join(self.root, *done, c)
            try:
                st = os.lstat(path)
            except OSError:
                return None
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > 40:
                    return None
                target = os.readlink(path)
                if target.startswith("/"):
                    done = []
                parts = target.split("/") + parts
                continue
            done.append(c)
        path = os.path.join(self.root, *done) if done else self.root
        return path, os.lstat(path)

    def _rel_of(self, real: str) -> str:
        return "" if real == self.root else real[len(self.root) + 1:]

    def match(self, source: str) -> list[Match]:
        """What the source path or pattern `source` names; [] when nothing."""
        if self.root is None:
            return []
        rel = clean(source)
        if not has_glob(rel):
            found = self._resolve(rel)
            if found is None or self._excluded(self._rel_of(found[0])):
                return []
            return [self._match(found[0], rel.rsplit("/", 1)[-1] if rel else "")]
        out: list[Match] = []
        for real in self._glob(rel):
            name = real.rsplit("/", 1)[-1]
            resolved = self._resolve(self._rel_of(real))
            if resolved is None or self._excluded(self._rel_of(resolved[0])):
                continue
            out.append(self._match(resolved[0], name))
        return out

    def _glob(self, pattern: str) -> list[str]:
        """Real paths matching `pattern` component by component (symlinked
        directories on the way followed inside the context)."""
        current = [self.root]
        comps = pattern.split("/")
        for i, comp in enumerate(comps):
            nxt = []
            for d in current:
                if not has_glob(comp):
                    cand = [comp]
                else:
                    try:
                        cand = sorted(n for n in os.listdir(d) if go_match(comp, n))
                    except OSError:
                        continue
                for n in cand:
                    p = f"{d}/{n}"
                    if i < len(comps) - 1:
                        found = self._resolve(self._rel_of(p))
                        if found is None or not stat.S_ISDIR(found[1].st_mode):
                            continue
                        nxt.append(found[0])
                    elif os.path.lexists(p):
                        nxt.append(p)
            current = nxt
        return sorted(current)

    def _match(self, real: str, name: str) -> Match:
        st = os.lstat(real)
        items = [Item("", real, st)]
        if stat.S_ISDIR(st.st_mode):
            self._walk(real, self._rel_of(real), "", items)
        return Match(name, items)

    def _walk(self, real: str, ctx_rel: str, rel: str, items: list[Item]) -> None:
        try:
            names = sorted(os.listdir(real))
        except OSError:
            return
        for n in names:
            child_ctx = f"{ctx_rel}/{n}" if ctx_rel else n
            path = f"{real}/{n}"
            st = os.lstat(path)
            is_dir = stat.S_ISDIR(st.st_mode)
            if self._excluded(child_ctx):
                if is_dir and self.ignore.may_have_included_children(child_ctx):
                    # an excluded directory with included content: the content comes,
                    # the directory with it (as Docker's context transfer does)
                    sub: list[Item] = []
                    self._walk(path, child_ctx, f"{rel}/{n}" if rel else n, sub)
                    if sub:
                        items.append(Item(f"{rel}/{n}" if rel else n, path, st))
                        items.extend(sub)
                continue
            items.append(Item(f"{rel}/{n}" if rel else n, path, st))
            if is_dir:
                self._walk(path, child_ctx, f"{rel}/{n}" if rel else n, items)

    def read(self, rel: str) -> bytes | None:
        """A file of the context (the Dockerfile, .dockerignore), if it is one."""
        found = self._resolve(clean(rel))
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return None
        with open(found[0], "rb") as f:
            return f.read()


def hash_items(h, items: list[Item], with_owner: bool = False) -> int:
    """Feed entries (names, types, modes, sizes, link targets, content) into the
    hash `h`; returns the bytes of file content read."""
    total = 0
    for it in items:
        st = it.st
        fmt = stat.S_IFMT(st.st_mode)
        h.update(f"\0{it.rel}\0{fmt:o}\0{stat.S_IMODE(st.st_mode):o}\0".encode("utf-8", "surrogateescape"))
        if with_owner:
            h.update(f"{st.st_uid}:{st.st_gid}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(it.real).encode("utf-8", "surrogateescape"))
        elif stat.S_ISREG(st.st_mode):
            h.update(f"{st.st_size}\0".encode())
            total += st.st_size
            fd = os.open(it.real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                fh = hashlib.sha256()
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    fh.update(b)
            finally:
                os.close(fd)
            h.update(fh.digest())
    return total
