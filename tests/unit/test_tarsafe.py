"""Tests of `dockyard.image.tarsafe.apply_layer`, the unpacker of untrusted layer tars.

Every tar is built in memory with `tarfile`. Each escape test puts a sentinel
directory (holding one file, `victim`) next to the destination under pytest's
tmp_path, and asserts afterwards that nothing in it was created, removed,
written, re-linked or re-moded. The tests need root (mknod of whiteout devices,
`trusted.*` xattrs, chown to arbitrary owners), so they skip otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tarfile
import uuid
from pathlib import Path

import pytest

from dockyard.errors import InvalidImage
from dockyard.image.tarsafe import apply_layer

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: mknod of whiteout devices, trusted.* xattrs and chown to any owner",
)

# ---------------------------------------------------------------------------
# building tars in memory
# ---------------------------------------------------------------------------

Member = tuple[tarfile.TarInfo, "bytes | None"]


def _info(name: str, type: bytes, *, mode: int = 0o644, uid: int = 0, gid: int = 0,
          mtime: int = 1_600_000_000, linkname: str = "", pax: dict | None = None,
          size: int = 0, devmajor: int = 0, devminor: int = 0) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = ""
    ti.mtime = mtime
    ti.linkname = linkname
    ti.size = size
    ti.devmajor, ti.devminor = devmajor, devminor
    if pax:
        ti.pax_headers = dict(pax)
    return ti


def reg(name: str, data: bytes = b"data\n", **kw) -> Member:
    return _info(name, tarfile.REGTYPE, size=len(data), **kw), data


def dir_(name: str, mode: int = 0o755, **kw) -> Member:
    return _info(name, tarfile.DIRTYPE, mode=mode, **kw), None


def sym(name: str, target: str, **kw) -> Member:
    return _info(name, tarfile.SYMTYPE, linkname=target, mode=0o777, **kw), None


def hard(name: str, target: str, **kw) -> Member:
    return _info(name, tarfile.LNKTYPE, linkname=target, **kw), None


def fifo(name: str, mode: int = 0o644, **kw) -> Member:
    return _info(name, tarfile.FIFOTYPE, mode=mode, **kw), None


def chardev(name: str, major: int = 1, minor: int = 3) -> Member:
    return _info(name, tarfile.CHRTYPE, mode=0o666, devmajor=major, devminor=minor), None


def blockdev(name: str, major: int = 8, minor: int = 0) -> Member:
    return _info(name, tarfile.BLKTYPE, mode=0o660, devmajor=major, devminor=minor), None


def make_tar(*members: Member) -> bytes:
    """An uncompressed PAX tar of `members`, in order, as bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


class CountingReader:
    """A read-only stream that counts what it hands out and, like a pipe, returns
    at most `chunk` bytes per read."""

    def __init__(self, data: bytes, chunk: int = 1000) -> None:
        self.data = data
        self.pos = 0
        self.chunk = chunk

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = len(self.data) - self.pos
        n = min(n, self.chunk)
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


def apply(data: bytes, dest: Path, whiteouts: str = "overlay") -> int:
    return apply_layer(io.BytesIO(data), str(dest), whiteouts)


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _umask():
    """A fixed, common umask, so mode checks do not depend on the caller's."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    d = tmp_path / "dest"
    d.mkdir()
    return d


class Sentinel:
    """A directory outside the destination, with one file; remembers its exact state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        (path / "victim").write_bytes(b"original\n")
        os.chmod(path / "victim", 0o644)
        self.before = self.state()

    def state(self) -> dict:
        out = {}
        for p in [self.path, *sorted(self.path.rglob("*"))]:
            st = os.lstat(p)
            xattrs = {}
            with contextlib.suppress(OSError):
                xattrs = {n: os.getxattr(p, n, follow_symlinks=False)
                          for n in os.listxattr(p, follow_symlinks=False)}
            data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
            out[str(p)] = (st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_ino,
                           st.st_mtime_ns, data, xattrs)
        return out

    def assert_untouched(self) -> None:
        assert self.state() == self.before, "the sentinel outside the destination was changed"


