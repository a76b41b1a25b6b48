"""A layer's tar, rebuilt byte for byte from its unpacked files (tar-split).

A pulled layer is kept only unpacked, as Docker and containers/storage keep it:
storing the compressed blob as well would cost a pull a second 50-100% of the
layer's bytes in writes and fsyncs, and the disk space for ever. What is kept
besides the files is everything of the tar that is not file content (headers,
padding, the end-of-archive blocks, the data of entries that were not written out
as they came), and where each regular file's content goes. From that and the
files, `save` and `push` get the layer's exact tar back, so its DiffID still
names it.

::

    layers/<diff-id hex>/tar-split    zlib of: MAGIC, total (Q), raw length (Q),
                                      file count (Q); per file: raw offset (Q),
                                      length (Q), path length (I), path; then raw

Files are opened from the layer's directory one component at a time without
following symlinks (tarsafe.open_member), so a layer whose later entries turned a
directory into a symlink cannot make a rebuild read outside it. A rebuilt tar is
hashed as it is produced, and the read that would end it raises InvalidImage
instead, and so does every read after, unless the whole matches the DiffID: a
consumer never sees a complete tar that the image does not name. That is what
happens to a layer whose files changed, and to one whose tar overwrote its own
entries (a path written twice, a file whited out in its own layer): those unpack
and run, but cannot be saved or pushed, as with Docker's tar-split.
"""

from __future__ import annotations

import os
import struct
import zlib

from ..errors import InvalidImage

MAGIC = b"DYTSPLT1"
_HEAD = struct.Struct("<QQQ")
_FILE = struct.Struct("<QQI")
_STEP = 1 << 20


class Recorder:
    """Collects a tar's non-content bytes while tarsafe unpacks it."""

    __slots__ = ("raw", "files", "path")

    def __init__(self) -> None:
        self.raw = bytearray()
        self.files: list[list] = []  # [raw offset, length, path]
        self.path = ""  # the member whose content is being written

    def content(self, n: int) -> None:
        """`n` more bytes of the current member's content went to its file."""
        last = self.files[-1] if self.files else None
        if last is not None and last[2] == self.path and last[0] == len(self.raw):
            last[1] += n
        else:
            self.files.append([len(self.raw), n, self.path])

    @property
    def total(self) -> int:
        return len(self.raw) + sum(f[1] for f in self.files)

    def save(self, path: str) -> None:
        parts = [MAGIC, _HEAD.pack(self.total, len(self.raw), len(self.files))]
        for offset, length, name in self.files:
            encoded = os.fsencode(name)
            parts += (_FILE.pack(offset, length, len(encoded)), encoded)
        parts.append(self.raw)
        with open(path, "wb") as f:
            f.write(zlib.compress(b"".join(parts), 1))


def _parse(data: bytes) -> tuple[int, bytes, list[tuple[int, int, str]]]:
    if data[:len(MAGIC)] != MAGIC:
        raise ValueError("not a tar-split")
    pos = len(MAGIC)
    total, raw_len, count = _HEAD.unpack_from(data, pos)
    pos += _HEAD.size
    files = []
    for _ in range(count):
        offset, length, n = _FILE.unpack_from(data, pos)
        pos += _FILE.size
        files.append((offset, length, os.fsdecode(data[pos:pos + n])))
        pos += n
    raw = data[pos:]
    if len(raw) != raw_len or total != raw_len + sum(f[1] for f in files):
        raise ValueError("inconsistent tar-split")
    return total, raw, files


class Rebuilt:
    """The layer's tar as a read-only stream (`read(n)`), `size` bytes long."""

    def __init__(self, root: str, split_path: str, diff_id: str) -> None:
        import hashlib

        self.root = root
        self.diff_id = diff_id
        try:
            with open(split_path, "rb") as f:
                self.size, self._raw, self._files = _parse(zlib.decompress(f.read()))
        except (ValueError, zlib.error, struct.error) as e:
            raise InvalidImage(f"layer {diff_id}: its tar-split is damaged ({e})") from None
        self._hash = hashlib.sha256()
        self._pieces = self._produce()
        self._cur = memoryview(b"")
        self._off = 0
        self._ahead: memoryview | None = None  # fetched on the first read
        self._error: InvalidImage | None = None  # raised again by every later read

    def _fail(self, why: str) -> InvalidImage:
        return InvalidImage(f"layer {self.diff_id} cannot be rebuilt from its unpacked files: {why}")

    def _content(self, path: str, length: int):
        from .tarsafe import open_member

        try:
            fd = open_member(self.root, path)
        except (InvalidImage, OSError) as e:
            raise self._fail(f"{path!r}: {getattr(e, 'strerror', None) or e}") from None
        try:
            left = length
            while left:
                b = os.read(fd, min(left, _STEP))
                if not b:
                    raise self._fail(f"{path!r} is shorter than it was")
                left -= len(b)
                yield b
        finally:
            os.close(fd)

    def _produce(self):
        raw = memoryview(self._raw)
        at = 0
        for offset, length, path in self._files:
            if offset > at:
                yield raw[at:offset]
            at = offset
            yield from self._content(path, length)
        if at < len(raw):
            yield raw[at:]

    def _next(self) -> memoryview:
        """The next piece, hashed; empty at the end (then everything is hashed)."""
        for piece in self._pieces:
            if piece:
                self._hash.update(piece)
                return memoryview(piece)
        return memoryview(b"")

    def _advance(self) -> bool:
        # one piece is fetched ahead, so the read that hands out the last bytes
        # knows it does, and can check the DiffID first
        if self._ahead is None:
            self._ahead = self._next()
        self._cur, self._off = self._ahead, 0
        self._ahead = self._next() if self._cur else self._cur
        return bool(self._cur)

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes; fewer only at the end."""
        if self._error is not None:
            raise self._error
        if n < 0:
            n = 1 << 62
        parts = []
        while n > 0:
            try:
                more = self._off < len(self._cur) or self._advance()
            except InvalidImage as e:  # a file missing, or shorter than it was
                self._error = e
                raise
            if not more:
                break
            take = self._cur[self._off:self._off + n]
            self._off += len(take)
            n -= len(take)
            parts.append(take)
        if parts and self._off >= len(self._cur) and not self._ahead:
            if "sha256:" + self._hash.hexdigest() != self.diff_id:
                self._error = self._fail("its content does not match its DiffID")
                raise self._error
        return b"".join(parts)

    def close(self) -> None:
        self._pieces.close()

    def __enter__(self) -> "Rebuilt":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
