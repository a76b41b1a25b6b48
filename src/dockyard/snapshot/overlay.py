"""The overlay2 snapshotter: image layers as overlayfs lower dirs, one upper dir per
container (its `diff/`), so creating a container copies nothing.

Lower dirs are named by their short links (`l/<24 hex>`) relative to the layers
root, which the runtime makes its working directory before mounting: one page of
mount options then holds about 150 layers.
"""

from __future__ import annotations

import os

from . import Mount


class OverlaySnapshotter:
    name = "overlay2"
    whiteouts = "overlay"

    def __init__(self, layers_root: str) -> None:
        self.layers_root = layers_root

    def prepare(self, home: str, layers: list[str]) -> Mount:
        """Make `home/diff` and `home/work`; return the mount for `home/rootfs`."""
        os.mkdir(home + "/diff", 0o755)
        os.mkdir(home + "/work", 0o700)
        if layers:
            lower = ":".join("l/" + d[7:31] for d in reversed(layers))
        else:
            os.makedirs(self.layers_root + "/empty", exist_ok=True)
            lower = "empty"
        return Mount("overlay", "overlay",
                     [f"lowerdir={lower}", f"upperdir={home}/diff", f"workdir={home}/work"],
                     chdir=self.layers_root)

    def stack(self, home: str, layers: list[str]) -> list[str]:
        """The directories of the merged view, top first (for reading files unmounted)."""
        return [home + "/diff"] + [f"{self.layers_root}/{d[7:]}/diff" for d in reversed(layers)]

    def upper(self, home: str) -> str:
        return home + "/diff"


def probe(root: str) -> bool:
    """Whether overlayfs mounts work on the file system holding `root` (it does not on
    top of another overlay, for one)."""
    from ..core.files import rmtree
    from .._sys import libc
    from ..errors import KernelError

    d = f"{root}/overlay-probe-{os.getpid()}"
    try:
        for sub in ("lower", "upper", "work", "merged"):
            os.makedirs(f"{d}/{sub}")
        libc.mount("overlay", f"{d}/merged", "overlay", 0,
                   f"lowerdir={d}/lower,upperdir={d}/upper,workdir={d}/work")
        libc.umount2(f"{d}/merged", libc.MNT_DETACH)
        return True
    except (KernelError, OSError):
        return False
    finally:
        rmtree(d)
