"""`export`: a container's root file system as a tar, running or not, read from its
layers without mounting them (snapshot.merge)."""

from __future__ import annotations

import tarfile


def export(engine, ref: str, out) -> None:
    from ..snapshot.merge import walk

    c = engine.container(ref)
    img = engine._images().by_id(c.image_id)
    layers = img.layers if img is not None else []
    stack = engine._snapshotter().stack(engine.layout.container(c.id), layers)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for rel, path, st in walk(stack):
            ti = tf.gettarinfo(path, arcname=rel)
            if ti is None:
                continue  # a socket: tar has no place for it
            if ti.isreg():
                with open(path, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)
