"""Removing images: untag, then delete what no tag and no container needs any more
(the image row, its config and manifest blobs, and its layers and layer blobs that
no other image uses)."""

from __future__ import annotations

import os

from ..errors import Conflict, ImageNotFound, InvalidArgument
from ..oci import reference


def delete_image_files(engine, image_id: str, manifest: str | None, diff_ids: list[str]) -> int:
    """Remove an image's rows, then sweep what nothing references any more; returns
    the bytes freed."""
    with engine.db.write() as conn:
        conn.execute("DELETE FROM tags WHERE image_id=?", (image_id,))
        conn.execute("DELETE FROM repo_digests WHERE image_id=?", (image_id,))
        conn.execute("DELETE FROM images WHERE id=?", (image_id,))
    return collect_garbage(engine)


def collect_garbage(engine) -> int:
    """Mark and sweep: every blob and unpacked layer that no stored image reaches
    (through its config, manifest and layer list) is removed. Ingests in progress
    hold the GC lock shared, so what they are writing is never swept."""
    import json
    import os

    from ..image.ingest import gc_lock
    from ..image.layers import LayerStore
    from ..store.blobs import BlobStore

    blobs = BlobStore(engine.layout.blobs)
    layers = LayerStore(engine.layout.layers, engine._snapshotter().whiteouts)
    freed = 0
    with gc_lock(engine.layout.root, exclusive=True):
        rows = engine.db.all("SELECT id, manifest, layers FROM images")
        keep_blobs: set[str] = set()
        keep_layers: set[str] = set()
        for image_id, manifest, diff_ids in rows:
            keep_blobs.add(image_id)
            keep_layers.update(diff_ids.split())
            if manifest:
                keep_blobs.add(manifest)
                try:
                    doc = json.loads(blobs.read(manifest))
                    keep_blobs.update(d["digest"] for d in doc.get("layers") or [])
                except Exception:
                    pass  # a damaged manifest: keep what we can tell, never guess
        from ..build.cache import roots  # the build cache's layers are roots too

        cache_blobs, cache_layers = roots(engine.db)
        keep_blobs |= cache_blobs
        keep_layers |= cache_layers
        with engine.db.write() as conn:
            for (d,) in conn.execute("SELECT diff_id FROM layers").fetchall():
                if d not in keep_layers:
                    conn.execute("DELETE FROM layers WHERE diff_id=?", (d,))
        for digest in blobs.digests():
            if digest not in keep_blobs:
                freed += blobs.remove(digest)
        # with the lock held exclusively no ingest is running: what they left is debris
        from ..core.files import rmtree

        for debris in (f"{engine.layout.blobs}/ingest", f"{engine.layout.layers}/ingest",
                       f"{engine.layout.root}/tmp"):
            try:
                for name in os.listdir(debris):
                    rmtree(f"{debris}/{name}")
            except FileNotFoundError:
                pass
        try:
            names = os.listdir(engine.layout.layers)
        except FileNotFoundError:
            names = []
        for name in names:
            if len(name) == 64 and "sha256:" + name not in keep_layers:
                freed += layers.remove("sha256:" + name)
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
        _image_event(engine, "untag", img.id)
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
        for _ in tags:
            _image_event(engine, "untag", img.id)
        return out
    for _ in tags:
        _image_event(engine, "untag", img.id)
    _image_event(engine, "delete", img.id)  # labels read before the files go
    delete_image_files(engine, img.id, img.manifest, img.layers)
    out.append(("Deleted", img.id))
    return out


def _image_event(engine, action: str, actor: str, name: str | None = None, image_id: str | None = None) -> None:
    """An image event, as Docker logs it (services/events.py)."""
    from .events import record_image

    record_image(engine, action, actor, actor if name is None else name, image_id)


def tag(engine, source: str, target: str) -> None:
    from ..core.clock import now_ns

    img = engine._images().lookup(source)
    ref = reference.parse(target)
    if ref.digest:
        raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
    with engine.db.write() as conn:
        engine._images().tag(conn, img.id, str(ref), now_ns())
    _image_event(engine, "tag", img.id, ref.familiar)


def history(engine, text: str) -> list[dict]:
    """The image's history, newest first: one entry per build step, with the size
    of the layer it made (0 for steps that only changed the config)."""
    import json

    from ..store.blobs import BlobStore

    img = engine._images().lookup(text)
    config = json.loads(BlobStore(engine.layout.blobs).read(img.id))
    sizes = {d: s for d, s in engine.db.all(
        f"SELECT diff_id, size FROM layers WHERE diff_id IN ({','.join('?' * len(img.layers))})",
        tuple(img.layers))} if img.layers else {}
    entries = config.get("history") or [{"created": config.get("created", ""), "created_by": ""}] * len(img.layers)
    out = []
    layers = iter(img.layers)
    for i, h in enumerate(entries):
        empty = bool(h.get("empty_layer"))
        diff_id = None if empty else next(layers, None)
        out.append({"Id": "<missing>", "Created": h.get("created", ""), "CreatedBy": h.get("created_by", ""),
                    "Size": sizes.get(diff_id, 0) if diff_id else 0, "Comment": h.get("comment", ""),
                    "Tags": None})
    out.reverse()
    if out:
        out[0]["Id"] = img.id
        out[0]["Tags"] = [reference.familiar(t) for t in engine._images().tags_of(img.id)] or None
    return out


def save(engine, refs: list[str], out) -> None:
    from ..image.save import save as write

    images = engine._images()
    chosen: dict[str, tuple] = {}
    for text in refs:
        img = images.lookup(text)
        tags = chosen.get(img.id, (img, []))[1]
        try:
            r = reference.parse(text)
            if str(r) in images.tags_of(img.id):
                tags.append(str(r))
        except InvalidArgument:
            pass
        if not tags and not text.startswith("sha256:") and not img.id[7:].startswith(text):
            tags.extend(images.tags_of(img.id))
        chosen[img.id] = (img, tags)
    with engine._ingest() as ing:  # (its shared gc lock: nothing is swept meanwhile)
        write(list(chosen.values()), ing, out)
    for image_id in chosen:
        _image_event(engine, "save", image_id)


__all__ = ["remove_image", "delete_image_files", "collect_garbage", "tag", "history", "save", "ImageNotFound"]
