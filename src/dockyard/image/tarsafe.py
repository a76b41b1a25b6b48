"""Unpacking untrusted layer tars into a directory without ever leaving it.

Layers, archives and (later) build contexts come from strangers. Every member is
created relative to a directory file descriptor, walking its parent directories one
component at a time with O_NOFOLLOW, so a symlink in the tree, whether it came from
this layer or was already there, is never followed; member names that are absolute
or contain `..` are refused; hard links may only point at entries inside the tree;
`trusted.*` xattrs (which overlayfs would obey) are never applied; device nodes are
skipped (the container gets its own /dev).

Whiteouts (`.wh.NAME` deletes NAME from lower layers, `.wh..wh..opq` hides a whole
lower directory) are converted to the format of the storage driver:

- "overlay": a 0/0 character device named NAME, and the `trusted.overlay.opaque=y`
  xattr on the directory, which is what overlayfs reads;
- "aufs": kept as the `.wh.` marker files of the tar, for the copy driver to apply.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat

from ..errors import InvalidImage
from .tarreader import Member, Reader, TarFormatError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
# A decompression bomb is stopped by space, not by ratio (gzip tops out near
# 1032:1, which zero-filled files in real layers reach): unpacking stops while this
# much is still free on the store's file system.
MIN_FREE = int(os.environ.get("DOCKYARD_MIN_FREE", 1 << 30))
_SPACE_CHECK = 32 << 20
# xattrs carried over from PAX headers; trusted.* would steer overlayfs itself
_XATTR_ALLOWED = ("user.", "security.capability")


def split_member_name(name: str) -> list[str]:
    """`./usr//bin/sh` -> ["usr", "bin", "sh"]; refuses absolute names and `..`."""
    if name.startswith("/"):
        raise InvalidImage(f"layer member {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise InvalidImage(f"layer member {name!r} escapes the root (..)")
    for p in parts:
        if "\0" in p:
            raise InvalidImage(f"layer member {name!r} has a NUL byte")
    return parts


class _Tree:
    """A destination directory, opened once; parents are reached without symlinks."""

    def __init__(self, root: str) -> None:
        self.root = root
        # a directory fd is taken as is (dup'd): `cp` resolves its target itself
        self.fd = os.dup(root) if isinstance(root, int) else os.open(root, _DIR_FLAGS)
        self._cache_key: tuple[str, ...] | None = None
        self._cache_fd = -1
        self.dir_times: list[tuple[tuple[str, ...], float]] = []

    def close(self) -> None:
        self._drop_cache()
        os.close(self.fd)

    def _drop_cache(self) -> None:
        if self._cache_fd >= 0:
            os.close(self._cache_fd)
        self._cache_fd = -1
        self._cache_key = None

    def parent(self, parts: list[str], create: bool = True) -> int:
        """An fd of the directory holding parts[-1]; the caller must not close it."""
        key = tuple(parts[:-1])
        if key == self._cache_key:
            return self._cache_fd
        self._drop_cache()
        fd = os.dup(self.fd)
        try:
            for i, comp in enumerate(key):
                try:
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise InvalidImage(f"layer refers to {'/'.join(key[: i + 1])!r}, which does not exist") from None
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR):
                        where = "/".join(key[: i + 1])
                        raise InvalidImage(
                            f"layer writes through {where!r}, which is not a directory (a symlink?)") from None
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        self._cache_key, self._cache_fd = key, fd
        return fd

    def clear_slot(self, pfd: int, name: str, keep_dir: bool) -> None:
        """Make room for a new entry `name`: remove what is there, unless it is a
        directory and the new entry is one too (then it is merged, as tar does)."""
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            from ..core.files import remove_at

            remove_at(pfd, name)
        else:
            os.unlink(name, dir_fd=pfd)
        # the cached fd is `pfd` itself (the parent of the current member), which
        # stays valid; paths below the removed entry are walked afresh next time


def _apply_xattrs(target: int | str, pax: dict) -> None:
    for k, v in pax.items():
        if not k.startswith("SCHILY.xattr."):
            continue
        attr = k[len("SCHILY.xattr."):]
        if not attr.startswith(_XATTR_ALLOWED):
            continue
        raw = v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v
        try:
            if isinstance(target, int):
                os.setxattr(target, attr, raw)  # an fd: nothing to follow
            else:
                os.setxattr(target, attr, raw, follow_symlinks=False)
        except OSError:
            pass  # a file system without that xattr namespace: the file stays usable


def open_member(root: str, path: str) -> int:
    """An fd (read-only) of the regular file `path` below `root`, reached without
    following a symlink on the way (tarsplit reads a layer's files back with it)."""
    parts = split_member_name(path)
    if not parts:
        raise InvalidImage(f"{path!r} is not a file")
    tree = _Tree(root)
    try:
        # O_NONBLOCK: a FIFO in its place must not hang the open (refused just below)
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=tree.parent(parts, create=False))
    finally:
        tree.close()
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidImage(f"{path!r} is not a regular file")
    return fd


