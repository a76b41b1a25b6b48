"""A container's changes to its image: the list `diff` prints, and the layer tar that
`commit` and `build` store.

Two ways to find them, one per snapshotter:

- overlay2: the container's upper dir *is* its changes. A 0/0 character device is a
  deleted entry, a directory with `trusted.overlay.opaque=y` replaced the lower one
  wholesale, anything else was added (absent below) or changed (present below).
- vfs: the container has a full copy of its layers, so the copy is compared with
  the merged layers (type, mode, owner, size, mtime, link target), and what the
  layers hold that the copy lacks was deleted.

Mount points the runtime made for the container's own mounts (`/proc`, `/dev`,
`/etc/hosts`, ...) are not changes: Docker keeps those in a hidden "init" layer,
so they never show in `diff` or end up in a committed image.

Directories are reported as changed when their mode or owner changed or anything
below them did (their mtime alone moves whenever a mount point is made in them).
The layer tar has every changed entry with its real metadata, each directory
before its content, deletions as `.wh.NAME` files and replaced directories marked
with `.wh..wh..opq`: the format `image/tarsafe.py` unpacks.
"""

from __future__ import annotations

import os
import stat

from .lookup import _entry, _is_whiteout, _opaque
from ..image.tarsafe import OPAQUE_MARKER, WHITEOUT_PREFIX

ADDED, CHANGED, DELETED = "A", "C", "D"
# xattrs a layer keeps (what tarsafe applies); trusted.* belongs to overlayfs itself
_XATTRS = ("user.", "security.capability")


class Change:
    """One changed path. `real` is where its content lies now (None when deleted);
    `opaque`: a directory that hides everything the lower layers had under it."""

    __slots__ = ("kind", "path", "real", "st", "opaque")

    def __init__(self, kind: str, path: str, real: str | None, st: os.stat_result | None,
                 opaque: bool = False) -> None:
        self.kind = kind
        self.path = path
        self.real = real
        self.st = st
        self.opaque = opaque

    def __repr__(self) -> str:
        return f"{self.kind} {self.path}"


def _skipped(rel: str, skip: tuple[str, ...]) -> bool:
    return any(rel == s or rel.startswith(s + "/") for s in skip)


def _norm_skip(skip) -> tuple[str, ...]:
    return tuple(p.strip("/") for p in skip if p.strip("/"))


# ---- overlay2 -----------------------------------------------------------------

def overlay_changes(upper: str, lower: list[str], skip=()) -> list[Change]:
    """The changes in an overlay upper dir over the `lower` layer dirs (top first)."""
    out: list[Change] = []
    _overlay_dir(upper, "", lower, _norm_skip(skip), False, out)
    return out


def _overlay_dir(upper: str, rel: str, lower: list[str], skip, under_opaque: bool,
                 out: list[Change]) -> bool:
    """Append the changes below `rel`; True if there were any."""
    d = f"{upper}/{rel}" if rel else upper
    try:
        names = sorted(os.listdir(d))
    except (FileNotFoundError, NotADirectoryError):
        return False
    found = False
    for name in names:
        child = f"{rel}/{name}" if rel else name
        if _skipped(child, skip):
            continue
        real = f"{d}/{name}"
        st = os.lstat(real)
        below = None if under_opaque else _entry(lower, child.split("/"))
        if _is_whiteout(st):
            if below is not None:
                out.append(Change(DELETED, "/" + child, None, None))
                found = True
            continue  # a whiteout over nothing (created then deleted): no change
        if stat.S_ISDIR(st.st_mode):
            opaque = _opaque(real)
            mark = len(out)
            if opaque and below is not None:
                out.append(Change(DELETED, "/" + child, None, None))  # Docker lists it so
                out.append(Change(ADDED, "/" + child, real, st, opaque=True))
                _overlay_dir(upper, child, lower, skip, True, out)
                found = True
                continue
            kind = ADDED if below is None else CHANGED
            out.append(Change(kind, "/" + child, real, st, opaque=opaque))
            inner = _overlay_dir(upper, child, lower, skip, under_opaque or opaque, out)
            if kind == CHANGED and not inner and _same_dir(st, below[1]):
                del out[mark]  # only there as the parent of a mount point
                continue
            found = True
            continue
        out.append(Change(ADDED if below is None else CHANGED, "/" + child, real, st))
        found = True
    return found