@pytest.fixture
def sentinel(tmp_path: Path) -> Sentinel:
    return Sentinel(tmp_path / "outside")


def _tmp_listing(tmp_path: Path) -> set[str]:
    return set(os.listdir(tmp_path))


# ---------------------------------------------------------------------------
# what a well-formed layer becomes
# ---------------------------------------------------------------------------


def test_regular_tree_metadata_preserved(dest: Path) -> None:
    """Files, directories, symlinks, hard links and fifos are created with the
    tar's modes, owners and mtimes (setuid/setgid/sticky bits survive the chown),
    the root entry `./` leaves the destination's own metadata alone, hard links
    share the inode of their target, and the return value is the number of file
    content bytes written (hard links add nothing)."""
    os.chmod(dest, 0o755)
    body = b"hello, layer\n" * 10
    suid = b"\x7fELF fake binary"
    data = make_tar(
        dir_("./", mode=0o700, uid=4242, gid=4242),
        dir_("d", mode=0o750, uid=1234, gid=2345, mtime=1_000_000),
        reg("./d/f", body, mode=0o640, uid=1001, gid=1002, mtime=1_234_567),
        dir_("d/sticky", mode=0o1777, uid=0, gid=0, mtime=1_100_000),
        dir_("bin", mode=0o755, mtime=1_200_000),
        reg("bin/su", suid, mode=0o6755, uid=1000, gid=1000, mtime=1_300_000),
        sym("d/link", "f", uid=1003, gid=1004, mtime=1_111_111),
        sym("abs", "/etc/passwd", mtime=1_222_222),
        hard("d/h_same_dir", "d/f"),
        hard("h_other_dir", "./d/f"),
        fifo("p", mode=0o640, uid=1005, gid=1006),
    )
    written = apply(data, dest)
    assert written == len(body) + len(suid)

    root = os.lstat(dest)
    assert stat.S_IMODE(root.st_mode) == 0o755 and root.st_uid == 0

    d = os.lstat(dest / "d")
    assert stat.S_ISDIR(d.st_mode) and stat.S_IMODE(d.st_mode) == 0o750
    assert (d.st_uid, d.st_gid) == (1234, 2345)
    assert d.st_mtime == 1_000_000  # restored after its children were written

    st = os.lstat(dest / "d/sticky")
    assert stat.S_IMODE(st.st_mode) == 0o1777 and st.st_mtime == 1_100_000

    f = os.lstat(dest / "d/f")
    assert stat.S_ISREG(f.st_mode) and stat.S_IMODE(f.st_mode) == 0o640
    assert (f.st_uid, f.st_gid) == (1001, 1002)
    assert f.st_mtime == 1_234_567
    assert (dest / "d/f").read_bytes() == body

    su = os.lstat(dest / "bin/su")
    assert stat.S_IMODE(su.st_mode) == 0o6755, oct(su.st_mode)
    assert (su.st_uid, su.st_gid) == (1000, 1000)
    assert su.st_mtime == 1_300_000
    assert os.lstat(dest / "bin").st_mtime == 1_200_000

    ln = os.lstat(dest / "d/link")
    assert stat.S_ISLNK(ln.st_mode) and os.readlink(dest / "d/link") == "f"
    assert (ln.st_uid, ln.st_gid) == (1003, 1004)
    assert ln.st_mtime == 1_111_111
    assert os.readlink(dest / "abs") == "/etc/passwd"  # stored verbatim, never resolved
    assert os.lstat(dest / "abs").st_mtime == 1_222_222

    for h in ("d/h_same_dir", "h_other_dir"):
        hs = os.lstat(dest / h)
        assert hs.st_ino == f.st_ino
    assert os.lstat(dest / "d/f").st_nlink == 3

    p = os.lstat(dest / "p")
    assert stat.S_ISFIFO(p.st_mode)
    assert (p.st_uid, p.st_gid) == (1005, 1006)
    assert stat.S_IMODE(p.st_mode) == 0o640


