"""The streaming tar header reader (image/tarreader.py): every format real layers
come in, read the same as Python's tarfile reads them; sparse files as GNU tar
writes them, unpacked with their holes; hostile headers refused."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from dockyard.errors import InvalidImage
from dockyard.image.tarreader import BLOCK, MAX_SPECIAL, Reader, TarFormatError
from dockyard.image.tarsafe import _Input, apply_layer

LONG = "deep/" * 30 + "name-longer-than-a-hundred-bytes.txt"


def _members(formats: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=formats) as tf:
        def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **kw) -> None:
            ti = tarfile.TarInfo(name)
            ti.type = kind
            ti.size = len(data)
            ti.mode = kw.pop("mode", 0o644)
            ti.mtime = kw.pop("mtime", 1_700_000_000)
            for k, v in kw.items():
                setattr(ti, k, v)
            tf.addfile(ti, io.BytesIO(data) if data else None)

        add("dir", tarfile.DIRTYPE, mode=0o755)
        add("dir/file", data=b"hello\n" * 100, uid=1000, gid=1000, mode=0o4755)
        add(LONG, data=b"x" * 700)
        add("dir/link", tarfile.SYMTYPE, linkname="../" + (LONG if formats != tarfile.USTAR_FORMAT else "empty"))
        add("dir/hard", tarfile.LNKTYPE, linkname="dir/file")
        add("fifo", tarfile.FIFOTYPE, mode=0o600)
        add("null", tarfile.CHRTYPE, devmajor=1, devminor=3)
        add("empty", data=b"")
        add("ünïcode-näme", data=b"u")
        if formats != tarfile.USTAR_FORMAT:
            add("big-ids", data=b"b", uid=3_000_000, gid=4_000_000)  # past 7 octal digits
    return buf.getvalue()


def _read_all(data: bytes) -> list[tuple]:
    stream = _Input(io.BytesIO(data))
    out = []
    for m in Reader(stream):
        out.append((m.name.rstrip("/"), m.type, m.mode, m.uid, m.gid, int(m.mtime), m.size, m.linkname))
    return out


def _tarfile_view(data: bytes) -> list[tuple]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tf:
        return [(m.name, m.type.decode(), m.mode, m.uid, m.gid, int(m.mtime),
                 m.size if m.isreg() else 0, m.linkname) for m in tf]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
def test_members_read_as_tarfile_reads_them(fmt: int) -> None:
    data = _members(fmt)
    assert _read_all(data) == _tarfile_view(data)
    names = [m[0] for m in _read_all(data)]
    assert LONG in names and "ünïcode-näme" in names


def test_pax_mtime_fraction_xattrs_and_global_headers() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": "global"}) as tf:
        ti = tarfile.TarInfo("f")
        ti.size = 3
        ti.mtime = 1_700_000_000.25
        ti.pax_headers = {"SCHILY.xattr.user.key": "v\u00e4l", "uid": "70000"}
        tf.addfile(ti, io.BytesIO(b"abc"))
    [m] = list(Reader(_Input(io.BytesIO(buf.getvalue()))))
    assert m.mtime == 1_700_000_000.25
    assert m.uid == 70000
    assert m.pax["SCHILY.xattr.user.key"] == "v\u00e4l"
    assert m.pax["comment"] == "global"


def test_unread_data_is_skipped_and_the_end_found() -> None:
    data = _members(tarfile.PAX_FORMAT)
    stream = _Input(io.BytesIO(data))
    members = Reader(stream)
    assert len(list(members)) == 10
    assert data[members.end:members.end + BLOCK] == bytes(BLOCK)


def test_old_style_directory_by_trailing_slash() -> None:
    """A regular-file header (type NUL) whose name ends in "/" is a directory."""
    ti = tarfile.TarInfo("olddir/")
    ti.type = tarfile.AREGTYPE
    data = ti.tobuf(tarfile.USTAR_FORMAT) + bytes(1024)
    [m] = list(Reader(_Input(io.BytesIO(data))))
    assert m.isdir() and m.name == "olddir/"


def _gnu_tar_sparse(tmp_path, args: list[str]) -> tuple[bytes, bytes]:
    """(archive, content) of a sparse file made by GNU tar with `args`."""
    if shutil.which("tar") is None or b"GNU tar" not in subprocess.run(["tar", "--version"],
                                                                          capture_output=True).stdout:
        pytest.skip("GNU tar is not installed")
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse.bin", "wb") as f:
        for offset in (0, 1 << 20, 5 << 20):
            f.seek(offset)
            f.write(os.urandom(3000) + b"end")
        f.truncate(8 << 20)
    content = (src / "sparse.bin").read_bytes()
    out = tmp_path / "sparse.tar"
    subprocess.run(["tar", "-C", str(src), "-cSf", str(out), *args, "sparse.bin"], check=True)
    return out.read_bytes(), content


@pytest.mark.parametrize("args", [["--format=gnu"], ["--format=posix", "--sparse-version=0.0"],
                                  ["--format=posix", "--sparse-version=0.1"],
                                  ["--format=posix", "--sparse-version=1.0"]],
                         ids=["gnu", "pax-0.0", "pax-0.1", "pax-1.0"])
def test_sparse_files_unpack_with_their_holes(tmp_path, args: list[str]) -> None:
    archive, content = _gnu_tar_sparse(tmp_path, args)
    assert len(archive) < 1 << 20  # GNU tar did store it sparse
    dest = tmp_path / "dest"
    dest.mkdir()
    assert apply_layer(io.BytesIO(archive), str(dest)) == len(content)
    assert sorted(os.listdir(dest)) == ["sparse.bin"]
    assert (dest / "sparse.bin").read_bytes() == content
    assert os.stat(dest / "sparse.bin").st_blocks * 512 < 1 << 20  # the holes stayed holes


def _header(name: str = "f", size: int = 0, kind: bytes = tarfile.REGTYPE, fmt=tarfile.GNU_FORMAT, **kw) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.size, ti.type = size, kind
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti.tobuf(fmt)


def _rec(key: str, value: str) -> bytes:
    """One well-formed pax record."""
    body = f" {key}={value}\n".encode()
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body


def _pax(records: bytes, then: bytes | None = None) -> bytes:
    ti = tarfile.TarInfo("././@PaxHeader")
    ti.type, ti.size = tarfile.XHDTYPE, len(records)
    pad = -len(records) % BLOCK
    return ti.tobuf(tarfile.USTAR_FORMAT) + records + bytes(pad) + (then if then is not None else _header()) \
        + bytes(1024)


def _with_checksum(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


@pytest.mark.parametrize("data, message", [
    (_pax(b"99 path=x\n"), "malformed pax"),
    (_pax(b"0 path=x\n"), "malformed pax"),
    (_pax(b"8 path=x\n"), "malformed pax"),       # no newline where the length ends
    (_pax(b"11 path x\n\n"), "malformed pax"),    # no "="
    (_pax(_rec("uid", "-1")), "invalid uid"),
    (_pax(_rec("mtime", "nan")), "mtime"),
    (_pax(_rec("size", "1e9")), "invalid size"),
    (_pax(_rec("GNU.sparse.major", "2")), "sparse"),
    (_header(size=MAX_SPECIAL + 1, kind=tarfile.GNUTYPE_LONGNAME) + bytes(1024), "larger than"),
    (_header(kind=tarfile.GNUTYPE_LONGNAME, size=10) + b"name\0" + bytes(507), "ends after an extended header"),
], ids=["length-past-end", "length-zero", "length-short", "no-equals", "negative-uid", "nan-mtime",
        "float-size", "unknown-sparse", "huge-long-name", "header-without-member"])
def test_hostile_extended_headers_refused(data: bytes, message: str) -> None:
    with pytest.raises(TarFormatError, match=message):
        list(Reader(_Input(io.BytesIO(data))))


def test_negative_base256_number_refused() -> None:
    block = bytearray(_header(size=5))
    block[124:136] = b"\xff" * 12  # -1 in base-256
    with pytest.raises(TarFormatError, match="negative size"):
        list(Reader(_Input(io.BytesIO(_with_checksum(block) + bytes(1024)))))


def test_non_octal_number_refused() -> None:
    block = bytearray(_header(size=5))
    block[124:136] = b"0000000009\0\0"
    with pytest.raises(TarFormatError, match="invalid size"):
        list(Reader(_Input(io.BytesIO(_with_checksum(block) + bytes(1024)))))


def test_bad_checksum_refused_at_start_and_later() -> None:
    good = _header("a", 0)
    bad = bytearray(_header("b", 0))
    bad[0:1] = b"c"  # the name changed after the checksum was computed
    with pytest.raises(TarFormatError, match="checksum") as e:
        list(Reader(_Input(io.BytesIO(bytes(bad) + bytes(1024)))))
    assert e.value.at_start
    with pytest.raises(TarFormatError, match="checksum") as e:
        list(Reader(_Input(io.BytesIO(good + bytes(bad) + bytes(1024)))))
    assert not e.value.at_start


def _pax_sparse(mapping: str, realsize: int, stored: bytes) -> bytes:
    records = _rec("GNU.sparse.size", str(realsize)) + _rec("GNU.sparse.map", mapping) + _rec("GNU.sparse.name", "s")
    body = _header("GNUSparseFile.0/s", len(stored), fmt=tarfile.USTAR_FORMAT) + stored + bytes(-len(stored) % BLOCK)
    ti = tarfile.TarInfo("././@PaxHeader")
    ti.type, ti.size = tarfile.XHDTYPE, len(records)
    return ti.tobuf(tarfile.USTAR_FORMAT) + records + bytes(-len(records) % BLOCK) + body + bytes(1024)


@pytest.mark.parametrize("mapping, realsize, stored", [
    ("0,10,5,10", 100, b"x" * 20),    # overlapping regions
    ("50,10,0,10", 100, b"x" * 20),   # out of order
    ("95,10", 100, b"x" * 10),        # past the end of the file
    ("0,10", 100, b"x" * 30),         # the map does not account for the data
    ("0,10,20", 100, b"x" * 10),      # odd number of values
], ids=["overlap", "order", "past-end", "size-mismatch", "odd"])
def test_hostile_sparse_maps_refused(tmp_path, mapping: str, realsize: int, stored: bytes) -> None:
    data = _pax_sparse(mapping, realsize, stored)
    with pytest.raises(InvalidImage, match="sparse"):
        apply_layer(io.BytesIO(data), str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_valid_handmade_sparse_map(tmp_path) -> None:
    data = _pax_sparse("10,3,90,2", 100, b"abcde")
    apply_layer(io.BytesIO(data), str(tmp_path))
    assert (tmp_path / "s").read_bytes() == bytes(10) + b"abc" + bytes(77) + b"de" + bytes(8)
