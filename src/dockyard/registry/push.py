"""`push`: an image from the store to a registry.

Only what the registry lacks is sent: each blob is checked with HEAD first, and
mounted from another repository of the same registry that holds the image, where
the registry allows it, before it is uploaded. Layers stored uncompressed (from
`load` or `import`) are gzip-compressed once, deterministically, and the image's
manifest then refers to the compressed blobs, so pushing again sends the same
digests. A pulled layer's blob is not kept: where the registry lacks it, the
layer's tar is rebuilt from its files and gzip-compressed the same way, so (as
with Docker) the pushed layer, and the manifest, get new digests.
"""

from __future__ import annotations

import gzip
import json
import threading

from ..errors import ImageNotFound
from ..oci import mediatypes
from ..oci.reference import Reference
from .client import RegistryClient
from .pull import Progress

PARALLEL = 5  # Docker's max-concurrent-uploads
_UNCOMPRESSED = {mediatypes.OCI_LAYER: mediatypes.OCI_LAYER_GZIP,
                 mediatypes.DOCKER_LAYER: mediatypes.DOCKER_LAYER_GZIP,
                 mediatypes.OCI_LAYER_NONDIST: mediatypes.OCI_LAYER_NONDIST_GZIP}


class _BlobSink:
    """A file-like writer into a BlobWriter, for gzip.GzipFile."""

    def __init__(self, w) -> None:
        self.w = w

    def write(self, b) -> int:
        self.w.write(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass


def _gzip_type(media_type: str) -> str:
    if media_type in _UNCOMPRESSED:
        return _UNCOMPRESSED[media_type]
    return media_type if media_type.endswith("gzip") else mediatypes.OCI_LAYER_GZIP


def _compress(ing, source) -> tuple[str, int, bool]:
    """gzip a layer's tar (a stored blob's digest, or a stream) into a new blob
    (mtime 0: the same bytes every time); returns (digest, size, whether the blob
    is new)."""
    w = ing.blobs.writer()
    try:
        with (ing.blobs.open(source) if isinstance(source, str) else source) as src, \
                gzip.GzipFile(fileobj=_BlobSink(w), mode="wb", mtime=0, compresslevel=6, filename="") as gz:
            while chunk := src.read(1 << 20):
                gz.write(chunk)
        size = w.size
        new = "sha256:" + w.hash.hexdigest()
        if ing.blobs.exists(new):
            return new, size, False
        new = w.commit()
    finally:
        w.abort()
    return new, size, True


def push(engine, ref: Reference, progress: Progress | None = None,
         client: RegistryClient | None = None) -> tuple[str, int, bool]:
    """Push the image tagged `ref`; returns (manifest digest, manifest size, whether
    its layers were compressed for it: the old blobs are then garbage)."""
    progress = progress or Progress()
    img = engine._images().by_tag(str(ref))
    if img is None:
        raise ImageNotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
    client = client or RegistryClient(ref.domain)
    progress.status(f"The push refers to repository [{ref.name if ref.domain != 'docker.io' else ref.name}]")
    with engine._ingest() as ing:
        manifest, diff_ids = ing.manifest_layers(img, ref.familiar)
        # layers whose blob the store did not keep (pulled ones): sent from the blob
        # they were unpacked from, or rebuilt (None), only if the registry lacks them
        missing: dict[int, tuple[str, dict | None]] = {}
        for d, diff_id in zip(manifest["layers"], diff_ids):
            source = ing.layer_source(d, diff_id)
            if source is not d:
                missing[id(d)] = (diff_id, source)
        plain = [d for d in manifest["layers"]
                 if id(d) not in missing and (d.get("mediaType") or mediatypes.OCI_LAYER) in _UNCOMPRESSED]
        for d in plain:
            progress.layer(d["digest"][7:19], "Compressing")
        from ..core import workers

        done = workers.run([(lambda report, digest=d["digest"]: _compress(ing, digest)) for d in plain], PARALLEL)
        for d, (digest, size, new) in zip(plain, done):
            d["digest"], d["size"] = digest, size
            d["mediaType"] = _UNCOMPRESSED[d.get("mediaType") or mediatypes.OCI_LAYER]
            if new:
                ing._new_blobs.append(digest)
        changed = [bool(plain)]
        sources = [name.split("/", 1)[1] for (name,) in engine.db.all(
            "SELECT name FROM repo_digests WHERE image_id=? AND name LIKE ? AND name != ?",
            (img.id, ref.domain + "/%", ref.name))]
        errors: list[BaseException] = []
        lock = threading.Lock()
        sem = threading.Semaphore(PARALLEL)
        repo = ref.path

        def send(desc: dict, is_layer: bool) -> None:
            digest, size = desc["digest"], int(desc.get("size") or 0)
            lid = digest[7:19]
            try:
                with sem:
                    if errors:
                        return
                    if client.blob_exists(repo, digest):
                        if is_layer:
                            progress.layer(lid, "Layer already exists")
                        return
                    for src in sources:
                        if client.mount_blob(repo, digest, src):
                            if is_layer:
                                progress.layer(lid, f"Mounted from {src}")
                            return
                    if id(desc) in missing:
                        diff_id, source = missing[id(desc)]
                        progress.layer(lid, "Compressing")
                        if source is None:
                            digest, size, new = _compress(ing, ing.layers.tar(diff_id))
                        elif (source.get("mediaType") or mediatypes.OCI_LAYER) in _UNCOMPRESSED:
                            digest, size, new = _compress(ing, source["digest"])
                        else:
                            digest, size, new = source["digest"], int(source["size"]), False
                        if new:
                            ing._new_blobs.append(digest)
                        desc.update(digest=digest, size=size,
                                    mediaType=_gzip_type((source or desc).get("mediaType") or mediatypes.OCI_LAYER))
                        changed[0] = True
                        if client.blob_exists(repo, digest):
                            progress.layer(lid, "Layer already exists")
                            return
                    if is_layer:
                        progress.layer(lid, "Pushing", 0, size)
                    with ing.blobs.open(digest) as f:
                        client.upload_blob(repo, digest, _Reporting(f, lid, size, progress if is_layer else None),
                                           ing.blobs.size(digest))
                    if is_layer:
                        progress.layer(lid, "Pushed")
            except BaseException as e:
                with lock:
                    errors.append(e)

        for d in manifest["layers"]:
            progress.layer(d["digest"][7:19], "Preparing")
        threads = [threading.Thread(target=send, args=(d, True), daemon=True) for d in manifest["layers"]]
        threads.append(threading.Thread(target=send, args=(manifest["config"], False), daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        changed = changed[0]
        data = json.dumps(manifest, separators=(",", ":")).encode() if changed else ing.blobs.read(img.manifest)
        media_type = manifest.get("mediaType") or mediatypes.OCI_MANIFEST
        digest = client.put_manifest(repo, ref.tag or "latest", data, media_type)
        new_manifest = ing.blob(data)
        with engine.db.write() as conn:
            conn.execute("UPDATE images SET manifest=? WHERE id=?", (new_manifest, img.id))
            conn.execute("INSERT OR REPLACE INTO repo_digests (name, digest, image_id) VALUES (?,?,?)",
                         (ref.name, digest, img.id))
        ing._new_blobs.clear()  # all referenced now
    return digest, len(data), changed


class _Reporting:
    def __init__(self, f, lid: str, size: int, progress: Progress | None) -> None:
        self.f = f
        self.lid = lid
        self.size = size
        self.done = 0
        self.progress = progress

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.done += len(b)
        if self.progress is not None and b:
            self.progress.layer(self.lid, "Pushing", self.done, self.size)
        return b
