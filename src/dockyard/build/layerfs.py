"""A build state's file system, read straight from its unpacked layers (nothing is
mounted): where COPY's destination really is, whether WORKDIR exists, which files
`COPY --from` takes, the `/etc/passwd` that `--chown=name` means.

The layers are merged once into a map (snapshot.diff.merged_layers, in the store's
whiteout format) and cached per layer list for the build. Paths are resolved the
way the container would see them, symlinks included, but never above its `/`.
"""

from __future__ import annotations

import os
import stat

MAX_LINKS = 40


class LayerFS:
    def __init__(self, dirs: list[str], whiteouts: str) -> None:
        """`dirs`: unpacked layer dirs, bottom first."""
        from ..snapshot.diff import merged_layers

        self.entries = merged_layers(dirs, whiteouts) if dirs else {}
        self.children: dict[str, list[str]] = {}
        for k in self.entries:
            parent, _, name = k.rpartition("/")
            self.children.setdefault(parent, []).append(name)
        for v in self.children.values():
            v.sort()

    def get(self, rel: str):
        """(real path, lstat) of the entry at `rel` (no leading slash), or None."""
        return self.entries.get(rel)

    def resolve(self, path: str, follow: bool = True) -> tuple[str, tuple[str, os.stat_result] | None]:
        """(resolved relative path, its entry or None when absent). Symlinks in the
        parents are followed inside the root; the last one only with `follow`. A
        missing parent, or one that is not a directory, resolves to the path as
        written with None."""
        todo = [p for p in path.split("/") if p and p != "."]
        done: list[str] = []
        links = 0
        while todo:
            c = todo.pop(0)
            if c == "..":
                if done:
                    done.pop()
                continue
            rel = "/".join(done + [c])
            found = self.entries.get(rel)
            if found is None:
                return "/".join(done + [c] + [t for t in todo if t not in (".",)]), None
            st = found[1]
            if stat.S_ISLNK(st.st_mode) and (todo or follow):
                links += 1
                if links > MAX_LINKS:
                    return rel, None
                target = os.readlink(found[0])
                if target.startswith("/"):
                    done = []
                todo = [t for t in target.split("/") if t and t != "."] + todo
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                return "/".join(done + [c] + todo), None
            done.append(c)
        rel = "/".join(done)
        if not rel:
            return "", ("", None)  # the root: always a directory
        return rel, self.entries.get(rel)

    def is_dir(self, rel: str) -> bool:
        if not rel:
            return True
        found = self.entries.get(rel)
        return found is not None and stat.S_ISDIR(found[1].st_mode)

    def walk(self, rel: str):
        """(relative path, real path, lstat) of everything below the directory `rel`,
        each directory before its content, in name order."""
        for name in self.children.get(rel, ()):
            child = f"{rel}/{name}" if rel else name
            real, st = self.entries[child]
            yield child, real, st
            if stat.S_ISDIR(st.st_mode):
                yield from self.walk(child)

    def read(self, path: str, limit: int = 4 << 20) -> bytes | None:
        rel, found = self.resolve(path)
        if not found or not found[0] or not stat.S_ISREG(found[1].st_mode):
            return None
        from ..snapshot.lookup import read_regular

        return read_regular(found[0], limit)


_cache: dict[tuple, LayerFS] = {}


def layer_fs(engine, diff_ids: list[str]) -> LayerFS:
    """The merged view of `diff_ids` (bottom first), cached for this process."""
    key = tuple(diff_ids)
    fs = _cache.get(key)
    if fs is None:
        root = engine.layout.layers
        fs = LayerFS([f"{root}/{d[7:]}/diff" for d in diff_ids], engine._snapshotter().whiteouts)
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = fs
    return fs
