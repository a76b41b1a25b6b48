"""The content store: blobs (manifests, configs, layer tars) named by their digest.

::

    blobs/sha256/<hex>      immutable once present
    blobs/ingest/<random>   a blob being written; hashed as it arrives, verified,
                            then renamed into place, so a reader never sees half a blob
"""

from __future__ import annotations

import hashlib
import os

from ..errors import InvalidImage
from ..oci.digest import validate

WRITEBACK_STEP = 2 << 20


class BlobStore:
    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, digest: str) -> str:
        return f"{self.root}/sha256/{validate(digest)}"

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        return os.stat(self.path(digest)).st_size

    def read(self, digest: str) -> bytes:
        with open(self.path(digest), "rb") as f:
            data = f.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise InvalidImage(f"blob {digest} is corrupt in the store")
        return data

    def open(self, digest: str):
        return open(self.path(digest), "rb")

    def put(self, data: bytes, expected: str | None = None) -> str:
        """Store `data`; with `expected`, refuse it unless its digest matches."""
        w = self.writer(expected)
        try:
            w.write(data)
            return w.commit()
        finally:
            w.abort()

    def writer(self, expected: str | None = None) -> "BlobWriter":
        return BlobWriter(self, expected)

    def remove(self, digest: str) -> int:
        """Delete a blob; returns the bytes freed (0 if it was not there)."""
        p = self.path(digest)
        try:
            size = os.stat(p).st_size
            os.unlink(p)
            return size
        except FileNotFoundError:
            return 0

    def digests(self) -> list[str]:
        try:
            return ["sha256:" + n for n in os.listdir(f"{self.root}/sha256")]
        except FileNotFoundError:
            return []


class BlobWriter:
    """Streams one blob into the ingest area; `commit` verifies and publishes it."""

    def __init__(self, store: BlobStore, expected: str | None) -> None:
        self.store = store
        self.expected = expected
        if expected is not None:
            validate(expected)
        ingest = f"{store.root}/ingest"
        os.makedirs(ingest, exist_ok=True)
        os.makedirs(f"{store.root}/sha256", exist_ok=True)
        self.tmp = f"{ingest}/{os.urandom(8).hex()}"
        self.f = open(self.tmp, "wb")
        self.hash = hashlib.sha256()
        self.size = 0
        self._flushed = 0  # bytes handed to the kernel's writeback so far

    def write(self, data) -> None:
        """Append `data` (any bytes-like object)."""
        self.hash.update(data)
        self.size += len(data)
        self.f.write(data)
        if self.size - self._flushed >= WRITEBACK_STEP:
            # start writing back what is there, so that commit's fsync finds
            # (almost) nothing left to wait for (~10 ms per 12 MB blob otherwise),
            # and let the kernel drop those pages once they are clean: a layer
            # blob is read again only by push and save
            self.f.flush()
            os.posix_fadvise(self.f.fileno(), self._flushed, self.size - self._flushed, os.POSIX_FADV_DONTNEED)
            self._flushed = self.size

    def sync(self) -> None:
        """Make what was written durable (commit does it too; doing it early takes
        the wait off the commit)."""
        self.f.flush()
        os.fsync(self.f.fileno())

    def commit(self) -> str:
        digest = "sha256:" + self.hash.hexdigest()
        if self.expected is not None and digest != self.expected:
            raise InvalidImage(f"digest mismatch: expected {self.expected}, got {digest}")
        self.sync()
        self.f.close()
        os.rename(self.tmp, self.store.path(digest))
        self.tmp = None
        return digest

    def abort(self) -> None:
        if self.tmp is not None:
            self.f.close()
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass
            self.tmp = None