def apply_layer(fileobj, dest: str, whiteouts: str = "overlay", record=None) -> int:
    """Unpack one (uncompressed) layer tar from `fileobj` into `dest`.

    Reads the stream to its end, so a hashing wrapper around `fileobj` sees every
    byte. Returns the bytes of file content written. Raises InvalidImage for a
    corrupt or hostile archive; `dest` is then in an unspecified state and the
    caller throws it away. `record` (a tarsplit.Recorder) is given every byte that
    is not a regular file's content as written, so the tar can be rebuilt.
    """
    if whiteouts not in ("overlay", "aufs"):
        raise ValueError(whiteouts)
    tree = _Tree(dest)
    total = 0
    next_check = _SPACE_CHECK
    stream = _Input(fileobj, record)
    try:
        members = Reader(stream)
        try:
            for m in members:
                total += _apply_member(tree, stream, m, whiteouts)
                if total >= next_check:
                    next_check = total + _SPACE_CHECK
                    _check_space(dest, total)
        except TarFormatError as e:
            if e.at_start:
                raise InvalidImage(f"layer is not a valid tar archive: {e}") from None
            raise InvalidImage(f"layer archive is corrupt or truncated: {e}") from None
        # only zeros (the end-of-archive blocks and record padding), or nothing,
        # may follow the last member
        if not stream.only_zeros_from(members.end):
            raise InvalidImage("layer archive is corrupt or truncated after its last complete member")
        for parts, mtime in reversed(tree.dir_times):
            try:
                if parts:
                    os.utime(parts[-1], (mtime, mtime), dir_fd=tree.parent(list(parts), create=False),
                             follow_symlinks=False)
                else:
                    os.utime(tree.fd, (mtime, mtime))
            except (OSError, InvalidImage):
                pass  # the directory was replaced later in the layer
    finally:
        tree.close()
    return total


def _check_space(dest: str, written: int) -> None:
    st = os.statvfs(dest)
    if st.f_bavail * st.f_frsize < MIN_FREE:
        raise InvalidImage(f"unpacking stopped after {written >> 20} MiB: less than {MIN_FREE >> 20} MiB "
                           "would be left on the store's file system (a decompression bomb?)")


