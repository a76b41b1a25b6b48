"""The build cache: which layer a build step made, by the step's cache key.

A step's key is a sha256 over its parent's key, the instruction as it ran (after
variable expansion, with the build args in scope) and, for COPY/ADD, the content of
its sources (see build/builder.py). Only steps that touch the file system (RUN,
COPY, ADD, a WORKDIR that had to create its directory) are stored; the config-only
instructions are recomputed, which costs nothing.

The table is this module's own, created on first use (the store's schema in
store/db.py does not list it, and an older store simply gains it)::

    build_cache  key TEXT PK                 hex sha256 of the step
                 layer TEXT                  JSON [diff_id, blob, size, media type,
                                             unpacked size]; NULL: the step changed no file
                 created TEXT NOT NULL       RFC 3339 time the step ran (its history entry's)
                 used INTEGER NOT NULL       ns of the last build that used it

The layers and blobs it names are garbage-collection roots (`roots`, used by
services/images.collect_garbage), so `rmi` and `image prune` never take a cached
layer; `builder prune` and `system prune` drop the entries, and the sweep that
follows frees whatever no image uses.
"""

from __future__ import annotations

import json

from ..core.clock import now_ns

_SCHEMA = """CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY, layer TEXT, created TEXT NOT NULL, used INTEGER NOT NULL)"""


class Entry:
    __slots__ = ("key", "layer", "created")

    def __init__(self, key: str, layer, created: str) -> None:
        self.key = key
        self.layer = layer  # LayerRef or None
        self.created = created


def _ensure(db) -> None:
    if getattr(db, "_build_cache_ready", False):
        return
    db.execute(_SCHEMA)
    try:
        db._build_cache_ready = True
    except AttributeError:
        pass


def _exists(db) -> bool:
    return db.one("SELECT 1 FROM sqlite_master WHERE type='table' AND name='build_cache'") is not None


def lookup(db, key: str) -> Entry | None:
    from .image import LayerRef

    _ensure(db)
    row = db.one("SELECT layer, created FROM build_cache WHERE key=?", (key,))
    if row is None:
        return None
    layer = LayerRef.from_json(json.loads(row[0])) if row[0] else None
    return Entry(key, layer, row[1])


def touch(db, keys: list[str]) -> None:
    if not keys:
        return
    _ensure(db)
    with db.write() as conn:
        now = now_ns()
        for k in keys:
            conn.execute("UPDATE build_cache SET used=? WHERE key=?", (now, k))


def store(db, key: str, layer, created: str) -> None:
    _ensure(db)
    with db.write() as conn:
        conn.execute("INSERT OR REPLACE INTO build_cache (key, layer, created, used) VALUES (?,?,?,?)",
                     (key, json.dumps(layer.to_json()) if layer is not None else None, created, now_ns()))


def roots(db) -> tuple[set[str], set[str]]:
    """(blob digests, layer diff ids) the cache needs kept."""
    blobs: set[str] = set()
    layers: set[str] = set()
    if not _exists(db):
        return blobs, layers
    for (text,) in db.all("SELECT layer FROM build_cache WHERE layer IS NOT NULL"):
        try:
            v = json.loads(text)
            layers.add(v[0])
            blobs.add(v[1])
        except (ValueError, IndexError, TypeError):
            pass
    return blobs, layers


def entries(db) -> list[tuple[str, int]]:
    """[(key, unpacked size)] of every entry."""
    if not _exists(db):
        return []
    out = []
    for key, text in db.all("SELECT key, layer FROM build_cache"):
        size = 0
        if text:
            try:
                size = int(json.loads(text)[4])
            except (ValueError, IndexError, TypeError):
                pass
        out.append((key, size))
    return out


def prune(engine, all: bool = True) -> tuple[list[str], int]:
    """Drop every cache entry, then sweep what nothing needs any more; returns
    (the keys removed, bytes freed). (`all` is accepted for `builder prune -a`: with
    no daemon there is no running build whose entries must stay.)"""
    from ..services.images import collect_garbage

    db = engine.db
    if not _exists(db):
        return [], 0
    keys = [k for k, _ in entries(db)]
    with db.write() as conn:
        conn.execute("DELETE FROM build_cache")
    freed = collect_garbage(engine)
    return keys, freed
