"""`save`: images to a tar that both `docker load` and OCI tools read.

The layout is Docker 25's: an OCI image layout (`oci-layout`, `index.json`,
`blobs/sha256/...`) plus `manifest.json`, the docker-archive index, naming the same
blobs. Layers are written as stored (gzip or plain tar); loaders detect which.
"""

from __future__ import annotations

import io
import json
import tarfile
import time

from ..errors import InvalidImage
from ..oci import mediatypes, reference


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = mtime
    ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(data))


def save(images: list[tuple[object, list[str]]], blobs, out) -> None:
    """Write `images` ([(Image, full tags to record)]) as one archive to `out`."""
    mtime = time.time()
    written: set[str] = set()
    docker_manifest = []
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        dir_info = tarfile.TarInfo("blobs")
        dir_info.type, dir_info.mode, dir_info.mtime = tarfile.DIRTYPE, 0o755, mtime
        tf.addfile(dir_info)
        dir_info.name = "blobs/sha256"
        tf.addfile(dir_info)

        def add_blob(digest: str) -> str:
            name = "blobs/sha256/" + digest[7:]
            if digest not in written:
                ti = tarfile.TarInfo(name)
                ti.size = blobs.size(digest)
                ti.mtime, ti.mode = mtime, 0o644
                with blobs.open(digest) as f:
                    tf.addfile(ti, f)
                written.add(digest)
            return name

        for img, tags in images:
            if not img.manifest:
                raise InvalidImage(f"image {img.id} has no manifest in the store")
            manifest_bytes = blobs.read(img.manifest)
            manifest = json.loads(manifest_bytes)
            config_name = add_blob(manifest["config"]["digest"])
            layer_names = [add_blob(d["digest"]) for d in manifest.get("layers") or []]
            add_blob(img.manifest)
            docker_manifest.append({"Config": config_name,
                                    "RepoTags": [reference.familiar(t) for t in tags] or None,
                                    "Layers": layer_names})
            desc = {"mediaType": manifest.get("mediaType") or mediatypes.OCI_MANIFEST,
                    "digest": img.manifest, "size": len(manifest_bytes)}
            if not tags:
                index["manifests"].append(desc)
            for t in tags:
                r = reference.parse(t)
                index["manifests"].append({**desc, "annotations": {
                    "io.containerd.image.name": str(r), "org.opencontainers.image.ref.name": r.tag or "latest"}})
        _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}', mtime)
        _add_bytes(tf, "index.json", json.dumps(index, separators=(",", ":")).encode(), mtime)
        _add_bytes(tf, "manifest.json", json.dumps(docker_manifest, separators=(",", ":")).encode(), mtime)
