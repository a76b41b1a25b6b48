"""Image layers, unpacked once and shared by every image and container that uses them.

A layer is keyed by its DiffID (the sha256 of its uncompressed tar). With overlayfs
each layer is a self-contained directory whatever lies below it, so two images
sharing a layer share its directory even when their lower layers differ.

::

    layers/<diff-id hex>/diff    the unpacked tree, whiteouts in the driver's format
    layers/<diff-id hex>/tar-split  the rest of its tar (image/tarsplit.py): with
                                 the tree, the layer's exact tar, so no layer blob
                                 needs keeping
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


def readinto(f, b) -> int:
    """f.readinto(b), for streams that only have read() too."""
    ri = getattr(f, "readinto", None)
    if ri is not None:
        return ri(b)
    data = f.read(len(b))
    b[: len(data)] = data
    return len(data)


class HashingReader:
    """A file-like reader that hashes and counts what passes through it.

    With `background`, the hashing runs in a helper thread (core/feeder.py), next
    to the decompression and file writes of the reader's caller, which must then
    alternate between two buffers in readinto: a buffer is hashed until the call
    after next."""

    def __init__(self, f, background: bool = False) -> None:
        self.f = f
        self.hash = hashlib.sha256()
        self.size = 0
        self._bg = None
        self._update = self.hash.update
        if background:
            from ..core.feeder import Feeder

            self._bg = Feeder(self.hash.update)
            self._update = self._bg.add

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        if b:
            self._update(b)  # bytes are immutable: nothing to wait for
            self.size += len(b)
        return b

    def readinto(self, b) -> int:
        if self._bg is not None:
            self._bg.wait(1)  # `b` was handed over two calls ago: hashed by now
        n = readinto(self.f, b)
        if n:
            self._update(memoryview(b)[:n])
            self.size += n
        return n

    def digest(self) -> str:
        self.close()
        return "sha256:" + self.hash.hexdigest()

    def close(self) -> None:
        """Wait for the helper thread's hashing (if any) and end it."""
        if self._bg is not None:
            self._bg.close()