class _Input:
    """The layer stream, read in large pieces (into two reused buffers in turn when
    the source has readinto) and handed out two ways: small reads and forward seeks for
    the tar headers, and `copy_to`, which writes a member's data to its file
    straight from the piece (no copy in Python). It keeps the last bytes the
    header reader consumed, so the end of the archive can be checked after it."""

    KEEP = 1 << 16
    # what may follow the last member: end-of-archive blocks and record padding
    MAX_TRAILER = 2 * KEEP

    def __init__(self, f, record=None) -> None:
        self.f = f
        self.rec = record  # a tarsplit.Recorder, or None
        self._readinto = getattr(f, "readinto", None)
        # two buffers, used in turn: the source may still be hashing the last one
        # (HashingReader in the background). Private anonymous maps, not bytearrays:
        # their pages are zeroed only when first touched, so a small layer does not
        # pay for clearing 2 MiB (~1 ms) (and private, unlike mmap's default of
        # shared memory, whose faults cost more)
        self.bufs = tuple(memoryview(mmap.mmap(-1, _CHUNK, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS))
                          for _ in range(2)) if self._readinto is not None else None
        self.turn = 0
        self.piece: bytes | memoryview = b""  # the source's latest read
        self.off = 0      # how much of it is consumed
        self.pos = 0      # stream offset of piece[off]
        self.tail = bytearray()  # the last bytes read() or seek() consumed; they end at `pos`

    def _take(self, n: int) -> bytes | memoryview:
        """Up to n bytes (n > 0) of the current piece, fetching the next one when it
        is used up; empty at the end of the stream. What it returns is valid until
        the next call (it may be a view of the reused buffer)."""
        if self.off >= len(self.piece):
            if self.bufs is not None:
                buf = self.bufs[self.turn]
                self.turn ^= 1
                self.piece = buf[: self._readinto(buf) or 0]
            else:
                self.piece = self.f.read(_CHUNK)
            self.off = 0
            if not self.piece:
                return b""
        piece, off = self.piece, self.off
        end = min(len(piece), off + n)
        self.off = end
        self.pos += end - off
        return piece if off == 0 and end == len(piece) else piece[off:end]

    def _remember(self, b: bytes) -> None:
        if len(b) >= self.KEEP:
            self.tail = bytearray(b[-self.KEEP:])
        else:
            self.tail += b
            if len(self.tail) > 2 * self.KEEP:
                del self.tail[: len(self.tail) - self.KEEP]

    def read(self, n: int = -1) -> bytes:
        parts = []
        want = n if n >= 0 else 1 << 62
        while want > 0:
            b = self._take(want)
            if not b:
                break
            parts.append(bytes(b))
            want -= len(b)
        out = parts[0] if len(parts) == 1 else b"".join(parts)
        self._remember(out)
        if self.rec is not None:
            self.rec.raw += out
        return out

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0 or offset < self.pos:
            raise TarFormatError("seeking backwards is not allowed")
        while self.pos < offset:
            b = self._take(offset - self.pos)
            if not b:
                break  # the read that follows finds the end
            self._remember(b)
            if self.rec is not None:
                self.rec.raw += b
        return self.pos

    def copy_to(self, fd: int, n: int, inline: bool = False) -> int:
        """Write the next n bytes of the stream to `fd`; returns how many there were.
        For the record they are the current member's content, or, `inline`, bytes
        to keep as they are (a sparse file's data is not where the tar had it)."""
        done = 0
        rec = self.rec
        while done < n:
            b = self._take(n - done)
            if not b:
                break
            view = memoryview(b)
            while view:
                view = view[os.write(fd, view):]
            done += len(b)
            if rec is not None:
                if inline:
                    rec.raw += b
                else:
                    rec.content(len(b))
        self.tail.clear()  # a member's data: the end of the archive lies after it
        return done

    def only_zeros_from(self, offset: int) -> bool:
        """Read the stream to its end; True if every byte from `offset` on is zero
        and there are at most MAX_TRAILER of them."""
        start = self.pos - len(self.tail)
        ok = start <= offset <= self.pos and self.tail.count(0, offset - start) == len(self.tail) - (offset - start)
        trailing = self.pos - offset
        while b := self._take(_CHUNK):
            if self.rec is not None:
                self.rec.raw += b
            trailing += len(b)
            if ok and (trailing > self.MAX_TRAILER or bytes(b).count(0) != len(b)):
                ok = False
        return ok


