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


class _Peeked:
    """A stream with its first bytes read ahead (to sniff the compression), then
    replayed: works for sockets and pipes, which cannot seek back."""

    def __init__(self, f, n: int = 4) -> None:
        self.f = f
        self.head = f.read(n)

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0 or n >= len(self.head):
                out, self.head = self.head, b""
                rest = self.f.read(n - len(out)) if n >= 0 else self.f.read()
                return out + rest
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.f.read(n)


class _Gunzip:
    """gzip decompression in large steps (GzipFile reads 128 KiB at a time and
    decompresses in Python-sized pieces; with several layers unpacking in parallel
    threads, every extra step is a trip through the GIL). Multi-member streams, as
    gzip allows, are followed; at most `MAX_STEP` bytes are inflated per step."""

    MAX_STEP = 4 << 20

    def __init__(self, f) -> None:
        import zlib

        self.zlib = zlib
        self.f = f
        self.d = zlib.decompressobj(31)
        self.buf = bytearray()
        self.pending = b""
        self.done = False

    def _fill(self, want: int) -> None:
        while len(self.buf) < want and not self.done:
            if self.pending:
                chunk, self.pending = self.pending, b""
            else:
                chunk = self.d.unconsumed_tail or self.f.read(1 << 20)
                if not chunk:
                    if not self.d.eof:
                        raise EOFError("compressed data ended before the end of the gzip stream")
                    self.done = True
                    break
            self.buf += self.d.decompress(chunk, self.MAX_STEP)
            if self.d.eof:
                rest = self.d.unused_data
                if not rest:
                    rest = self.f.read(1 << 20)
                if rest:
                    self.d = self.zlib.decompressobj(31)  # another gzip member follows
                    self.pending = rest
                elif not self.d.unconsumed_tail:
                    self.done = True

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            while not self.done:
                self._fill(len(self.buf) + self.MAX_STEP)
            n = len(self.buf)
        else:
            self._fill(n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def is_zstd(head: bytes) -> bool:
    return head[:4] == b"\x28\xb5\x2f\xfd"


def open_uncompressed(f):
    """Wrap a layer blob stream so reads return its tar, whatever the compression
    (by magic bytes)."""
    f = _Peeked(f)
    if f.head[:2] == b"\x1f\x8b":
        return _Gunzip(f)
    if f.head == b"\x28\xb5\x2f\xfd":
        import shutil

        zstd = shutil.which("zstd")
        if not zstd:
            raise Unavailable("this layer is zstd-compressed and the zstd program is not installed")
        if not hasattr(f.f, "fileno") or not hasattr(f.f, "seek"):
            raise Unavailable("a zstd layer is unpacked from its stored blob, not from a stream")
        f.f.seek(0)
        return _CommandReader([zstd, "-dc"], f.f)
    return f


def _drain(reader) -> None:
    while reader.read(1 << 20):
        pass


def _verified(blob, diff_id: str, consume):
    """Feed the uncompressed layer to `consume`, check it hashes to `diff_id`, and
    return what `consume` returned."""
    import gzip
    import zlib

    raw = open_uncompressed(blob)
    reader = HashingReader(raw)
    try:
        result = consume(reader)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:  # gzip: from the zstd path's reader
        raise InvalidImage(f"layer is corrupt or truncated: {e}") from None
    finally:
        if hasattr(raw, "close") and not isinstance(raw, _Peeked):
            raw.close()
    if reader.digest() != diff_id:
        raise InvalidImage(f"layer content does not match its digest: expected {diff_id}, got {reader.digest()}")
    return result


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

    def unpack(self, blob, diff_id: str, finish=None) -> int:
        """Unpack a layer (a stream of a plain, gzip or zstd tar) and verify it against
        `diff_id`; returns the bytes of file content. Idempotent. `finish`, if given,
        runs after the verification and before the layer is published: if it raises
        (the blob's own digest was wrong, say), nothing is kept."""
        hexid = validate(diff_id)
        final = f"{self.root}/{hexid}"
        if os.path.isdir(final + "/diff"):
            # already unpacked from another image: still make sure this blob is that layer
            _verified(blob, diff_id, _drain)
            if finish:
                finish()
            return disk_usage(final + "/diff")
        from .tarsafe import apply_layer

        os.makedirs(f"{self.root}/ingest", exist_ok=True)
        os.makedirs(f"{self.root}/l", exist_ok=True)
        tmp = f"{self.root}/ingest/{os.urandom(8).hex()}"
        os.makedirs(tmp + "/diff", mode=0o755)
        try:
            size = _verified(blob, diff_id, lambda reader: apply_layer(reader, tmp + "/diff", self.whiteouts))
            if finish:
                finish()
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
        return size

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
