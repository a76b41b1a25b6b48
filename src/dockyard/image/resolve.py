"""Where images come from when they are not in the store: a chain of sources.

`run busybox` looks in the local store first; only when that fails does the engine
ask each source in turn. Today the chain holds the built-in images; the registry
client (pull) joins it as one more source, without `run` changing.
"""

from __future__ import annotations

from typing import Protocol

from ..oci.reference import Reference


class ImageSource(Protocol):
    name: str

    def provides(self, ref: Reference) -> bool:
        """Whether this source can produce `ref` (cheap; no I/O beyond local checks)."""

    def provide(self, ref: Reference, ingest_factory, arch: str) -> str:
        """Bring `ref` into the store through an Ingest; returns the image id."""


def default_sources() -> list[ImageSource]:
    from .builtin import BuiltinImages

    return [BuiltinImages()]
