"""Bringing an image into the store all at once, or not at all.

`load`, `import` and the built-in images all end here: blobs are written and
verified, layers unpacked and verified, then one database transaction adds the
image and its tags. If anything fails, what this ingest added (and nothing else)
is removed again, so a failed command leaves the store as it was.
"""

from __future__ import annotations

import os

from ..core.clock import now_ns
from ..core.jsonenc import loads
from ..errors import InvalidImage
from ..oci import mediatypes
from ..store.blobs import BlobStore
from ..store.db import Database
from .images import ImageStore
from .layers import LayerStore


class Ingest:
    def __init__(self, root: str, db, blobs: BlobStore, layers: LayerStore) -> None:
        self.root = root
        self._db = db
        self.blobs = blobs
        self.layers = layers
        self._new_blobs: list[str] = []
        self._new_layers: list[str] = []

    @property
    def db(self) -> Database:
        """`db` may be given as a function that opens it: a pull asks for it only once
        its downloads are under way (opening costs ~7 ms before the first byte)."""
        if callable(self._db):
            self._db = self._db()
        return self._db

    @property
    def images(self) -> ImageStore:
        return ImageStore(self.db)

    def __enter__(self) -> "Ingest":
        self._lock = gc_lock(self.root, exclusive=False)
        self._lock.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self.rollback()
        finally:
            self._lock.__exit__(exc_type, exc, tb)

    def blob(self, data: bytes, expected: str | None = None) -> str:
        digest = expected or "sha256:" + __import__("hashlib").sha256(data).hexdigest()
        if self.blobs.exists(digest):
            return digest
        digest = self.blobs.put(data, expected)
        self._new_blobs.append(digest)
        return digest

    def blob_from(self, f, expected: str | None = None) -> tuple[str, int]:
        """Copy a stream into the store; returns (digest, size)."""
        if expected is not None and self.blobs.exists(expected):
            # still verify what the archive claims, but keep the blob we have
            w = self.blobs.writer(expected)
            try:
                while chunk := f.read(1 << 20):
                    w.hash.update(chunk)
                    w.size += len(chunk)
                got = "sha256:" + w.hash.hexdigest()
                if got != expected:
                    raise InvalidImage(f"digest mismatch: expected {expected}, got {got}")
                return expected, w.size
            finally:
                w.abort()
        w = self.blobs.writer(expected)
        try:
            while chunk := f.read(1 << 20):
                w.write(chunk)
            size = w.size
            if self.blobs.exists("sha256:" + w.hash.hexdigest()):
                return "sha256:" + w.hash.hexdigest(), size
            digest = w.commit()
        finally:
            w.abort()
        self._new_blobs.append(digest)
        return digest, size

    def layer_from_download(self, stream, expected: str, diff_id: str) -> tuple[int, int, bool]:
        """Unpack a layer as it downloads, in one pass over `stream`: the compressed
        bytes are hashed as they are decompressed and extracted, and the layer is
        published only if both the blob's digest and the DiffID match. The blob
        itself is not kept (the layer's tar-split gives its tar back), except for
        zstd, which is unpacked from a stored file. Returns (blob size, unpacked
        size, whether the blob was stored)."""
        from .layers import HashingReader, _Peeked, is_zstd

        peeked = _Peeked(stream)
        if is_zstd(peeked.head) or self.blobs.exists(expected):
            new = not self.blobs.exists(expected)
            digest, size = self.blob_from(peeked, expected)
            return size, self.layer(digest, diff_id), new
        blob = HashingReader(peeked)
        new_layer = not self.layers.present(diff_id)

        def check() -> None:
            while blob.read(1 << 20):  # anything after the compressed stream counts too
                pass
            got = blob.digest()
            if got != expected:
                raise InvalidImage(f"digest mismatch: expected {expected}, got {got}")

        try:
            unpacked = self.layers.unpack(blob, diff_id, finish=check)
        except InvalidImage:
            # a damaged blob usually breaks the decompression first: say what it is
            try:
                check()
            except InvalidImage:
                raise
            except Exception:
                pass
            raise
        if new_layer:
            self._new_layers.append(diff_id)
        return blob.size, unpacked, False

    def manifest_layers(self, img, name: str) -> tuple[dict, list[str]]:
        """A stored image's manifest and the DiffIDs of its layers, in its order
        (what `push` and `save` walk); `name` is how errors call the image."""
        from ..core.jsonenc import loads

        manifest = loads(self.blobs.read(img.manifest)) if img.manifest else None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
            raise InvalidImage(f"image {name} has no manifest in the store")
        diff_ids = (loads(self.blobs.read(img.id)).get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(manifest["layers"]):
            raise InvalidImage(f"image {name}: its config and manifest list different layers")
        return manifest, diff_ids

    def layer_source(self, desc: dict, diff_id: str) -> dict | None:
        """A descriptor of a stored blob that carries a manifest's layer: the
        manifest's own, or the one the layer was unpacked from (another image's, a
        load's, say); None when the layer's tar is to be rebuilt from its files (a
        pulled layer, whose blob was not kept: LayerStore.tar)."""
        if self.blobs.exists(desc["digest"]):
            return desc
        if self.layers.rebuildable(diff_id):
            return None
        row = self.db.one("SELECT blob, media_type FROM layers WHERE diff_id=?", (diff_id,))
        if row and row[0] and self.blobs.exists(row[0]):
            return {"mediaType": row[1], "digest": row[0], "size": self.blobs.size(row[0])}
        raise InvalidImage(f"layer {diff_id} is neither stored as a blob nor rebuildable: pull the image again")

    def layer(self, blob_digest: str, diff_id: str) -> int:
        """Unpack a stored layer blob; returns its unpacked size."""
        new = not self.layers.present(diff_id)
        with self.blobs.open(blob_digest) as f:
            size = self.layers.unpack(f, diff_id)
        if new:
            self._new_layers.append(diff_id)
        return size

    def commit(self, config_bytes: bytes, layer_blobs: list[tuple[str, int, str]],
               tags: list[str], sizes: list[int], manifest_bytes: bytes | None = None,
               repo_digests: list[tuple[str, str]] = ()) -> tuple[str, list[tuple[str, str]]]:
        """Store config and manifest and add the image with its tags.

        `layer_blobs` is (digest, size, media type) per layer; `manifest_bytes` the
        manifest as a registry served it (else one is written); `repo_digests`
        (repository, digest) pairs it is known by. Returns the image id and, for each
        tag that moved, (tag, the image it pointed at before).
        """
        try:
            config = loads(config_bytes)
        except ValueError as e:
            raise InvalidImage(f"image config is not valid JSON: {e}") from None
        if not isinstance(config, dict):
            raise InvalidImage("image config is not a JSON object")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layer_blobs):
            raise InvalidImage(f"image config lists {len(diff_ids)} layers, the image has {len(layer_blobs)}")
        image_id = self.blob(config_bytes)
        if manifest_bytes is None:
            manifest = {
                "schemaVersion": 2,
                "mediaType": mediatypes.OCI_MANIFEST,
                "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": image_id, "size": len(config_bytes)},
                "layers": [{"mediaType": mt, "digest": d, "size": s} for d, s, mt in layer_blobs],
            }
            import json

            manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
        manifest_digest = self.blob(manifest_bytes)
        now = now_ns()
        moved = []
        with self.db.write() as conn:
            for d, (blob, _, mt) in zip(diff_ids, layer_blobs):
                conn.execute("INSERT OR IGNORE INTO layers (diff_id, size, blob, media_type) VALUES (?,?,?,?)",
                             (d, sizes[diff_ids.index(d)], blob, mt))
            self.images.add(conn, config, image_id, sum(sizes), manifest_digest, now)
            for name, digest in repo_digests:
                conn.execute("INSERT OR REPLACE INTO repo_digests (name, digest, image_id) VALUES (?,?,?)",
                             (name, digest, image_id))
            for t in tags:
                old = self.images.tag(conn, image_id, t, now)
                if old:
                    moved.append((t, old))
        self._new_blobs.clear()
        self._new_layers.clear()
        return image_id, moved

    def rollback(self) -> None:
        for d in self._new_layers:
            try:
                self.layers.remove(d)
            except OSError:
                pass
        for b in self._new_blobs:
            self.blobs.remove(b)
        self._new_layers.clear()
        self._new_blobs.clear()


class gc_lock:
    """flock on <root>/gc.lock: shared while an ingest writes blobs and layers that no
    image references yet, exclusive while garbage collection sweeps."""

    def __init__(self, root: str, exclusive: bool) -> None:
        self.path = root + "/gc.lock"
        self.exclusive = exclusive
        self.fd = -1

    def __enter__(self) -> "gc_lock":
        import fcntl

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def scratch_dir(root: str) -> str:
    """A private temporary directory on the store's file system (for spooling)."""
    d = f"{root}/tmp/{os.urandom(8).hex()}"
    os.makedirs(d, mode=0o700)
    return d
