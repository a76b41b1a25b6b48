"""Removing images: untag, then delete what no tag and no container needs any more
(the image row, its config and manifest blobs, and its layers and layer blobs that
no other image uses)."""

from __future__ import annotations

from ..errors import Conflict, ImageNotFound, InvalidArgument
from ..oci import reference


def _referenced_layers(conn) -> set[str]:
    used: set[str] = set()
    for (layers,) in conn.execute("SELECT layers FROM images"):
        used.update(layers.split())
    return used


def delete_image_files(engine, image_id: str, manifest: str | None, diff_ids: list[str]) -> int:
    """Remove an image's rows and then its now-unreferenced files; returns bytes freed."""
    from ..image.layers import LayerStore
    from ..store.blobs import BlobStore

    blobs = BlobStore(engine.layout.blobs)
    layers = LayerStore(engine.layout.layers, engine._snapshotter().whiteouts)
    with engine.db.write() as conn:
        conn.execute("DELETE FROM tags WHERE image_id=?", (image_id,))
        conn.execute("DELETE FROM images WHERE id=?", (image_id,))
        used = _referenced_layers(conn)
        gone = [d for d in dict.fromkeys(diff_ids) if d not in used]
        layer_blobs = []
        for d in gone:
            row = conn.execute("SELECT blob FROM layers WHERE diff_id=?", (d,)).fetchone()
            if row and row[0]:
                layer_blobs.append(row[0])
            conn.execute("DELETE FROM layers WHERE diff_id=?", (d,))
        still = {r[0] for r in conn.execute("SELECT blob FROM layers WHERE blob IS NOT NULL")}
        still |= {r[0] for r in conn.execute("SELECT manifest FROM images WHERE manifest IS NOT NULL")}
    freed = 0
    for d in gone:
        freed += layers.remove(d)
    for b in [image_id, manifest, *layer_blobs]:
        if b and b not in still:
            freed += blobs.remove(b)
    return freed


def remove_image(engine, text: str, force: bool) -> list[tuple[str, str]]:
    images = engine._images()
    img = images.lookup(text)
    tags = images.tags_of(img.id)
    out: list[tuple[str, str]] = []
    by_tag = None
    hexpart = text[7:] if text.startswith("sha256:") else text
    if not (text.startswith("sha256:") or img.id[7:].startswith(hexpart)):
        by_tag = str(reference.parse(text))
    elif tags:
        try:
            candidate = str(reference.parse(text))
            if candidate in tags:
                by_tag = candidate
        except InvalidArgument:
            pass
    db = engine.db
    users = db.all("SELECT id, state FROM containers WHERE image_id=?", (img.id,))
    running = [cid for cid, state in users if state in ("running", "starting")]
    if by_tag and (len(tags) > 1 or (users and force)):
        # other names keep the image, or (forced) a container needs it: only the tag goes
        with db.write() as conn:
            conn.execute("DELETE FROM tags WHERE name=?", (by_tag,))
        return [("Untagged", reference.familiar(by_tag))]
    if by_tag and users:
        raise Conflict(f'conflict: unable to remove repository reference "{text}" (must force) - '
                       f"container {users[0][0][:12]} is using its referenced image {img.short_id}")
    if running:
        raise Conflict(f"conflict: unable to delete {img.short_id} (cannot be forced) - image is being "
                       f"used by running container {running[0][:12]}")
    if len(tags) > 1 and not force and not by_tag:
        raise Conflict(f"conflict: unable to delete {img.short_id} (must be forced) - image is "
                       "referenced in multiple repositories")
    if users and not force:
        raise Conflict(f"conflict: unable to delete {img.short_id} (must be forced) - image is being "
                       f"used by stopped container {users[0][0][:12]}")
    for t in tags:
        out.append(("Untagged", reference.familiar(t)))
    if users:
        with db.write() as conn:  # forced: the names go, the image stays for its containers
            conn.execute("DELETE FROM tags WHERE image_id=?", (img.id,))
        return out
    delete_image_files(engine, img.id, img.manifest, img.layers)
    out.append(("Deleted", img.id))
    return out


__all__ = ["remove_image", "delete_image_files", "ImageNotFound"]