def test_fifo_mode_and_mtime_preserved(dest: Path) -> None:
    """A fifo gets exactly the tar's mode (whatever the process umask) and mtime."""
    apply(make_tar(fifo("p", mode=0o666, mtime=1_000_000)), dest)
    st = os.lstat(dest / "p")
    assert stat.S_ISFIFO(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666
    assert st.st_mtime == 1_000_000


def test_hard_link_to_symlink_links_the_symlink(dest: Path, sentinel: Sentinel) -> None:
    """A hard link whose target is a symlink (here one pointing at a file outside)
    becomes a second name of the symlink itself; the file outside is not linked."""
    victim = str(sentinel.path / "victim")
    apply(make_tar(sym("s", victim), hard("h", "s")), dest)
    h = os.lstat(dest / "h")
    assert stat.S_ISLNK(h.st_mode)
    assert h.st_ino == os.lstat(dest / "s").st_ino
    assert os.readlink(dest / "h") == victim
    sentinel.assert_untouched()  # victim's link count is still 1


@pytest.mark.parametrize("member", [chardev("null"), chardev("dev/tty", 5, 0), blockdev("sda")],
                         ids=["char", "char-in-dir", "block"])
def test_device_nodes_are_skipped(dest: Path, member: Member) -> None:
    """Character and block device members are never created (the container gets
    its own /dev); the rest of the layer is still unpacked."""
    apply(make_tar(member, reg("after", b"x")), dest)
    assert not os.path.lexists(dest / member[0].name)
    assert (dest / "after").read_bytes() == b"x"


@pytest.mark.parametrize("attr", ["trusted.overlay.opaque", "trusted.overlay.redirect", "trusted.foo"])
def test_trusted_xattrs_are_not_applied(dest: Path, attr: str) -> None:
    """`trusted.*` xattrs from PAX headers (which overlayfs would obey, e.g. to make
    a directory opaque or redirect it) are dropped, on directories and files."""
    pax = {f"SCHILY.xattr.{attr}": "y"}
    apply(make_tar(dir_("d", pax=pax), reg("d/f", b"x", pax=pax)), dest)
    for p in (dest / "d", dest / "d/f"):
        assert attr not in os.listxattr(p, follow_symlinks=False)
        with pytest.raises(OSError) as e:
            os.getxattr(p, attr, follow_symlinks=False)
        assert e.value.errno == errno.ENODATA


def test_user_xattr_applied_and_trusted_dropped(dest: Path) -> None:
    """In one member carrying both, `user.foo` is applied and
    `trusted.overlay.opaque` is not, on a directory and on a file."""
    pax = {"SCHILY.xattr.user.foo": "bar", "SCHILY.xattr.trusted.overlay.opaque": "y"}
    apply(make_tar(dir_("d", pax=pax), reg("d/f", b"x", pax=pax)), dest)
    for p in (dest / "d", dest / "d/f"):
        assert os.getxattr(p, "user.foo") == b"bar"
        assert "trusted.overlay.opaque" not in os.listxattr(p)


# ---------------------------------------------------------------------------
# whiteouts
# ---------------------------------------------------------------------------

WHITEOUT_LAYER = (
    dir_("d"),
    reg("d/kept", b"k"),
    reg("d/.wh..wh..opq", b""),
    reg(".wh.gone", b""),
    reg("d/.wh.old", b""),
)


def _is_whiteout_device(p: Path) -> bool:
    st = os.lstat(p)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)


def test_overlay_whiteouts_become_devices_and_opaque_xattr(dest: Path) -> None:
    """In "overlay" mode `.wh.NAME` becomes a 0/0 character device NAME, and
    `.wh..wh..opq` sets trusted.overlay.opaque=y on its directory; no `.wh.` file
    remains."""
    apply(make_tar(*WHITEOUT_LAYER), dest, "overlay")
    assert _is_whiteout_device(dest / "gone")
    assert _is_whiteout_device(dest / "d/old")
    assert os.getxattr(dest / "d", "trusted.overlay.opaque") == b"y"
    assert (dest / "d/kept").read_bytes() == b"k"
    names = [str(p.relative_to(dest)) for p in dest.rglob("*")]
    assert not [n for n in names if os.path.basename(n).startswith(".wh.")], names


