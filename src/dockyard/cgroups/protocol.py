"""The seam between the engine and a cgroup layout (typing only; never imported on
the `run` path)."""

from __future__ import annotations

from typing import Protocol


class CgroupManager(Protocol):
    version: int
    warnings: list[str]

    def create(self, path: str, resources: dict) -> None:
        """Make the cgroup `path` (relative to each hierarchy's root, any depth) in
        every hierarchy, with its missing ancestors, or reuse it if it exists, and
        write the limits (OCI `linux.resources`). If writing fails, a cgroup this
        call made is removed again."""

    def apply(self, path: str, resources: dict) -> None:
        """Write (or rewrite) the limits of an existing cgroup. Knobs this kernel
        lacks are appended to `warnings`; refused values raise InvalidArgument."""

    def procs_files(self, path: str) -> list[str]:
        """The `cgroup.procs` files a process writes "0" into to join the cgroup."""

    def mounts(self) -> list[tuple[str, str, str]]:
        """(name under /sys/fs/cgroup, fs type, options) to mount inside a container."""

    def oom_killed(self, path: str) -> bool:
        """Whether the kernel's OOM killer killed a process of the cgroup."""

    def describe(self) -> tuple:
        """Plain data from which cgroups.from_description rebuilds this manager."""

    def destroy(self, path: str) -> None:
        """Remove the cgroup (and the shared parent when it is empty)."""
