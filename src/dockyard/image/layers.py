"""Image layers, unpacked once and shared by every image and container that uses them.

A layer is keyed by its DiffID (the sha256 of its uncompressed tar). With overlayfs
each layer is a self-contained directory whatever lies below it, so two images
sharing a layer share its directory even when their lower layers differ.

::

    layers/<diff-id hex>/diff    the unpacked tree, whiteouts in the driver's format
    layers/l/<24 hex>            -> ../<diff-id hex>/diff, short names for overlay's
                                 lowerdir option (one page of mount data holds ~150)
    layers/ingest/<random>/      a layer being unpacked and verified
"""

from __future__ import annotations

import hashlib
import os

from ..core.files import rmtree, disk_usage
from ..errors import InvalidImage, Unavailable
from ..oci.digest import validate

SHORT = 24


class HashingReader:
    """A file-like reader that hashes and counts what passes through it."""

    def __init__(self, f) -> None:
        self.f = f
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        if b:
            self.hash.update(b)
            self.size += len(b)
        return b

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


class _CommandReader:
    """stdout of a decompressor fed from a file (zstd has no module in 3.11's stdlib)."""

    def __init__(self, argv: list[str], f) -> None:
        import subprocess

        self.proc = subprocess.Popen(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def read(self, n: int = -1) -> bytes:
        return self.proc.stdout.read(n)

    def close(self) -> None:
        self.proc.stdout.close()
        err = self.proc.stderr.read().decode(errors="replace").strip()
        if self.proc.wait() != 0:
            raise InvalidImage(f"layer could not be decompressed: {err or 'zstd failed'}")


def open_uncompressed(f):
    """Wrap a layer blob so reads return its tar, whatever the compression (by magic bytes)."""
    head = f.read(4)
    f.seek(0)
    if head[:2] == b"\x1f\x8b":
        import gzip

        return gzip.GzipFile(fileobj=f, mode="rb")
    if head == b"\x28\xb5\x2f\xfd":
        import shutil

        zstd = shutil.which("zstd")
        if not zstd:
            raise Unavailable("this layer is zstd-compressed and the zstd program is not installed")
        return _CommandReader([zstd, "-dc"], f)
    return f


def _drain(reader) -> None:
    while reader.read(1 << 20):
        pass


def _verified(blob, diff_id: str, consume) -> None:
    """Feed the uncompressed layer to `consume` and check it hashes to `diff_id`."""
    raw = open_uncompressed(blob)
    reader = HashingReader(raw)
    try:
        consume(reader)
    finally:
        if raw is not blob:
            raw.close()
    if reader.digest() != diff_id:
        raise InvalidImage(f"layer content does not match its digest: expected {diff_id}, got {reader.digest()}")


class LayerStore:
    def __init__(self, root: str, whiteouts: str) -> None:
        self.root = root
        self.whiteouts = whiteouts

    def dir(self, diff_id: str) -> str:
        return f"{self.root}/{validate(diff_id)}/diff"

    def link(self, diff_id: str) -> str:
        """The layer's short name relative to the layers root, for overlay options."""
        return "l/" + validate(diff_id)[:SHORT]

    def present(self, diff_id: str) -> bool:
        return os.path.isdir(self.dir(diff_id))

    def unpack(self, blob, diff_id: str) -> int:
        """Unpack a layer blob (a seekable file: plain, gzip or zstd tar) and verify it
        against `diff_id`. Returns the unpacked size. Idempotent."""
        hexid = validate(diff_id)
        final = f"{self.root}/{hexid}"
        if os.path.isdir(final + "/diff"):
            # already unpacked from another image: still make sure this blob is that layer
            _verified(blob, diff_id, lambda reader: _drain(reader))
            return disk_usage(final + "/diff")
        from .tarsafe import apply_layer

        os.makedirs(f"{self.root}/ingest", exist_ok=True)
        os.makedirs(f"{self.root}/l", exist_ok=True)
        tmp = f"{self.root}/ingest/{os.urandom(8).hex()}"
        os.makedirs(tmp + "/diff", mode=0o755)
        try:
            _verified(blob, diff_id, lambda reader: apply_layer(reader, tmp + "/diff", self.whiteouts))
            try:
                os.rename(tmp, final)
            except OSError:
                if not os.path.isdir(final + "/diff"):
                    raise
                rmtree(tmp)  # another process unpacked the same layer first
            link = f"{self.root}/{self.link(diff_id)}"
            if not os.path.islink(link):
                try:
                    os.symlink(f"../{hexid}/diff", link)
                except FileExistsError:
                    pass
        except BaseException:
            rmtree(tmp)
            raise
        return disk_usage(final + "/diff")

    def remove(self, diff_id: str) -> int:
        hexid = validate(diff_id)
        final = f"{self.root}/{hexid}"
        size = disk_usage(final)
        try:
            os.unlink(f"{self.root}/{self.link(diff_id)}")
        except FileNotFoundError:
            pass
        rmtree(final)
        return size