def test_aufs_whiteouts_kept_as_plain_files(dest: Path) -> None:
    """In "aufs" mode the `.wh.` markers stay as empty regular files, no device is
    made and no opaque xattr is set."""
    apply(make_tar(*WHITEOUT_LAYER), dest, "aufs")
    for n in (".wh.gone", "d/.wh.old", "d/.wh..wh..opq"):
        st = os.lstat(dest / n)
        assert stat.S_ISREG(st.st_mode) and st.st_size == 0, n
    assert not os.path.lexists(dest / "gone")
    assert not os.path.lexists(dest / "d/old")
    assert "trusted.overlay.opaque" not in os.listxattr(dest / "d")


def test_overlay_whiteout_of_name_from_same_layer(dest: Path) -> None:
    """A whiteout for a name the same layer created earlier replaces that entry with
    the 0/0 whiteout device (tar order: the later entry wins)."""
    apply(make_tar(reg("gone", b"x"), dir_("d"), reg("d/f", b"y"), reg(".wh.gone", b""),
                   reg("d/.wh.f", b"")), dest, "overlay")
    assert _is_whiteout_device(dest / "gone")
    assert _is_whiteout_device(dest / "d/f")


def test_aufs_whiteout_of_name_from_same_layer(dest: Path) -> None:
    """In "aufs" mode a whiteout for a name created earlier in the same layer is
    kept as its marker file, for the copy driver to apply."""
    apply(make_tar(reg("gone", b"x"), reg(".wh.gone", b"")), dest, "aufs")
    st = os.lstat(dest / ".wh.gone")
    assert stat.S_ISREG(st.st_mode) and st.st_size == 0


@pytest.mark.parametrize("name", [".wh.", "d/.wh.", ".wh...", "d/.wh.."])
def test_invalid_whiteout_names_rejected(dest: Path, tmp_path: Path, name: str) -> None:
    """A whiteout naming nothing, `.` or `..` is refused in overlay mode."""
    before = _tmp_listing(tmp_path)
    with pytest.raises(InvalidImage):
        apply(make_tar(dir_("d"), reg(name, b"")), dest, "overlay")
    assert _tmp_listing(tmp_path) == before


def test_unknown_whiteout_mode_is_an_error(dest: Path) -> None:
    """Only "overlay" and "aufs" are whiteout formats."""
    with pytest.raises(ValueError):
        apply(make_tar(reg("f")), dest, "vfs")


# ---------------------------------------------------------------------------
# escapes by name
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "../outside/pwned", "../outside/victim", "./../outside/pwned", "d/../../outside/pwned",
    "..", "../x-{uid}",
])
@pytest.mark.parametrize("kind", ["file", "dir", "symlink", "fifo"])
def test_dotdot_member_rejected(dest: Path, tmp_path: Path, sentinel: Sentinel, name: str,
                                kind: str) -> None:
    """A member whose name contains a `..` component is refused with InvalidImage,
    whatever its type, and nothing is written next to the destination."""
    name = name.format(uid=uuid.uuid4().hex)
    member = {"file": reg(name, b"evil"), "dir": dir_(name), "symlink": sym(name, "/"),
              "fifo": fifo(name)}[kind]
    before = _tmp_listing(tmp_path)
    with pytest.raises(InvalidImage):
        apply(make_tar(dir_("d"), member), dest)
    assert _tmp_listing(tmp_path) == before
    sentinel.assert_untouched()


def test_absolute_member_rejected(dest: Path, sentinel: Sentinel) -> None:
    """An absolute member name (`/etc/x`, or the sentinel's own absolute path) is
    refused with InvalidImage and nothing is created there."""
    etc_name = f"/etc/dockyard-tarsafe-test-{uuid.uuid4().hex}"
    try:
        for name in (etc_name, str(sentinel.path / "pwned"), str(sentinel.path / "victim")):
            with pytest.raises(InvalidImage):
                apply(make_tar(reg(name, b"evil")), dest)
        assert not os.path.lexists(etc_name)
        sentinel.assert_untouched()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(etc_name)


