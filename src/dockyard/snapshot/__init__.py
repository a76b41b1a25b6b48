"""Snapshotters: a container's root file system, made from its image's layers.

A snapshotter prepares a container's writable view of an image and *returns* the
mount that makes it (containerd's design): the runtime performs the mount inside
the container's own mount namespace, so a container that dies leaves no mount
behind on the host, and an external runtime gets the same mount done for it.

- `overlay2` (snapshot.overlay): the layers as overlayfs lower dirs, the container's
  changes in its own upper dir; nothing is copied.
- `vfs` (snapshot.copy): where overlayfs is unavailable, each container gets a full
  copy of its layers, whiteouts applied; slower and larger, but works anywhere.

The driver is chosen once per store (layers are unpacked in its whiteout format)
and `dockyard info` reports it.
"""

from __future__ import annotations

import os


class Mount:
    """A mount to perform: `mount -t type -o options source target`, optionally with
    the working directory set first (overlay's lowerdirs are relative, to stay short)."""

    __slots__ = ("type", "source", "options", "chdir")

    def __init__(self, type: str, source: str, options: list[str], chdir: str = "") -> None:
        self.type = type
        self.source = source
        self.options = options
        self.chdir = chdir

    def encode(self) -> str:
        """One line for the bundle's annotation: type, source, chdir, options."""
        return "\n".join((self.type, self.source, self.chdir, ",".join(self.options)))

    @classmethod
    def decode(cls, text: str) -> "Mount":
        t, source, chdir, options = text.split("\n", 3)
        return cls(t, source, options.split(",") if options else [], chdir)


def overlay_supported() -> bool:
    try:
        with open("/proc/filesystems") as f:
            return any(line.split()[-1:] == ["overlay"] for line in f)
    except OSError:
        return False


def get(driver: str, layers_root: str):
    if driver == "overlay2":
        from .overlay import OverlaySnapshotter

        return OverlaySnapshotter(layers_root)
    if driver == "vfs":
        from .copy import CopySnapshotter

        return CopySnapshotter(layers_root)
    from ..errors import InvalidArgument

    raise InvalidArgument(f"unknown storage driver {driver!r} (known: overlay2, vfs)")


def default_driver() -> str:
    env = os.environ.get("DOCKYARD_STORAGE_DRIVER")
    if env:
        return env
    return "overlay2" if overlay_supported() else "vfs"