def _same_dir(a: os.stat_result, b: os.stat_result) -> bool:
    return (stat.S_ISDIR(b.st_mode) and stat.S_IMODE(a.st_mode) == stat.S_IMODE(b.st_mode)
            and a.st_uid == b.st_uid and a.st_gid == b.st_gid)


# ---- vfs ----------------------------------------------------------------------

def merged_layers(layers: list[str], whiteouts: str = "aufs") -> dict[str, tuple[str, os.stat_result]]:
    """The merged view of layer dirs, bottom first: relative path -> (real path,
    lstat). `whiteouts`: the layers' format, "aufs" (the tar's own `.wh.` files, as
    the vfs driver stores them) or "overlay" (0/0 devices, the opaque xattr)."""
    merged: dict[str, tuple[str, os.stat_result]] = {}
    overlay = whiteouts == "overlay"

    def drop(prefix: str) -> None:
        for k in [k for k in merged if k == prefix or k.startswith(prefix + "/")]:
            del merged[k]

    def walk(layer: str, rel: str) -> None:
        d = f"{layer}/{rel}" if rel else layer
        names = sorted(os.listdir(d))
        if (overlay and rel and _opaque(d)) or (not overlay and OPAQUE_MARKER in names):
            for k in [k for k in merged if k.startswith(rel + "/")]:
                del merged[k]
        for name in names:
            child = f"{rel}/{name}" if rel else name
            if not overlay and name == OPAQUE_MARKER:
                continue
            if not overlay and name.startswith(WHITEOUT_PREFIX):
                drop(f"{rel}/{name[len(WHITEOUT_PREFIX):]}" if rel else name[len(WHITEOUT_PREFIX):])
                continue
            st = os.lstat(f"{d}/{name}")
            if overlay and _is_whiteout(st):
                drop(child)
                continue
            old = merged.get(child)
            if old is not None and stat.S_ISDIR(old[1].st_mode) and not stat.S_ISDIR(st.st_mode):
                drop(child)
            merged[child] = (f"{d}/{name}", st)
            if stat.S_ISDIR(st.st_mode):
                walk(layer, child)

    for layer in layers:
        walk(layer, "")
    return merged


def copy_changes(rootfs: str, layers: list[str], skip=()) -> list[Change]:
    """The changes of a full copy (`rootfs`) against its layers (bottom first)."""
    skip = _norm_skip(skip)
    base = merged_layers(layers)
    children: dict[str, set[str]] = {}
    for k in base:
        parent, _, name = k.rpartition("/")
        children.setdefault(parent, set()).add(name)
    out: list[Change] = []
    _copy_dir(rootfs, "", base, children, skip, out)
    return out


def _same_entry(a: os.stat_result, b: os.stat_result, pa: str, pb: str) -> bool:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return False
    if (stat.S_IMODE(a.st_mode), a.st_uid, a.st_gid) != (stat.S_IMODE(b.st_mode), b.st_uid, b.st_gid):
        return False
    if stat.S_ISDIR(a.st_mode):
        return True
    if a.st_size != b.st_size or a.st_mtime_ns != b.st_mtime_ns or a.st_rdev != b.st_rdev:
        return False
    if stat.S_ISLNK(a.st_mode):
        return os.readlink(pa) == os.readlink(pb)
    return True


