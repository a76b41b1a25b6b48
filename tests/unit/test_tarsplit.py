"""Tests of a layer's tar rebuilt from its unpacked files (`dockyard.image.tarsplit`,
through `LayerStore.unpack`, `LayerStore.tar` and `LayerStore.rebuildable`).

Every test unpacks a tar into a store under pytest's tmp_path and reads the
rebuilt tar back, with several read sizes: what comes out must be the original
tar byte for byte, or InvalidImage, raised before the last bytes are handed out.
Tars are built in memory with `tarfile`, except GNU sparse files, which need GNU
tar. The tests need root (unpacking chowns, and overlay whiteouts are devices).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import shutil
import stat
import subprocess
import tarfile
import threading
import zlib
from pathlib import Path

import pytest

from dockyard.errors import InvalidImage
from dockyard.image.layers import LayerStore
from dockyard.image.tarsplit import Recorder
from test_tarsafe import Member, dir_, fifo, hard, reg, sym

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: unpacking chowns and makes whiteout devices")

CHUNKS = (1000, 16384, 1 << 20, -1)

# ---------------------------------------------------------------------------
# building tars in memory (the members: test_tarsafe's helpers)
# ---------------------------------------------------------------------------


def make_tar(*members: Member, format: int = tarfile.PAX_FORMAT) -> bytes:
    """The tar of `members` in order, padded to tarfile's 10240-byte records."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=format, encoding="utf-8", errors="surrogateescape") as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def data_offset(tar: bytes, name: str) -> int:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return tf.getmember(name).offset_data


