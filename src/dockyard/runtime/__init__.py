"""Runtimes: what turns an OCI bundle (config.json + rootfs) into a running process.

- runtime.native: Dockyard's own, in Python: fork, unshare, mount, pivot_root, exec.
  The default; the engine hands it the spec in memory, no re-parsing.
- runtime.external: runc or crun (`--runtime runc|crun`), driven through their OCI
  command line (`create`, `start`, `delete`) on the same bundle.

A runtime is called by the container's monitor, which becomes the parent (or the
subreaper) of the container's first process and waits for it. `spawn` returns once
the process has executed the container's command, or raises StartError with
Docker's exit code (126 cannot invoke, 127 not found) when it could not.
"""

from __future__ import annotations

RUNTIMES = ("native", "runc", "crun")


def get(name: str, runroot: str):
    if name in ("native", "", None):
        from .native import NativeRuntime

        return NativeRuntime(runroot)
    if name in ("runc", "crun"):
        from .external import ExternalRuntime

        return ExternalRuntime(name, f"{runroot}/{name}")
    from ..errors import InvalidArgument

    raise InvalidArgument(f"unknown or invalid runtime name: {name}")


def available() -> list[str]:
    import shutil

    return ["native"] + [r for r in ("runc", "crun") if shutil.which(r)]
