"""Reading tar headers from an untrusted stream, one member at a time.

Layers and `cp` archives are read as a stream that only moves forward: this module
parses each header (ustar, GNU and POSIX.1-2001/pax, as Go's archive/tar, which
writes most layers, and GNU tar produce them) and leaves the member's data to the
caller, which copies it straight from the stream to its file. It replaces
`tarfile` on this path: tarfile costs ~10 ms to import (shutil, re, compression
modules) before a pull can start unpacking, and it parses each header with more
Python than a layer needs.

Every size and count that a stranger controls is bounded: pax records, GNU long
names and sparse maps are at most 1 MiB each, numbers must be octal digits or
positive base-256, checksums must match, and a sparse map must describe regions
that lie in order inside the file.
"""

from __future__ import annotations

BLOCK = 512
MAX_SPECIAL = 1 << 20  # bytes of a pax header, long name or sparse map (Go's limit too)
MAX_SPARSE = 1 << 16   # regions of one sparse file
_ZERO = bytes(BLOCK)
_HIGH = bytes(range(128, 256))
_POSIX_MAGIC = b"ustar\x00"

REGULAR, HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIRECTORY, FIFO = "0", "1", "2", "3", "4", "5", "6"
_HEADER_ONLY = (HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIRECTORY, FIFO)


class TarFormatError(ValueError):
    """The stream is not a tar archive (`at_start`), or is damaged or cut short."""

    def __init__(self, message: str, at_start: bool = False) -> None:
        super().__init__(message)
        self.at_start = at_start


class Member:
    """One archive entry. `type` is the header's type flag ("0" for every kind of
    regular file); `sparse`, for a sparse file, lists its (offset, length) data
    regions, which follow each other in the archive, and `realsize` is its size."""

    __slots__ = ("name", "type", "mode", "uid", "gid", "mtime", "size", "linkname", "pax", "sparse",
                 "realsize", "offset_data")

    def isreg(self) -> bool:
        return self.type == REGULAR

    def isdir(self) -> bool:
        return self.type == DIRECTORY

    def issym(self) -> bool:
        return self.type == SYMLINK

    def islnk(self) -> bool:
        return self.type == HARDLINK

    def isfifo(self) -> bool:
        return self.type == FIFO

    def __repr__(self) -> str:
        return f"<Member {self.name!r} type {self.type!r} size {self.size}>"


def _text(field: bytes) -> str:
    i = field.find(0)
    return (field if i < 0 else field[:i]).decode("utf-8", "surrogateescape")


def _number(field: bytes, what: str) -> int:
    """An octal field (NUL or space terminated) or a base-256 one (GNU, for values
    octal cannot hold)."""
    if field[:1] and field[0] & 0x80:
        if field[0] & 0x40:
            raise TarFormatError(f"negative {what} in a header")
        return int.from_bytes(bytes([field[0] & 0x3F]) + field[1:], "big")
    i = field.find(0)
    text = (field if i < 0 else field[:i]).strip(b" ")
    if not text:
        return 0
    if text.strip(b"01234567"):
        raise TarFormatError(f"invalid {what} {text[:20]!r} in a header")
    return int(text, 8)