def noise(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# unpacking and reading back
# ---------------------------------------------------------------------------


def unpack(tmp_path: Path, tar: bytes, whiteouts: str = "overlay", blob: bytes | None = None):
    """A store holding `tar` (unpacked from `blob`, its compressed form, if given),
    and its DiffID."""
    store = LayerStore(str(tmp_path / "layers"), whiteouts)
    diff_id = digest(tar)
    store.unpack(io.BytesIO(tar if blob is None else blob), diff_id)
    return store, diff_id


def split_path(store: LayerStore, diff_id: str) -> str:
    return os.path.join(os.path.dirname(store.dir(diff_id)), "tar-split")


def read_all(r, n: int) -> bytes:
    """Everything `r` hands out, read `n` bytes at a time; reads return exactly n
    bytes except at the end."""
    out = bytearray()
    short = False
    while b := r.read(n):
        assert not short, "a short read came before the end"
        if n >= 0:
            assert len(b) <= n
            short = len(b) < n
        out += b
    return bytes(out)


def rebuild(store: LayerStore, diff_id: str, n: int) -> bytes:
    with store.tar(diff_id) as r:
        return read_all(r, n)


def assert_rebuilds(store: LayerStore, diff_id: str, tar: bytes) -> None:
    for n in CHUNKS:
        with store.tar(diff_id) as r:
            assert r.size == len(tar)
            got = read_all(r, n)
        assert got == tar, f"the tar rebuilt in reads of {n} bytes differs from the original"


def read_until_invalid(store: LayerStore, diff_id: str, n: int) -> bytes:
    """What a reader got, `n` bytes at a time, before InvalidImage (which must come)."""
    got = bytearray()
    with store.tar(diff_id) as r:
        with pytest.raises(InvalidImage):
            while b := r.read(n):
                got += b
        with pytest.raises(InvalidImage):  # again: a reader that goes on never sees an end
            r.read(n)
    return bytes(got)


def assert_exact_or_refused(store: LayerStore, diff_id: str, tar: bytes) -> None:
    """The rebuild may fail, but never hands out a complete tar that is not `tar`."""
    for n in CHUNKS:
        try:
            got = rebuild(store, diff_id, n)
        except InvalidImage:
            continue
        assert got == tar, f"reads of {n} bytes rebuilt a wrong tar"


def assert_refused(store: LayerStore, diff_id: str, tar: bytes, never: bytes | None = None) -> None:
    """Every read size ends in InvalidImage: the read that would reach the end of
    the tar raises instead (so read(-1) hands out nothing), and nothing read
    before holds `never`."""
    for n in CHUNKS:
        got = read_until_invalid(store, diff_id, n)
        assert len(got) < len(tar), f"reads of {n} bytes got to the end of the tar"
        if n < 0:
            assert got == b""
        if never is not None:
            assert never not in got, f"reads of {n} bytes handed out bytes they must never read"


@pytest.fixture(autouse=True)
def _umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------

LATIN1 = os.fsdecode(b"latin1-\xe9t\xe9-\xff")  # not UTF-8: kept as raw bytes


def _common() -> list[Member]:
    return [
        dir_("etc"),
        reg("etc/empty", b""),
        reg("etc/small", b"hello\n", mode=0o600, uid=1000, gid=1000),
        reg("big", noise((3 << 20) + 123)),  # several 1 MiB pieces, not block-aligned
        sym("etc/passwd-link", "/etc/passwd"),  # stored, never followed
        sym("rel-link", "etc/small"),
        hard("etc/hard", "etc/small"),
        fifo("pipe"),
        reg("caf\u00e9-\u00f1-\u65e5\u672c", b"non-ascii\n"),
        reg(LATIN1, b"non-utf-8\n"),
        dir_("empty-dir", mtime=1_500_000_000),
    ]


def _long_names() -> list[Member]:
    """Names and link targets longer than ustar holds (GNU longname / pax path)."""
    return [
        reg("l" * 200 + "/" + "m" * 200, b"long name\n"),
        sym("long-link", "t/" * 80 + "target"),
        hard("h" * 150, "etc/small"),
    ]


def pax_members() -> list[Member]:
    return [dir_("./"), *_common(), *_long_names(),
            reg("xattr", b"x\n", pax={"SCHILY.xattr.user.note": "hello"}),
            reg("big-uid", b"u\n", uid=3_000_000, gid=3_000_001, mtime=1_600_000_000.25)]


def gnu_members() -> list[Member]:
    return [*_common(), *_long_names(), reg("big-uid", b"u\n", uid=3_000_000, gid=3_000_001)]


def ustar_members() -> list[Member]:
    # ustar splits a name of up to 255 bytes into prefix and name
    return [*_common(), reg("u" * 120 + "/" + "v" * 90, b"prefix\n")]


@pytest.mark.parametrize("format, members", [
    (tarfile.PAX_FORMAT, pax_members),
    (tarfile.GNU_FORMAT, gnu_members),
    (tarfile.USTAR_FORMAT, ustar_members),
], ids=["pax", "gnu", "ustar"])
def test_round_trip(tmp_path, format, members):
    tar = make_tar(*members(), format=format)
    store, diff_id = unpack(tmp_path, tar)
    assert store.rebuildable(diff_id)
    assert_rebuilds(store, diff_id, tar)


def test_symlink_outside_is_stored_not_followed(tmp_path):
    tar = make_tar(sym("passwd", "/etc/passwd"), sym("up", "../../../../etc"))
    store, diff_id = unpack(tmp_path, tar)
    assert os.readlink(os.path.join(store.dir(diff_id), "passwd")) == "/etc/passwd"
    assert_rebuilds(store, diff_id, tar)


@pytest.mark.parametrize("whiteouts", ["overlay", "aufs"])
def test_whiteouts_round_trip(tmp_path, whiteouts):
    """The whiteouts are converted on disk (overlay) or kept as marker files
    (aufs); either way the tar comes back with its `.wh.` members. One whiteout
    carries data, which overlay does not write out."""
    tar = make_tar(
        dir_("d"),
        reg("d/.wh..wh..opq", b""),
        reg("d/keep", b"kept\n"),
        reg("d/.wh.gone", b""),
        reg(".wh.top", b""),
        reg("d/.wh.with-data", b"whiteouts have no content, but this one has some"),
    )
    store, diff_id = unpack(tmp_path, tar, whiteouts)
    gone = os.lstat(os.path.join(store.dir(diff_id), "d/gone" if whiteouts == "overlay" else "d/.wh.gone"))
    assert stat.S_ISCHR(gone.st_mode) if whiteouts == "overlay" else stat.S_ISREG(gone.st_mode)
    assert_rebuilds(store, diff_id, tar)


def test_gzip_layer_rebuilds_the_uncompressed_tar(tmp_path):
    tar = make_tar(dir_("d"), reg("d/f", noise(2 << 20)), reg("g", b"small\n"))
    store, diff_id = unpack(tmp_path, tar, blob=gzip.compress(tar, 1))
    assert_rebuilds(store, diff_id, tar)


def _sparse_file(path: Path) -> bytes:
    """A 5 MiB file with holes; returns its content."""
    with open(path, "wb") as f:
        f.truncate(5 << 20)
        for offset, data in ((0, b"head" * 1000), (1 << 20, noise(10000)), ((5 << 20) - 4, b"tail")):
            f.seek(offset)
            f.write(data)
    return path.read_bytes()


@pytest.mark.parametrize("args", [
    ["--format=gnu"],
    ["--format=posix", "--sparse-version=0.0"],
    ["--format=posix", "--sparse-version=0.1"],
    ["--format=posix", "--sparse-version=1.0"],
], ids=["gnu", "pax-0.0", "pax-0.1", "pax-1.0"])
def test_gnu_sparse_file_round_trip(tmp_path, args):
    tar_cmd = shutil.which("tar")
    if tar_cmd is None:
        pytest.skip("no tar program to write a sparse member (tarfile cannot)")
    src = tmp_path / "src"
    src.mkdir()
    content = _sparse_file(src / "sparse")
    out = tmp_path / "sparse.tar"
    proc = subprocess.run([tar_cmd, "--sparse", *args, "-cf", str(out), "-C", str(src), "sparse"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"this tar cannot write {args}: {proc.stderr.strip()}")
    tar = out.read_bytes()
    if tar[156:157] != b"S" and b"GNU.sparse" not in tar[:1 << 16]:
        pytest.skip("tar stored the file without a sparse map")
    assert len(tar) < len(content), "the holes should not be in the tar"
    store, diff_id = unpack(tmp_path, tar)
    assert Path(store.dir(diff_id), "sparse").read_bytes() == content
    assert_rebuilds(store, diff_id, tar)


# ---------------------------------------------------------------------------
# bytes that are no member's
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("trailer", ["none", "record-padding", "extra-zeros"])
def test_end_of_archive_variants(tmp_path, trailer):
    tar = make_tar(reg("a", b"a\n"), reg("b", noise(5000)))
    if trailer == "none":  # the stream ends right after the last member's padding
        tar = tar[:data_offset(tar, "b") + 5120]
    elif trailer == "extra-zeros":
        tar += bytes(40 * 512)
    store, diff_id = unpack(tmp_path, tar)
    assert_rebuilds(store, diff_id, tar)


def test_garbage_in_padding_after_member_data(tmp_path):
    """Padding is skipped when unpacking, whatever it holds, so it must be recorded."""
    tar = bytearray(make_tar(reg("a", b"0123456789"), reg("b", b"xyz"), reg("c", noise(1 << 20))))
    for name, size in (("a", 10), ("b", 3)):
        at = data_offset(bytes(tar), name) + size
        tar[at:at + 20] = b"not zero, not data!!"
    tar = bytes(tar)
    store, diff_id = unpack(tmp_path, tar)
    assert Path(store.dir(diff_id), "a").read_bytes() == b"0123456789"
    assert_rebuilds(store, diff_id, tar)


# ---------------------------------------------------------------------------
# files changed after unpacking
# ---------------------------------------------------------------------------


def _layer() -> bytes:
    return make_tar(dir_("d"), reg("d/f", b"original content\n" * 100), reg("big", noise(2 << 20)),
                    reg("last", b"the last file\n"))


def test_changed_content_of_same_length_is_refused(tmp_path):
    tar = _layer()
    store, diff_id = unpack(tmp_path, tar)
    Path(store.dir(diff_id), "d/f").write_bytes(b"changed content!\n" * 100)
    assert_refused(store, diff_id, tar)


def test_changed_last_file_is_refused(tmp_path):
    """The change lies in the rebuilt tar's last pieces: the check comes first."""
    tar = _layer()
    store, diff_id = unpack(tmp_path, tar)
    Path(store.dir(diff_id), "last").write_bytes(b"THE LAST FILE\n")
    assert_refused(store, diff_id, tar)


def test_truncated_file_is_refused(tmp_path):
    tar = _layer()
    store, diff_id = unpack(tmp_path, tar)
    os.truncate(os.path.join(store.dir(diff_id), "big"), 1 << 20)
    assert_refused(store, diff_id, tar)


def test_deleted_file_is_refused(tmp_path):
    tar = _layer()
    store, diff_id = unpack(tmp_path, tar)
    os.unlink(os.path.join(store.dir(diff_id), "d/f"))
    assert_refused(store, diff_id, tar)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong-magic", "inconsistent"])
def test_damaged_tar_split_is_refused(tmp_path, damage):
    tar = _layer()
    store, diff_id = unpack(tmp_path, tar)
    path = split_path(store, diff_id)
    data = Path(path).read_bytes()
    raw = zlib.decompress(data)
    damaged = {
        "garbage": b"this is not a tar-split" * 10,
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "wrong-magic": zlib.compress(b"X" + raw[1:]),
        "inconsistent": zlib.compress(raw[:-1]),  # a byte fewer than its header says
    }[damage]
    Path(path).write_bytes(damaged)
    with pytest.raises(InvalidImage):
        store.tar(diff_id)


def test_altered_header_in_tar_split_is_refused(tmp_path):
    """A tar-split that parses but does not rebuild the DiffID's tar."""
    tar = _layer()
    store, diff_id = unpack(tmp_path, tar)
    path = split_path(store, diff_id)
    raw = bytearray(zlib.decompress(Path(path).read_bytes()))
    at = raw.find(tar[:100])  # the first header's name field
    assert at > 0
    raw[at] ^= 0x20
    Path(path).write_bytes(zlib.compress(bytes(raw)))
    assert_refused(store, diff_id, tar)


# ---------------------------------------------------------------------------
# reading outside the layer
# ---------------------------------------------------------------------------

INSIDE = b"inside the layer.." * 100
OUTSIDE = b"OUTSIDE THE LAYER!" * 100  # same length


@pytest.fixture
def outside(tmp_path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "f").write_bytes(OUTSIDE)
    return d


@pytest.mark.parametrize("target", ["absolute", "relative"])
def test_directory_replaced_by_symlink_is_not_followed(tmp_path, outside, target):
    tar = make_tar(dir_("d"), reg("d/f", INSIDE), reg("after", b"after\n"))
    store, diff_id = unpack(tmp_path, tar)
    d = os.path.join(store.dir(diff_id), "d")
    shutil.rmtree(d)
    os.symlink(str(outside) if target == "absolute" else os.path.relpath(outside, os.path.dirname(d)), d)
    assert Path(d, "f").read_bytes() == OUTSIDE  # the trap is set
    assert_refused(store, diff_id, tar, never=OUTSIDE[:64])


def test_file_replaced_by_symlink_is_not_followed(tmp_path, outside):
    tar = make_tar(dir_("d"), reg("d/f", INSIDE), reg("after", b"after\n"))
    store, diff_id = unpack(tmp_path, tar)
    f = os.path.join(store.dir(diff_id), "d/f")
    os.unlink(f)
    os.symlink(outside / "f", f)
    assert_refused(store, diff_id, tar, never=OUTSIDE[:64])


def test_layer_that_turns_its_directory_into_a_symlink(tmp_path, outside):
    """The tar itself writes d/f, then replaces d by a symlink out of the layer."""
    tar = make_tar(dir_("d"), reg("d/f", INSIDE), sym("d", str(outside)))
    store, diff_id = unpack(tmp_path, tar)
    assert_refused(store, diff_id, tar, never=OUTSIDE[:64])


@pytest.mark.parametrize("path", ["../../../outside/f", "{outside}/f", "link/f"])
def test_forged_tar_split_cannot_name_a_file_outside(tmp_path, outside, path):
    """Even a tar-split whose DiffID is that of the outside file's content is refused."""
    diff_id = digest(OUTSIDE)
    store = LayerStore(str(tmp_path / "layers"), "overlay")
    diff = Path(store.dir(diff_id))
    diff.mkdir(parents=True)
    os.symlink(outside, diff / "link")
    rec = Recorder()
    rec.files.append([0, len(OUTSIDE), path.format(outside=outside)])
    rec.save(split_path(store, diff_id))
    assert store.rebuildable(diff_id)
    for n in CHUNKS:
        assert read_until_invalid(store, diff_id, n) == b""


# ---------------------------------------------------------------------------
# a tar that writes a path twice (or deletes what it wrote)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("first, second", [
    (b"first!", b"second"),
    (b"short", b"much longer than the first"),
    (b"much longer than the second", b"short"),
    (b"identical", b"identical"),
], ids=["same-length", "longer", "shorter", "identical"])
def test_path_written_twice_never_rebuilds_wrong_bytes(tmp_path, first, second):
    tar = make_tar(reg("f", first), reg("g", b"between\n"), reg("f", second))
    store, diff_id = unpack(tmp_path, tar)
    assert Path(store.dir(diff_id), "f").read_bytes() == second
    assert_exact_or_refused(store, diff_id, tar)