@pytest.mark.parametrize("target", ["../outside/victim", "d/../../outside/victim", "..", "/etc/passwd",
                                    "{sentinel}/victim"])
def test_hard_link_outside_rejected(dest: Path, sentinel: Sentinel, target: str) -> None:
    """A hard link to `../outside`, to `..`, or to an absolute path is refused; the
    file outside gains no link."""
    target = target.format(sentinel=sentinel.path)
    with pytest.raises(InvalidImage):
        apply(make_tar(dir_("d"), hard("h", target)), dest)
    assert not os.path.lexists(dest / "h")
    sentinel.assert_untouched()


@pytest.mark.parametrize("target", [".", "./", "missing", "d"],
                         ids=["root", "root-slash", "missing", "directory"])
def test_bad_hard_link_targets_rejected(dest: Path, target: str) -> None:
    """Hard links to the root, to a missing entry, or to a directory are refused."""
    with pytest.raises(InvalidImage):
        apply(make_tar(dir_("d"), hard("h", target)), dest)


def test_hard_link_into_missing_directory_rejected(dest: Path) -> None:
    """A hard link to `nodir/file`, where `nodir` does not exist, is InvalidImage."""
    with pytest.raises(InvalidImage):
        apply(make_tar(hard("h", "nodir/file")), dest)


# ---------------------------------------------------------------------------
# escapes through symlinks
# ---------------------------------------------------------------------------

KINDS = ["file", "dir", "fifo", "symlink", "hardlink-name", "hardlink-target", "whiteout",
         "opaque"]


