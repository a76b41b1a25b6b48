"""`system prune`, `container prune`, `image prune`: remove what nothing needs and
report the bytes it gave back."""

from __future__ import annotations

from ..core.files import disk_usage
from ..errors import DockyardError


def prune_containers(engine) -> tuple[list[str], int]:
    cs = engine._containers()
    removed, freed = [], 0
    for c in cs.list(all=True):
        if c.state not in ("created", "exited"):
            continue
        size = disk_usage(engine.layout.container(c.id))
        try:
            cs.remove(c, force=False)
        except DockyardError:
            continue  # started or removed meanwhile
        removed.append(c.id)
        freed += size
    return removed, freed


def prune_images(engine, all: bool = False) -> tuple[list[tuple[str, str]], int]:
    """Dangling images (no tag), or with `all` every image no container uses."""
    from .images import delete_image_files

    db = engine.db
    used = {r[0] for r in db.all("SELECT DISTINCT image_id FROM containers")}
    out: list[tuple[str, str]] = []
    freed = 0
    for img, tags in engine.images():
        if img.id in used or (tags and not all):
            continue
        from ..oci import reference

        for t in tags:
            out.append(("untagged", reference.familiar(t)))
        freed += delete_image_files(engine, img.id, img.manifest, img.layers)
        out.append(("deleted", img.id))
    return out, freed
