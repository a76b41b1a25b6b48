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

    def stats(self, path: str) -> dict:
        """Usage counters of the cgroup, whichever are mounted: cpu_usage_ns (total CPU
        time), memory_usage, memory_limit (None: unlimited), memory_cache (the inactive
        file pages Docker leaves out of the usage), memory_stat (memory.stat as a dict),
        blkio_read/blkio_write (bytes), pids_current, pids_limit (None: unlimited)."""

    def pids(self, path: str) -> list[int]:
        """The host pids of every process in the cgroup and its sub-cgroups."""

    def freeze(self, path: str, frozen: bool) -> None:
        """Freeze or thaw the cgroup's processes (v1 freezer.state, v2 cgroup.freeze),
        returning once the kernel reports it done."""

    def frozen(self, path: str) -> bool:
        """Whether the cgroup is frozen now."""

    def describe(self) -> tuple:
        """Plain data from which cgroups.from_description rebuilds this manager."""

    def destroy(self, path: str) -> None:
        """Remove the cgroup (and the shared parent when it is empty)."""
