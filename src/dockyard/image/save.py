"""`save`: images to a tar that both `docker load` and OCI tools read.

The layout is Docker 25's: an OCI image layout (`oci-layout`, `index.json`,
`blobs/sha256/...`) plus `manifest.json`, the docker-archive index, naming the same
blobs. Layers are written as stored (gzip or plain tar; loaders detect which);
a pulled layer, whose blob was not kept, as its tar rebuilt from its files (as
Docker writes every layer), named by its DiffID, and its image's manifest then
names that tar instead (a manifest of its own, with a digest of its own).
"""

from __future__ import annotations

import io
import json
import tarfile
import time

from ..oci import mediatypes, reference


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = mtime
    ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(data))


def save(images: list[tuple[object, list[str]]], ing, out) -> None:
    """Write `images` ([(Image, full tags to record)]) from the store of `ing` (an
    Ingest: its blobs and layers) as one archive to `out`."""
    from ..oci.digest import of_bytes

    blobs = ing.blobs
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

        def add_tar(diff_id: str, tar) -> str:
            name = "blobs/sha256/" + diff_id[7:]
            if diff_id not in written:
                ti = tarfile.TarInfo(name)
                ti.size = tar.size
                ti.mtime, ti.mode = mtime, 0o644
                with tar:
                    tf.addfile(ti, tar)
                written.add(diff_id)
            return name

        for img, tags in images:
            manifest, diff_ids = ing.manifest_layers(img, img.id)
            manifest_bytes = blobs.read(img.manifest)
            manifest_digest = img.manifest
            config_name = add_blob(manifest["config"]["digest"])
            layers = manifest["layers"]
            tar_type = (mediatypes.DOCKER_LAYER if manifest.get("mediaType") == mediatypes.DOCKER_MANIFEST
                        else mediatypes.OCI_LAYER)
            layer_names = []
            changed = False
            for d, diff_id in zip(layers, diff_ids):
                source = ing.layer_source(d, diff_id)
                if source is None:
                    tar = ing.layers.tar(diff_id)
                    layer_names.append(add_tar(diff_id, tar))
                    d.update(mediaType=tar_type, digest=diff_id, size=tar.size)
                else:
                    layer_names.append(add_blob(source["digest"]))
                    if source is not d:
                        d.update(source)
                changed = changed or source is not d
            if changed:
                manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
                manifest_digest = of_bytes(manifest_bytes)
                if manifest_digest not in written:
                    _add_bytes(tf, "blobs/sha256/" + manifest_digest[7:], manifest_bytes, mtime)
                    written.add(manifest_digest)
            else:
                add_blob(img.manifest)
            docker_manifest.append({"Config": config_name,
                                    "RepoTags": [reference.familiar(t) for t in tags] or None,
                                    "Layers": layer_names})
            desc = {"mediaType": manifest.get("mediaType") or mediatypes.OCI_MANIFEST,
                    "digest": manifest_digest, "size": len(manifest_bytes)}
            if not tags:
                index["manifests"].append(desc)
            for t in tags:
                r = reference.parse(t)
                index["manifests"].append({**desc, "annotations": {
                    "io.containerd.image.name": str(r), "org.opencontainers.image.ref.name": r.tag or "latest"}})
        _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}', mtime)
        _add_bytes(tf, "index.json", json.dumps(index, separators=(",", ":")).encode(), mtime)
        _add_bytes(tf, "manifest.json", json.dumps(docker_manifest, separators=(",", ":")).encode(), mtime)