def _copy_dir(rootfs: str, rel: str, base: dict, children: dict, skip, out: list[Change]) -> bool:
    d = f"{rootfs}/{rel}" if rel else rootfs
    names = sorted(os.listdir(d))
    found = False
    prefix = rel + "/" if rel else ""
    events = [(g, "gone") for g in children.get(rel, set()) - set(names)]  # (name, what)
    events += [(n, "live") for n in names]
    events.sort()
    for name, what in events:
        child = prefix + name
        if _skipped(child, skip):
            continue
        if what == "gone":
            out.append(Change(DELETED, "/" + child, None, None))
            found = True
            continue
        real = f"{d}/{name}"
        st = os.lstat(real)
        below = base.get(child)
        if below is None:
            out.append(Change(ADDED, "/" + child, real, st))
            if stat.S_ISDIR(st.st_mode):
                _copy_dir(rootfs, child, {}, {}, skip, out)
            found = True
            continue
        if stat.S_ISDIR(st.st_mode) and stat.S_ISDIR(below[1].st_mode):
            mark = len(out)
            out.append(Change(CHANGED, "/" + child, real, st))
            inner = _copy_dir(rootfs, child, base, children, skip, out)
            if not inner and _same_entry(st, below[1], real, below[0]):
                del out[mark]
                continue
            found = True
            continue
        if not _same_entry(st, below[1], real, below[0]):
            if stat.S_ISDIR(st.st_mode) or stat.S_ISDIR(below[1].st_mode):
                # a directory became something else, or the reverse: the old one goes whole
                out.append(Change(CHANGED, "/" + child, real, st, opaque=stat.S_ISDIR(st.st_mode)))
                if stat.S_ISDIR(st.st_mode):
                    _copy_dir(rootfs, child, {}, {}, skip, out)
            else:
                out.append(Change(CHANGED, "/" + child, real, st))
            found = True
    return found


def listing(changes: list[Change]) -> list[tuple[str, str]]:
    """(kind, path) as `docker diff` prints them: a directory that was replaced
    wholesale shows as deleted, its new content as added."""
    deleted = {c.path for c in changes if c.kind == DELETED}
    return [(c.kind, c.path) for c in changes
            if not (c.kind != DELETED and c.opaque and c.path in deleted)]


# ---- the layer tar ------------------------------------------------------------

def write_layer(changes: list[Change], out) -> int:
    """Write `changes` as an uncompressed layer tar to the binary stream `out`;
    returns the bytes of file content."""
    import tarfile

    total = 0
    replaced = {c.path for c in changes if c.kind != DELETED}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for c in changes:
            name = c.path.lstrip("/")
            if c.kind == DELETED:
                if c.path in replaced:
                    continue  # a directory made anew: its opaque marker says it all
                parent, _, base = name.rpartition("/")
                ti = tarfile.TarInfo((parent + "/" if parent else "") + WHITEOUT_PREFIX + base)
                ti.mtime = 0
                ti.mode = 0o644
                tf.addfile(ti)
                continue
            total += add_entry(tf, c.real, name, c.st)
            if c.opaque and stat.S_ISDIR(c.st.st_mode):
                ti = tarfile.TarInfo(f"{name}/{OPAQUE_MARKER}")
                ti.mtime = 0
                ti.mode = 0o644
                tf.addfile(ti)
    return total


def add_entry(tf, real: str, arcname: str, st: os.stat_result | None = None,
              owner: tuple[int, int] | None = None, mode: int | None = None) -> int:
    """Add one file-system entry (never following a symlink) to a tar; returns the
    bytes of content added. `owner` and `mode` replace the entry's own. Sockets are
    skipped, as tar has no place for them."""
    import tarfile

    ti = tf.gettarinfo(real, arcname=arcname)
    if ti is None:
        return 0
    if owner is not None:
        ti.uid, ti.gid = owner
    if mode is not None and ti.type != tarfile.SYMTYPE:
        ti.mode = mode
    ti.uname = ti.gname = ""  # numeric ownership: the host's names mean nothing inside
    pax = _xattrs(real)
    if pax:
        ti.pax_headers = pax
    if ti.type == tarfile.REGTYPE:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            tf.addfile(ti, f)
        return ti.size
    tf.addfile(ti)
    return 0


def _xattrs(path: str) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in names:
        if n.startswith(_XATTRS):
            try:
                out["SCHILY.xattr." + n] = os.getxattr(path, n, follow_symlinks=False).decode(
                    "utf-8", "surrogateescape")
            except OSError:
                pass
    return out
