"""Where images come from when they are not in the store: a chain of sources.

`run busybox` looks in the local store first; only when that fails does the engine
ask each source in turn: the built-in images (hello-world and busybox, made here,
offline), then the registry named by the reference (a pull).
"""

from __future__ import annotations

from typing import Protocol

from ..oci.reference import Reference


class ImageSource(Protocol):
    name: str

    def provides(self, ref: Reference, platform: str | None = None) -> bool:
        """Whether this source can produce `ref` (cheap; no I/O beyond local checks)."""

    def provide(self, engine, ref: Reference, progress, platform: str | None = None) -> str:
        """Bring `ref` into the store; returns the image id."""


class RegistrySource:
    name = "registry"

    def provides(self, ref: Reference, platform: str | None = None) -> bool:
        return True

    def provide(self, engine, ref: Reference, progress, platform: str | None = None) -> str:
        from ..oci.platform import parse
        from ..registry.pull import pull

        image_id, new, _ = pull(engine, ref, parse(platform), progress)
        if progress is not None:
            progress.status(f"Status: {'Downloaded newer image' if new else 'Image is up to date'} for {ref.familiar}")
        return image_id


def default_sources() -> list[ImageSource]:
    from .builtin import BuiltinImages

    return [BuiltinImages(), RegistrySource()]
