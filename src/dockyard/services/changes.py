"""`diff`: what a container changed in its image, and the same changes as the list
`commit` and `build` turn into a layer (snapshot/diff.py finds them).

Works on running and stopped containers alike: it reads the container's writable
layer (overlay2) or its copy (vfs) on disk, never its mount.
"""

from __future__ import annotations

import os

# always the runtime's own, whatever the spec says: Docker's init layer holds them
RUNTIME_PATHS = ("/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
                 "/.dockerenv")


def mount_points(home: str) -> list[str]:
    """The destinations of the container's mounts (from its bundle's config.json):
    the runtime made them, so they are not the container's changes."""
    out = list(RUNTIME_PATHS)
    try:
        from ..core.jsonenc import loads

        with open(home + "/config.json", "rb") as f:
            spec = loads(f.read())
        out += [m["destination"] for m in spec.get("mounts") or [] if m.get("destination")]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return out


def changes_for(engine, home: str, layers: list[str]):
    """The changes of the container in `home` over `layers` (diff ids, bottom first)."""
    from ..snapshot import diff

    skip = mount_points(home)
    root = engine.layout.layers
    if engine.storage_driver == "overlay2":
        lower = [f"{root}/{d[7:]}/diff" for d in reversed(layers)]
        return diff.overlay_changes(home + "/diff", lower, skip)
    return diff.copy_changes(home + "/rootfs", [f"{root}/{d[7:]}/diff" for d in layers], skip)


def container_changes(engine, c):
    img = engine._images().by_id(c.image_id)
    return changes_for(engine, engine.layout.container(c.id), img.layers if img else [])


def diff(engine, ref: str) -> list[tuple[str, str]]:
    """[(kind, path)]: A added, C changed, D deleted, in Docker's order."""
    from ..snapshot.diff import listing

    c = engine.container(ref)
    if not os.path.isdir(engine.layout.container(c.id)):
        return []
    return listing(container_changes(engine, c))
