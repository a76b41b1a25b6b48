"""Walking a container's root file system without mounting it: the union of a stack
of layer directories with overlayfs's rules (the upper entry wins, a 0/0 character
device is a whiteout, `trusted.overlay.opaque` on a directory hides what lower
layers hold under it, a non-directory hides a lower directory).

`export` reads a container's root this way, running or not.
"""

from __future__ import annotations

import os
import stat

from .lookup import _is_whiteout, _opaque


def walk(stack: list[str]):
    """Yield (relative path, real path, lstat) for every entry of the merged view
    (`stack` top first), each directory before what it holds."""
    yield from _walk(stack, "")


def _walk(layers: list[str], rel: str):
    entries: dict[str, tuple[str, os.stat_result]] = {}
    chains: dict[str, list[str]] = {}  # directory name -> the layers merged into it
    ended: set[str] = set()  # names whose chain of directories stops here
    for layer in layers:
        d = os.path.join(layer, rel) if rel else layer
        try:
            names = os.listdir(d)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            path = os.path.join(d, name)
            st = os.lstat(path)
            if name not in entries:
                if name in ended:
                    continue  # whited out above
                if _is_whiteout(st):
                    ended.add(name)
                    continue
                entries[name] = (path, st)
                if stat.S_ISDIR(st.st_mode):
                    chains[name] = [layer]
                    if _opaque(path):
                        ended.add(name)
                else:
                    ended.add(name)
                continue
            if name in ended:
                continue
            if stat.S_ISDIR(st.st_mode) and not _is_whiteout(st):
                chains[name].append(layer)
                if _opaque(path):
                    ended.add(name)
            else:
                ended.add(name)
    for name in sorted(entries):
        path, st = entries[name]
        child = f"{rel}/{name}" if rel else name
        yield child, path, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(chains[name], child)