def _apply_member(tree: _Tree, stream: "_Input", m: Member, whiteouts: str) -> int:
    parts = split_member_name(m.name)
    if not parts:  # the root entry "./": keep the destination's own metadata
        return 0
    name = parts[-1]
    if name.startswith(WHITEOUT_PREFIX) and whiteouts == "overlay":
        pfd = tree.parent(parts)
        if name == OPAQUE_MARKER:
            os.setxattr(pfd, OVERLAY_OPAQUE_XATTR, b"y")
        else:
            hidden = name[len(WHITEOUT_PREFIX):]
            if not hidden or hidden in (".", ".."):
                raise InvalidImage(f"layer member {m.name!r} is not a valid whiteout")
            tree.clear_slot(pfd, hidden, keep_dir=False)
            os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
        return 0

    if name.startswith(WHITEOUT_PREFIX) and name != OPAQUE_MARKER and whiteouts == "aufs":
        # aufs format: the marker is kept, but, as in overlay's conversion, it also
        # replaces an entry of that name written earlier in this same layer
        hidden = name[len(WHITEOUT_PREFIX):]
        if not hidden or hidden in (".", ".."):
            raise InvalidImage(f"layer member {m.name!r} is not a valid whiteout")
        tree.clear_slot(tree.parent(parts), hidden, keep_dir=False)
    pfd = tree.parent(parts)
    if m.isdir():
        tree.clear_slot(pfd, name, keep_dir=True)
        try:
            os.mkdir(name, 0o700, dir_fd=pfd)
        except FileExistsError:
            pass
        fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
        try:
            os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.mode & 0o7777)
            _apply_xattrs(fd, m.pax)
        finally:
            os.close(fd)
        tree.dir_times.append((tuple(parts), m.mtime))
        return 0
    if m.isreg():
        tree.clear_slot(pfd, name, keep_dir=False)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        written = 0
        try:
            if stream.tell() != m.offset_data:
                raise InvalidImage(f"layer archive is corrupt: {m.name!r} is not where its header says")
            if stream.rec is not None:
                stream.rec.path = "/".join(parts)
            for offset, length in m.sparse or ((0, m.size),):
                if m.sparse is not None:
                    os.lseek(fd, offset, os.SEEK_SET)  # the gap before it stays a hole
                done = 0
                while done < length:
                    step = min(length - done, _SPACE_CHECK)
                    got = stream.copy_to(fd, step, inline=m.sparse is not None)
                    done += got
                    if got < step:
                        raise InvalidImage(f"layer archive is corrupt or truncated: {m.name!r} ends early")
                    if (written + done) // _SPACE_CHECK != (written + done - got) // _SPACE_CHECK:
                        _check_space(tree.root, written + done)  # another 32 MiB
                written += done
            if m.sparse is not None:
                os.ftruncate(fd, m.realsize)
            if written != m.size:
                raise InvalidImage(f"layer member {m.name!r} is truncated")
            os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.mode & 0o7777)
            _apply_xattrs(fd, m.pax)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)
        return m.realsize
    if m.issym():
        tree.clear_slot(pfd, name, keep_dir=False)
        os.symlink(m.linkname, name, dir_fd=pfd)
        os.chown(name, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        try:
            os.utime(name, (m.mtime, m.mtime), dir_fd=pfd, follow_symlinks=False)
        except OSError:
            pass
        tree._drop_cache()
        return 0
    if m.islnk():
        target = split_member_name(m.linkname)
        if not target:
            raise InvalidImage(f"layer member {m.name!r} is a hard link to the root")
        tree.clear_slot(pfd, name, keep_dir=False)
        # open the target's parent without following symlinks; the link itself is
        # made with linkat(2) without AT_SYMLINK_FOLLOW, so a symlink is linked, not followed
        tfd = os.dup(tree.parent(target, create=False)) if target[:-1] != parts[:-1] else os.dup(pfd)
        try:
            pfd = tree.parent(parts)
            try:
                st = os.stat(target[-1], dir_fd=tfd, follow_symlinks=False)
            except FileNotFoundError:
                raise InvalidImage(f"layer member {m.name!r} links to missing {m.linkname!r}") from None
            if stat.S_ISDIR(st.st_mode):
                raise InvalidImage(f"layer member {m.name!r} is a hard link to a directory")
            os.link(target[-1], name, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)
        return 0
    if m.isfifo():
        tree.clear_slot(pfd, name, keep_dir=False)
        os.mkfifo(name, 0o600, dir_fd=pfd)
        os.chown(name, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        os.chmod(name, m.mode & 0o7777, dir_fd=pfd)  # after chown, which clears setuid bits
        os.utime(name, (m.mtime, m.mtime), dir_fd=pfd)
        return 0
    # character and block devices: never created from an image; the container's /dev
    # is made by the runtime. Other types (sockets, unknown) are skipped as tar does.
    return 0