def test_hard_link_kept_to_an_overwritten_file(tmp_path):
    """b keeps the first content of a; the rebuild must not pass off the second."""
    tar = make_tar(reg("a", b"first content"), hard("b", "a"), reg("a", b"other content"))
    store, diff_id = unpack(tmp_path, tar)
    assert_exact_or_refused(store, diff_id, tar)


@pytest.mark.parametrize("whiteouts", ["overlay", "aufs"])
def test_file_whited_out_in_its_own_layer(tmp_path, whiteouts):
    """x's content was recorded, then its own layer deleted it."""
    tar = make_tar(reg("x", b"data"), reg(".wh.x", b""))
    store, diff_id = unpack(tmp_path, tar, whiteouts)
    assert_exact_or_refused(store, diff_id, tar)


def test_file_replaced_by_fifo_fails_instead_of_blocking(tmp_path):
    tar = make_tar(reg("p", b"hello"), fifo("p"))
    store, diff_id = unpack(tmp_path, tar)
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(rebuild(store, diff_id, -1))
        except InvalidImage as e:
            outcome.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(2)
    blocked = t.is_alive()
    while t.is_alive():  # release the reader from open(2) by opening the other end
        try:
            os.close(os.open(os.path.join(store.dir(diff_id), "p"), os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        t.join(0.1)
    assert not blocked, "rebuilding blocked opening a FIFO"
    assert len(outcome) == 1 and isinstance(outcome[0], InvalidImage)


# ---------------------------------------------------------------------------
# rebuildable and tar
# ---------------------------------------------------------------------------


def test_rebuildable_after_unpack_only(tmp_path):
    tar = make_tar(reg("f", b"x"))
    store, diff_id = unpack(tmp_path, tar)
    unknown = digest(b"no such layer")
    assert store.rebuildable(diff_id)
    assert not store.rebuildable(unknown)
    assert store.tar(unknown) is None


def test_no_tar_split_no_tar(tmp_path):
    """A layer unpacked before tar-splits existed."""
    tar = make_tar(reg("f", b"x"))
    store, diff_id = unpack(tmp_path, tar)
    os.unlink(split_path(store, diff_id))
    assert store.present(diff_id)
    assert not store.rebuildable(diff_id)
    assert store.tar(diff_id) is None
