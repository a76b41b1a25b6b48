"""Assembling images from layers and a config: what `commit` and `build` store.

A layer made here is an uncompressed tar (so its blob digest is its DiffID, as for
`import`), spooled to the store's scratch area, stored as a blob and unpacked
through the same verified path as any pulled layer (`Ingest.layer`, which applies
`image/tarsafe.py`'s defences even though the tar is our own: its content came
from a container).
"""

from __future__ import annotations

import json

from ..oci import mediatypes


class LayerRef:
    """One layer of an image being assembled: the blob that carries it and what it
    unpacks to."""

    __slots__ = ("diff_id", "blob", "size", "media_type", "unpacked")

    def __init__(self, diff_id: str, blob: str, size: int, media_type: str, unpacked: int) -> None:
        self.diff_id = diff_id
        self.blob = blob
        self.size = size
        self.media_type = media_type
        self.unpacked = unpacked

    def to_json(self) -> list:
        return [self.diff_id, self.blob, self.size, self.media_type, self.unpacked]

    @classmethod
    def from_json(cls, v: list) -> "LayerRef":
        return cls(*v)


def image_layers(engine, img) -> list[LayerRef]:
    """The layers of a stored image with the blobs its manifest names (or, for an
    image without one, the blobs the layers table remembers)."""
    from ..store.blobs import BlobStore

    blobs = BlobStore(engine.layout.blobs)
    sizes = {d: (s, b, mt) for d, s, b, mt in engine.db.all(
        f"SELECT diff_id, size, blob, media_type FROM layers WHERE diff_id IN ({','.join('?' * len(img.layers))})",
        tuple(img.layers))} if img.layers else {}
    descs: list[dict] = []
    if img.manifest:
        try:
            descs = json.loads(blobs.read(img.manifest)).get("layers") or []
        except (OSError, ValueError):
            descs = []
    out = []
    for i, d in enumerate(img.layers):
        unpacked, blob, mt = sizes.get(d, (0, None, None))
        if len(descs) == len(img.layers):
            blob, mt, size = descs[i]["digest"], descs[i].get("mediaType") or mt, descs[i].get("size") or 0
        else:
            blob = blob or d
            try:
                size = blobs.size(blob)
            except OSError:
                size = 0
        out.append(LayerRef(d, blob, size, mt or mediatypes.OCI_LAYER, unpacked or 0))
    return out


def layer_from_changes(ing, root: str, changes) -> LayerRef:
    """Store `changes` (snapshot.diff.Change list) as a new layer."""
    from ..snapshot.diff import write_layer

    def write(f) -> None:
        write_layer(changes, f)

    return layer_from_writer(ing, root, write)


def layer_from_writer(ing, root: str, write) -> LayerRef:
    """A layer from a function that writes an uncompressed tar to a binary file."""
    from ..core.files import rmtree
    from ..image.ingest import scratch_dir

    tmpdir = scratch_dir(root)
    try:
        path = tmpdir + "/layer.tar"
        with open(path, "wb") as f:
            write(f)
        with open(path, "rb") as f:
            digest, size = ing.blob_from(f)
        unpacked = ing.layer(digest, digest)
    finally:
        rmtree(tmpdir)
    return LayerRef(digest, digest, size, mediatypes.OCI_LAYER, unpacked)


def present(engine, layer: LayerRef) -> bool:
    """Whether a layer's blob and unpacked tree are both still in the store (a
    cache entry whose layer was swept is no use)."""
    from ..image.layers import LayerStore
    from ..store.blobs import BlobStore

    return (BlobStore(engine.layout.blobs).exists(layer.blob)
            and LayerStore(engine.layout.layers, "").present(layer.diff_id))


def store_image(ing, config: dict, layers: list[LayerRef], tags: list[str]) -> tuple[str, list]:
    """Write the config, a manifest and the image row with its tags; returns
    (image id, moved tags) as Ingest.commit does."""
    config = dict(config)
    config["rootfs"] = {"type": "layers", "diff_ids": [l.diff_id for l in layers]}
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    return ing.commit(config_bytes, [(l.blob, l.size, l.media_type) for l in layers], tags,
                      [l.unpacked for l in layers])


def read_config(engine, image_id: str) -> dict:
    from ..store.blobs import BlobStore

    return json.loads(BlobStore(engine.layout.blobs).read(image_id))


def stack(engine, layers: list[str]) -> list[str]:
    """The unpacked layer dirs of `layers` (diff ids, bottom first), top first."""
    root = engine.layout.layers
    return [f"{root}/{d[7:]}/diff" for d in reversed(layers)]


__all__ = ["LayerRef", "image_layers", "layer_from_changes", "layer_from_writer", "present",
           "store_image", "read_config", "stack"]