class _CommandReader:
    """stdout of a decompressor fed from a file (zstd has no module in 3.11's stdlib)."""

    def __init__(self, argv: list[str], f) -> None:
        import subprocess

        self.proc = subprocess.Popen(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def read(self, n: int = -1) -> bytes:
        return self.proc.stdout.read(n)

    def readinto(self, b) -> int:
        return self.proc.stdout.readinto(b)

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

    def readinto(self, b) -> int:
        if not self.head:
            return readinto(self.f, b)
        view = memoryview(b)
        k = min(len(self.head), len(view))
        view[:k] = self.head[:k]
        self.head = self.head[k:]
        return k + (readinto(self.f, view[k:]) if not self.head and len(view) > k else 0)


def _inflate_module():
    """ISA-L's inflate (the `isal` package: about three times zlib's speed, same
    API and checks) when it is installed, else zlib."""
    try:
        from isal import isal_zlib

        return isal_zlib
    except ImportError:
        import zlib

        return zlib


class _Gunzip:
    """gzip decompression in large steps with a zlib-like module, each step handed
    out whole: a read returns up to n bytes of one inflated piece (fewer before the
    end, as a pipe does). Multi-member streams and zero padding after the last
    member are followed, as gzip(1) does; at most `MAX_STEP` bytes are inflated per
    step, so a decompression bomb never sits in memory."""

    IN_STEP = 1 << 20
    MAX_STEP = 1 << 20

    def __init__(self, f) -> None:
        self.z = _inflate_module()
        self.f = f
        self.d = self.z.decompressobj(31)
        self.out = b""
        self.off = 0
        self.done = False

    def _step(self) -> bool:
        """Inflate the next piece into `out`; False at the end of the stream."""
        while not self.done:
            if self.d.eof:
                rest = (self.d.unused_data or self.f.read(self.IN_STEP)).lstrip(b"\0")
                while not rest:
                    rest = self.f.read(self.IN_STEP)
                    if not rest:
                        self.done = True
                        return False
                    rest = rest.lstrip(b"\0")
                self.d = self.z.decompressobj(31)  # another gzip member follows
                data = rest
            else:
                data = self.d.unconsumed_tail or self.f.read(self.IN_STEP)
                if not data:
                    raise EOFError("compressed data ended before the end of the gzip stream")
            out = self.d.decompress(data, self.MAX_STEP)
            if out:
                self.out, self.off = out, 0
                return True
        return False

    def read(self, n: int = -1) -> bytes:
        if self.off >= len(self.out) and not self._step():
            return b""
        out, off = self.out, self.off
        if n < 0:
            parts = [out[off:]]
            while self._step():
                parts.append(self.out)
            self.off = len(self.out)
            return b"".join(parts)
        end = min(len(out), off + n)
        self.off = end
        return out if off == 0 and end == len(out) else out[off:end]

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _IsalGunzip:
    """gzip through ISA-L's C reader (`isal_zlib._GzipReader`): it fills its input
    buffer with the source's readinto and inflates straight into the caller's
    buffer, so no layer byte becomes a Python object of its own (about 6 ms and
    2,500 page faults less per 20 MB layer than decompressobj). Multi-member
    streams and zero padding are followed, as gzip(1) does; CRC and length are
    checked."""

    def __init__(self, f, reader) -> None:
        self.r = reader(f, _Gunzip.IN_STEP)

    def readinto(self, b) -> int:
        return self.r.readinto(b)

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            parts = []
            while b := self.read(_Gunzip.MAX_STEP):
                parts.append(b)
            return b"".join(parts)
        buf = bytearray(min(n, _Gunzip.MAX_STEP))
        k = self.r.readinto(buf)
        return bytes(memoryview(buf)[:k])


def preload() -> None:
    """Import what unpacking needs (tarsafe, the hashing thread, the inflate
    module) before forking workers: once here, rather than once in every worker."""
    from ..core import feeder  # noqa: F401  (HashingReader's helper thread)
    from . import tarsafe, tarsplit  # noqa: F401

    _inflate_module()


def corrupt_stream_errors() -> tuple:
    """What the decompressors raise for damaged input."""
    import gzip
    import zlib

    errs: tuple = (EOFError, zlib.error, gzip.BadGzipFile)
    z = _inflate_module()
    return errs if z is zlib else errs + (z.error,)


def is_zstd(head: bytes) -> bool:
    return head[:4] == b"\x28\xb5\x2f\xfd"


def open_uncompressed(f):
    """Wrap a layer blob stream so reads return its tar, whatever the compression
    (by magic bytes)."""
    f = _Peeked(f)
    if f.head[:2] == b"\x1f\x8b":
        reader = getattr(_inflate_module(), "_GzipReader", None)
        return _IsalGunzip(f, reader) if reader is not None else _Gunzip(f)
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
    bufs = (bytearray(1 << 20), bytearray(1 << 20))  # alternating: see HashingReader
    i = 0
    while readinto(reader, bufs[i]):
        i ^= 1


def _verified(blob, diff_id: str, consume):
    """Feed the uncompressed layer to `consume`, check it hashes to `diff_id`, and
    return what `consume` returned."""
    raw = open_uncompressed(blob)
    # (every consumer here reads through two alternating buffers: see HashingReader)
    reader = HashingReader(raw, background=True)
    try:
        result = consume(reader)
    except corrupt_stream_errors() as e:
        raise InvalidImage(f"layer is corrupt or truncated: {e}") from None
    finally:
        reader.close()
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
        from .tarsplit import Recorder

        record = Recorder()
        os.makedirs(f"{self.root}/ingest", exist_ok=True)
        os.makedirs(f"{self.root}/l", exist_ok=True)
        tmp = f"{self.root}/ingest/{os.urandom(8).hex()}"
        os.makedirs(tmp + "/diff", mode=0o755)
        try:
            size = _verified(blob, diff_id, lambda reader: apply_layer(reader, tmp + "/diff", self.whiteouts, record))
            record.save(tmp + "/tar-split")
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

    def rebuildable(self, diff_id: str) -> bool:
        return os.path.exists(f"{self.root}/{validate(diff_id)}/tar-split")

    def tar(self, diff_id: str):
        """The layer's tar rebuilt from its files (a tarsplit.Rebuilt, with `size`),
        or None for a layer unpacked without a tar-split."""
        from .tarsplit import Rebuilt

        if not self.rebuildable(diff_id):
            return None
        final = f"{self.root}/{validate(diff_id)}"
        return Rebuilt(final + "/diff", final + "/tar-split", diff_id)

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