def _decimal(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise TarFormatError(f"invalid {what} {text[:20]!r} in a pax header")
    return int(text)


def _checksum_ok(buf: bytes) -> bool:
    try:
        want = _number(buf[148:156], "checksum")
    except TarFormatError:
        return False
    head, tail = buf[:148], buf[156:]
    unsigned = 256 + sum(head) + sum(tail)  # the checksum field itself counts as spaces
    if unsigned == want:
        return True
    high = (len(head) - len(head.translate(None, _HIGH))) + (len(tail) - len(tail.translate(None, _HIGH)))
    return unsigned - 256 * high == want  # some old writers summed signed bytes


def _pax_records(data: bytes) -> list[tuple[str, str]]:
    """`LENGTH KEY=VALUE\\n` records, in order (GNU sparse 0.0 repeats keys)."""
    out = []
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding after the records
            if data.count(0, pos) != len(data) - pos:
                raise TarFormatError("malformed pax header")
            break
        space = data.find(b" ", pos, pos + 20)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise TarFormatError("malformed pax header record length")
        length = int(digits)
        end = pos + length
        if end <= space + 1 or end > len(data) or data[end - 1] != 0x0A:
            raise TarFormatError("malformed pax header record")
        key, eq, value = data[space + 1:end - 1].partition(b"=")
        if not eq or not key:
            raise TarFormatError("malformed pax header record")
        out.append((key.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")))
        pos = end
    return out


def _padded(n: int) -> int:
    return (n + BLOCK - 1) // BLOCK * BLOCK


class Reader:
    """Members of the tar in `stream` (read(n), tell() and forward seek(pos)). A
    member's data is the caller's to read before asking for the next member; what
    it leaves is skipped. After the last member, `end` is the offset of the
    end-of-archive block (or of the stream's end, where an archive has none)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.end: int | None = None
        self._next = stream.tell()
        self._start = self._next
        self._global: dict[str, str] = {}

    def __iter__(self) -> "Reader":
        return self

    def _read(self, n: int, what: str) -> bytes:
        data = self.stream.read(n)
        if len(data) != n:
            raise TarFormatError(f"the archive ends inside {what}")
        return data

    def _special(self, size: int, what: str) -> bytes:
        if size > MAX_SPECIAL:
            raise TarFormatError(f"{what} of {size} bytes is larger than {MAX_SPECIAL}")
        data = self._read(size, what)
        self.stream.seek(self.stream.tell() + _padded(size) - size)
        return data

    def __next__(self) -> Member:
        if self.end is not None:
            raise StopIteration
        stream = self.stream
        if stream.tell() < self._next:
            stream.seek(self._next)  # the data the caller did not read, and padding
            if stream.tell() < self._next:
                raise TarFormatError("the archive ends inside a member's data")
        long_name = long_link = None
        pax: dict[str, str] = {}
        sparse_pairs: list[str] = []  # GNU sparse 0.0: offset, length, offset, ...
        pending = False  # an extended header was read: a member must follow
        while True:
            pos = stream.tell()
            buf = stream.read(BLOCK)
            if len(buf) < BLOCK or buf == _ZERO:
                if pending:
                    raise TarFormatError("the archive ends after an extended header")
                if not buf and pos == self._start:
                    raise TarFormatError("empty file", at_start=True)
                if buf and len(buf) < BLOCK:
                    raise TarFormatError("the archive ends inside a header", at_start=pos == self._start)
                self.end = pos
                raise StopIteration
            if not _checksum_ok(buf):
                raise TarFormatError(f"bad header checksum at offset {pos}", at_start=pos == self._start)
            kind = chr(buf[156]) if buf[156] else "0"
            size = _number(buf[124:136], "size")
            if kind in "xgX":
                records = _pax_records(self._special(size, "a pax header"))
                if kind == "g":
                    self._global.update(records)
                else:
                    for k, v in records:
                        if k in ("GNU.sparse.offset", "GNU.sparse.numbytes"):
                            sparse_pairs.append(v)
                        pax[k] = v
                pending = True
                continue
            if kind == "L":
                long_name = _text(self._special(size, "a long name"))
                pending = True
                continue
            if kind == "K":
                long_link = _text(self._special(size, "a long link name"))
                pending = True
                continue
            return self._member(buf, pos, kind, size, long_name, long_link, pax, sparse_pairs)

    def _member(self, buf: bytes, pos: int, kind: str, size: int, long_name, long_link,
                local: dict[str, str], sparse_pairs: list[str]) -> Member:
        pax = dict(self._global, **local) if self._global else local
        m = Member()
        name = _text(buf[0:100])
        if buf[257:263] == _POSIX_MAGIC:
            prefix = _text(buf[345:500])
            if prefix:
                name = f"{prefix}/{name}"
        name = pax.get("path", name) if long_name is None else long_name
        m.linkname = pax.get("linkpath", _text(buf[157:257]) if long_link is None else long_link)
        m.mode = _number(buf[100:108], "mode")
        m.uid = _decimal(pax["uid"], "uid") if "uid" in pax else _number(buf[108:116], "uid")
        m.gid = _decimal(pax["gid"], "gid") if "gid" in pax else _number(buf[116:124], "gid")
        if "mtime" in pax:
            try:
                m.mtime = float(pax["mtime"])
            except ValueError:
                raise TarFormatError(f"invalid mtime {pax['mtime'][:20]!r} in a pax header") from None
            if m.mtime != m.mtime or m.mtime in (float("inf"), float("-inf")):
                raise TarFormatError("invalid mtime in a pax header")
        else:
            m.mtime = _number(buf[136:148], "mtime")
        if "size" in pax:
            size = _decimal(pax["size"], "size")
        m.sparse = None
        m.realsize = size
        offset = pos + BLOCK
        if kind == "S":  # old GNU sparse: the map is in this header and blocks after it
            regions = self._gnu_map(buf[386:482], 4)
            m.realsize = _number(buf[483:495], "sparse size")
            extended = buf[482]
            while extended:
                block = self._read(BLOCK, "a sparse map")
                regions += self._gnu_map(block[:504], 21)
                extended = block[504]
                offset += BLOCK
                if len(regions) > MAX_SPARSE:
                    raise TarFormatError(f"a sparse file with more than {MAX_SPARSE} regions")
            m.sparse = regions
            kind = "0"
        elif "GNU.sparse.major" in pax or "GNU.sparse.map" in pax or sparse_pairs:
            name = pax.get("GNU.sparse.name", name)
            if pax.get("GNU.sparse.major") == "1" and pax.get("GNU.sparse.minor") == "0":
                m.realsize = _decimal(pax.get("GNU.sparse.realsize", ""), "sparse size")
                m.sparse, used = self._map_in_data()
                offset += used
                size -= used
                if size < 0:
                    raise TarFormatError("a sparse map larger than its file's data")
            elif "GNU.sparse.major" in pax:
                raise TarFormatError(f"unknown GNU sparse format {pax['GNU.sparse.major']}."
                                     f"{pax.get('GNU.sparse.minor', '')}")
            else:  # 0.1: one map key; 0.0: offset/numbytes pairs
                m.realsize = _decimal(pax.get("GNU.sparse.size", ""), "sparse size")
                values = pax["GNU.sparse.map"].split(",") if "GNU.sparse.map" in pax else sparse_pairs
                if values == [""]:
                    values = []
                if len(values) % 2 or len(values) > 2 * MAX_SPARSE:
                    raise TarFormatError("malformed GNU sparse map")
                nums = [_decimal(v, "sparse map entry") for v in values]
                m.sparse = list(zip(nums[0::2], nums[1::2]))
        if m.sparse is not None:
            _check_sparse(m.sparse, m.realsize, size)
        if kind == "7":
            kind = REGULAR  # contiguous file: a regular file
        if kind == "0" and name.endswith("/") and not buf[156]:
            kind = DIRECTORY  # old tars marked directories only by the slash
        if kind in _HEADER_ONLY:
            size = 0  # whatever the size field says, no data follows (as tar and Go read it)
        m.name = name
        m.type = kind
        m.size = size
        m.pax = pax
        m.offset_data = offset
        self._next = offset + _padded(size)
        return m

    @staticmethod
    def _gnu_map(area: bytes, count: int) -> list[tuple[int, int]]:
        regions = []
        for i in range(count):
            entry = area[i * 24:i * 24 + 24]
            if not entry.strip(b"\0"):
                break
            regions.append((_number(entry[:12], "sparse offset"), _number(entry[12:], "sparse length")))
        return regions

    def _map_in_data(self) -> tuple[list[tuple[int, int]], int]:
        """GNU sparse 1.0: the map is decimal lines at the start of the data,
        padded to a block: count, then offset and length for each region."""
        text = b""
        used = 0
        numbers: list[int] = []
        want = None
        while want is None or len(numbers) < want:
            if used >= MAX_SPECIAL:
                raise TarFormatError(f"a sparse map larger than {MAX_SPECIAL} bytes")
            text += self._read(BLOCK, "a sparse map")
            used += BLOCK
            *lines, text = text.split(b"\n")
            for line in lines:
                if not line.isdigit():
                    raise TarFormatError("malformed GNU sparse map")
                numbers.append(int(line))
                if want is None:
                    if numbers[0] > MAX_SPARSE:
                        raise TarFormatError(f"a sparse file with more than {MAX_SPARSE} regions")
                    want = 1 + 2 * numbers[0]
                if len(numbers) == want:
                    break
            if len(text) > 20 and (want is None or len(numbers) < want):
                raise TarFormatError("malformed GNU sparse map")
        return list(zip(numbers[1::2], numbers[2::2])), used


def _check_sparse(regions: list[tuple[int, int]], realsize: int, stored: int) -> None:
    """Regions in order, not overlapping, inside the file, and exactly the stored data."""
    end = 0
    total = 0
    for offset, length in regions:
        if offset < end or offset + length > realsize:
            raise TarFormatError("a sparse map with regions out of order or past the end of the file")
        end = offset + length
        total += length
    if total != stored:
        raise TarFormatError(f"a sparse map of {total} bytes for {stored} bytes of data")