def _through(kind: str) -> list[Member]:
    """Members that would act inside `evil/` (a symlink to the sentinel dir)."""
    return {
        "file": [reg("evil/pwned", b"evil")],
        "dir": [dir_("evil/pwned")],
        "fifo": [fifo("evil/pwned")],
        "symlink": [sym("evil/pwned", "/")],
        "hardlink-name": [reg("inside", b"i"), hard("evil/pwned", "inside")],
        "hardlink-target": [hard("h", "evil/victim")],
        "whiteout": [reg("evil/.wh.victim", b"")],
        "opaque": [reg("evil/.wh..wh..opq", b"")],
    }[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_symlink_in_same_tar_is_not_followed(dest: Path, sentinel: Sentinel, kind: str) -> None:
    """`evil -> <sentinel dir>` followed by a member under `evil/` (file, directory,
    fifo, symlink, hard link name or target, whiteout, opaque marker) is refused with
    InvalidImage; nothing outside is created, linked, removed or marked."""
    with pytest.raises(InvalidImage):
        apply(make_tar(sym("evil", str(sentinel.path)), *_through(kind)), dest)
    sentinel.assert_untouched()


@pytest.mark.parametrize("kind", KINDS)
def test_symlink_already_in_dest_is_not_followed(dest: Path, sentinel: Sentinel, kind: str) -> None:
    """A symlink to the sentinel that is already in the destination (a lower layer's,
    or earlier state) is never followed by a member under it."""
    os.symlink(str(sentinel.path), dest / "evil")
    with pytest.raises(InvalidImage):
        apply(make_tar(*_through(kind)), dest)
    sentinel.assert_untouched()
    assert os.readlink(dest / "evil") == str(sentinel.path)


@pytest.mark.parametrize("link", ["{sentinel}", "../outside", "../../..", "{sentinel}/", "."],
                         ids=["absolute", "relative", "up-up-up", "trailing-slash", "self"])
def test_symlink_targets_never_followed(dest: Path, tmp_path: Path, sentinel: Sentinel,
                                        link: str) -> None:
    """Whatever the symlink's target (absolute, relative `..`, `../../..`), writing
    `evil/<unique name>` through it raises InvalidImage and the name appears nowhere
    the link could lead."""
    link = link.format(sentinel=sentinel.path)
    name = f"pwned-{uuid.uuid4().hex}"
    with pytest.raises(InvalidImage):
        apply(make_tar(sym("evil", link), reg(f"evil/{name}", b"evil")), dest)
    sentinel.assert_untouched()
    for d in (dest, tmp_path, tmp_path.parent, tmp_path.parent.parent, tmp_path.parent.parent.parent):
        assert not os.path.lexists(d / name), d


def test_symlinked_dir_deeper_in_path_not_followed(dest: Path, sentinel: Sentinel) -> None:
    """A symlink in the middle of a path (`a/b -> sentinel`, then `a/b/c/pwned`) is
    refused too, also after writes to `a/` made its parent the cached one."""
    with pytest.raises(InvalidImage):
        apply(make_tar(dir_("a"), reg("a/x", b"1"), sym("a/b", str(sentinel.path)),
                       reg("a/y", b"2"), reg("a/b/c/pwned", b"evil")), dest)
    sentinel.assert_untouched()


def test_hard_link_through_symlinked_outside_dir(dest: Path, sentinel: Sentinel) -> None:
    """A symlink to a directory outside, created earlier in the same tar, followed by
    a hard link through it (`h -> out/victim`) is refused; victim gets no new link."""
    with pytest.raises(InvalidImage):
        apply(make_tar(dir_("d"), sym("d/out", str(sentinel.path)), hard("h", "d/out/victim")), dest)
    assert not os.path.lexists(dest / "h")
    sentinel.assert_untouched()


@pytest.mark.parametrize("kind", ["file", "dir", "fifo", "symlink", "hardlink", "whiteout"])
def test_entry_over_existing_symlink_never_writes_through(dest: Path, sentinel: Sentinel,
                                                          kind: str) -> None:
    """A member whose own name is an existing symlink to a file or directory outside
    (`evil -> sentinel/victim`) must replace the link, never write, chmod or chown
    its target. Whether the engine then succeeds or fails, the outside is untouched
    (that the replacement works is checked by test_member_replaces_existing_entry)."""
    os.symlink(str(sentinel.path / "victim"), dest / "evil")
    os.symlink(str(sentinel.path), dest / "evil_dir")
    member = {"file": [reg("evil", b"evil", mode=0o777), reg("evil_dir", b"evil")],
              "dir": [dir_("evil", mode=0o777), dir_("evil_dir", mode=0o777, uid=1)],
              "fifo": [fifo("evil", mode=0o777)],
              "symlink": [sym("evil", "/")],
              "hardlink": [reg("inside", b"i"), hard("evil", "inside")],
              "whiteout": [reg(".wh.evil", b""), reg(".wh.evil_dir", b"")]}[kind]
    with contextlib.suppress(InvalidImage, OSError):
        apply(make_tar(*member), dest)
    sentinel.assert_untouched()


# ---------------------------------------------------------------------------
# replacing entries (tar order: the later member wins)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["file-over-file", "file-over-symlink", "dir-over-file",
                                  "symlink-over-file", "hardlink-over-file", "fifo-over-file"])
def test_member_replaces_existing_entry(dest: Path, sentinel: Sentinel, case: str) -> None:
    """A member whose name already exists (from earlier in the tar, or a symlink to
    the outside already in dest) replaces that entry instead of failing, and a
    replaced symlink's target is never written."""
    os.symlink(str(sentinel.path / "victim"), dest / "lnk")
    members = {
        "file-over-file": [reg("a", b"old"), reg("a", b"new")],
        "file-over-symlink": [reg("lnk", b"new")],
        "dir-over-file": [reg("a", b"old"), dir_("a")],
        "symlink-over-file": [reg("a", b"old"), sym("a", "target")],
        "hardlink-over-file": [reg("b", b"new"), reg("a", b"old"), hard("a", "b")],
        "fifo-over-file": [reg("a", b"old"), fifo("a")],
    }[case]
    apply(make_tar(*members), dest)
    name = "lnk" if case == "file-over-symlink" else "a"
    st = os.lstat(dest / name)
    check = {"file-over-file": stat.S_ISREG, "file-over-symlink": stat.S_ISREG,
             "dir-over-file": stat.S_ISDIR, "symlink-over-file": stat.S_ISLNK,
             "hardlink-over-file": stat.S_ISREG, "fifo-over-file": stat.S_ISFIFO}[case]
    assert check(st.st_mode)
    if case in ("file-over-file", "file-over-symlink", "hardlink-over-file"):
        assert (dest / name).read_bytes() == b"new"
    sentinel.assert_untouched()


def test_directory_replaced_by_symlink_in_same_layer(dest: Path, sentinel: Sentinel) -> None:
    """A directory that a later member replaces by a symlink is a valid layer: the
    symlink wins, nothing under the old directory is reached through it."""
    apply(make_tar(dir_("a"), dir_("a/b"), reg("a/b/f", b"x"), sym("a", str(sentinel.path))), dest)
    assert os.readlink(dest / "a") == str(sentinel.path)
    sentinel.assert_untouched()


# ---------------------------------------------------------------------------
# corrupt streams
# ---------------------------------------------------------------------------


def _two_files() -> bytes:
    return make_tar(reg("a", b"A" * 3000), reg("b", b"B" * 3000))


@pytest.mark.parametrize("cut", [700, 2000, 512 + 3072 + 512 + 1000],
                         ids=["first-file-start", "first-file-middle", "second-file-middle"])
def test_truncated_in_file_data_rejected(dest: Path, cut: int) -> None:
    """A tar cut in the middle of a file's data raises InvalidImage."""
    data = _two_files()
    assert cut < len(data) - 1024
    with pytest.raises(InvalidImage, match="corrupt or truncated"):
        apply_layer(CountingReader(data[:cut]), str(dest))


@pytest.mark.parametrize("case", ["cut-in-header", "garbage-after-member"])
def test_truncated_in_header_rejected(dest: Path, case: str) -> None:
    """A tar cut inside the second member's header, or with garbage instead of it,
    raises InvalidImage."""
    one = make_tar(reg("a", b"A" * 3000))
    second_header = 512 + 3072  # after `a`'s header and its padded data
    data = _two_files()[:second_header + 100] if case == "cut-in-header" else \
        one[:second_header] + b"garbage!" * 200
    with pytest.raises(InvalidImage):
        apply(data, dest)


@pytest.mark.parametrize("data", [b"", b"hello world, not a tar\n" * 50, bytes(range(256)) * 20,
                                  b"\x1f\x8b\x08\x00" + b"\x00" * 2000],
                         ids=["empty", "text", "binary", "gzip"])
def test_non_tar_stream_rejected(dest: Path, data: bytes) -> None:
    """An empty stream, text, binary noise or a compressed stream is InvalidImage."""
    with pytest.raises(InvalidImage, match="not a valid tar"):
        apply(data, dest)
    assert os.listdir(dest) == []


def test_reads_stream_to_the_end(dest: Path) -> None:
    """apply_layer consumes every byte of the stream, the end-of-archive blocks and
    any zero padding after them included (so a hashing wrapper sees the whole blob),
    even when the stream returns short reads like a pipe."""
    data = make_tar(dir_("d"), reg("d/f", b"x" * 5000), reg("g", b"y" * 10))
    assert data.endswith(b"\0" * 1024)
    data += b"\0" * (3 * 10240 + 512)  # extra records, as some writers pad
    reader = CountingReader(data, chunk=777)
    assert apply_layer(reader, str(dest)) == 5010
    assert reader.pos == len(data)
    assert reader.read(1) == b""


def test_reads_stream_to_the_end_of_empty_layer(dest: Path) -> None:
    """A layer with no members (only end-of-archive blocks and padding) is valid,
    creates nothing, and is read to its end."""
    data = make_tar() + b"\0" * 4096
    reader = CountingReader(data)
    assert apply_layer(reader, str(dest)) == 0
    assert reader.pos == len(data)
    assert os.listdir(dest) == []
