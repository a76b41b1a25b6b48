"""`cp`: files between a container and the host, with Docker's path rules, safe
against whatever the container put in its file system.

The container's side runs in a forked helper that holds the container's root as a
directory fd:

- running: `/proc/<pid>/root` (its root in its own mount namespace, mounts and all);
- stopped, overlay2: the helper unshares a mount namespace of its own and mounts
  the container's overlay there, privately (it goes when the helper exits);
- stopped, vfs: the container's copy, `rootfs/`.

Every container path is resolved by the kernel *inside* that root (openat2 with
RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): `..` stops at the container's `/` and a
symlink to `/etc` means the container's /etc, never the host's. Below the resolved
path nothing is followed at all: trees are walked through directory fds opened
O_NOFOLLOW, and archives are unpacked by image/tarsafe.py's member-by-member
extractor relative to the target directory's fd. The same extractor unpacks what
comes out of a container onto the host, so a hostile tree cannot reach outside the
destination there either.

Between the helper and this process flows a tar (Docker's own cp format: entries
named from the source's base name) and, on a second pipe, status lines:
`ok <kind>` once the container's path is resolved, then `done` or `err <message>`.
"""

from __future__ import annotations

import os
import stat

from ..core.paths import clean
from ..errors import ContainerNotFound, DockyardError, NotFound

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40


class CopyError(DockyardError):
    """A cp path rule was broken (Docker's messages: "no such directory", ...)."""


class CopyResult:
    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size  # bytes of tar that passed, as Docker reports them


# ---- paths ----------------------------------------------------------------------

def _clean(path: str) -> str:
    """filepath.Clean of a container path, made absolute."""
    return clean("/" + path)


def _contents_only(path: str) -> bool:
    """`SRC/.`: the directory's content, not the directory."""
    return path == "." or path.endswith("/.")


def _asserts_dir(path: str) -> bool:
    return path.endswith("/") or _contents_only(path)


def _base(path: str) -> str:
    c = _clean(path)
    return c.rsplit("/", 1)[-1] or "/"


# ---- the container's root -------------------------------------------------------

class _Target:
    """How the helper reaches the container's root."""

    __slots__ = ("kind", "pid", "home", "mount", "running", "name", "uid_map", "gid_map")

    def __init__(self, engine, c) -> None:
        self.home = engine.layout.container(c.id)
        self.name = c.name
        self.running = c.state == "running" and bool(c.pid)
        self.pid = c.pid if self.running else 0
        self.mount = None
        if not os.path.isdir(self.home):
            raise ContainerNotFound(f"No such container: {c.id}")
        if not self.running:
            from ..core.jsonenc import loads
            from ..oci.spec import ANNOTATION_ROOTFS_MOUNT
            from ..snapshot import Mount

            with open(self.home + "/config.json", "rb") as f:
                spec = loads(f.read())
            encoded = (spec.get("annotations") or {}).get(ANNOTATION_ROOTFS_MOUNT)
            self.mount = Mount.decode(encoded) if encoded else None
        maps = c.config.get("IDMappings") or {}
        self.uid_map = maps.get("UidMap") or []
        self.gid_map = maps.get("GidMap") or []

    def open_root(self) -> int:
        """In the helper: an O_PATH fd of the container's root."""
        if self.running:
            try:
                return os.open(f"/proc/{self.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                raise CopyError(f"container {self.name} stopped while copying") from None
        rootfs = self.home + "/rootfs"
        m = self.mount
        if m is not None and m.type != "bind":
            from .._sys import libc

            libc.unshare(libc.CLONE_NEWNS)
            libc.mount(None, "/", None, libc.MS_REC | libc.MS_SLAVE)
            if m.chdir:
                os.chdir(m.chdir)
            libc.mount(m.source, rootfs, m.type, 0, ",".join(m.options))
            os.chdir("/")
        elif m is not None and m.source != rootfs:
            rootfs = m.source
        return os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def to_host(self, uid: int, gid: int) -> tuple[int, int]:
        return _map(self.uid_map, uid, "containerID", "hostID"), _map(self.gid_map, gid, "containerID", "hostID")

    def from_host(self, uid: int, gid: int) -> tuple[int, int]:
        return _map(self.uid_map, uid, "hostID", "containerID"), _map(self.gid_map, gid, "hostID", "containerID")


def _map(ranges: list[dict], n: int, frm: str, to: str) -> int:
    if not ranges:
        return n
    for r in ranges:
        if r[frm] <= n < r[frm] + r["size"]:
            return r[to] + n - r[frm]
    return 65534 if to == "containerID" else n


def _open_dir_in(root: int, path: str) -> int:
    """An O_PATH fd of directory `path` resolved inside `root`."""
    from .._sys import libc

    flags = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        return libc.openat2(root, path, flags, libc.RESOLVE_IN_ROOT | libc.RESOLVE_NO_MAGICLINKS)
    except OSError as e:
        import errno

        if e.errno != errno.ENOSYS:
            raise
    return _walk_in_root(root, path)


def _walk_in_root(root: int, path: str) -> int:
    """openat2's RESOLVE_IN_ROOT done by hand (kernels before 5.6): one component at a
    time, O_NOFOLLOW, symlinks re-resolved from the root, `..` never above it."""
    todo = [p for p in path.split("/") if p and p != "."]
    stack = [os.dup(root)]
    links = 0
    try:
        while todo:
            name = todo.pop(0)
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            cur = stack[-1]
            st = os.stat(name, dir_fd=cur, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(40, "Too many levels of symbolic links", path)
                target = os.readlink(name, dir_fd=cur)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo = [p for p in target.split("/") if p and p != "."] + todo
                continue
            stack.append(os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=cur))
        return os.dup(stack[-1])
    finally:
        for fd in stack:
            os.close(fd)


class _Resolved:
    """A container path: its parent directory (fd) and final name, and the lstat of
    the entry if it exists."""

    __slots__ = ("parent", "name", "st", "path")

    def __init__(self, parent: int, name: str, st, path: str) -> None:
        self.parent = parent
        self.name = name
        self.st = st
        self.path = path

    def close(self) -> None:
        os.close(self.parent)


def _resolve(root: int, path: str, follow: bool) -> _Resolved:
    """Resolve `path` inside `root`; the final component is followed only if
    `follow` (and then, again, only inside the root). FileNotFoundError if the
    parent directory does not exist."""
    path = _clean(path)
    for _ in range(_MAX_LINKS):
        if path == "/":
            return _Resolved(os.dup(root), ".", os.stat(".", dir_fd=root), "/")
        parent_path, _, name = path.rpartition("/")
        try:
            pfd = _open_dir_in(root, parent_path or "/")
        except NotADirectoryError:
            raise FileNotFoundError(parent_path) from None
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if follow and st is not None and stat.S_ISLNK(st.st_mode):
            target = os.readlink(name, dir_fd=pfd)
            os.close(pfd)
            path = _clean(target if target.startswith("/") else f"{parent_path}/{target}")
            continue
        return _Resolved(pfd, name, st, path)
    raise OSError(40, "Too many levels of symbolic links", path)


# ---- tar out, tar in ---------------------------------------------------------------

def _write_tree(tf, pfd: int, name: str, arcname: str, owner, skip_dirs=(), inside: str = "") -> None:
    """Add the entry `name` of directory `pfd` to `tf` and, for a directory, all it
    holds; nothing is followed. `owner(uid, gid)` maps ownership; directories whose
    container path is in `skip_dirs` (a running container's /proc, /sys) are added
    empty."""
    from ..snapshot.diff import add_entry

    real = f"/proc/self/fd/{pfd}/{name}"
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        return  # gone meanwhile
    add_entry(tf, real, arcname, st, owner(st.st_uid, st.st_gid) if owner else None)
    if not stat.S_ISDIR(st.st_mode) or inside in skip_dirs:
        return
    try:
        fd = os.open(name, _DIR, dir_fd=pfd)
    except OSError:
        return  # replaced by something else meanwhile: not followed
    try:
        for child in sorted(os.listdir(fd)):
            _write_tree(tf, fd, child, f"{arcname}/{child}", owner, skip_dirs, f"{inside}/{child}")
    finally:
        os.close(fd)


def _extract(stream, dest_fd: int, rename, owner) -> None:
    """Unpack a tar from `stream` into the directory `dest_fd` with tarsafe's
    defences. `rename(name)` maps a member name (None: skip it); `owner(uid, gid)`
    maps ownership (None: as in the archive)."""
    from ..errors import InvalidImage
    from ..image.tarreader import Reader, TarFormatError
    from ..image.tarsafe import _Input, _Tree, _apply_member

    tree = _Tree(dest_fd)
    try:
        stream = _Input(stream)
        try:
            for m in Reader(stream):
                name = rename(m.name)
                if name is None:
                    continue
                m.name = name
                if m.islnk():
                    link = rename(m.linkname)
                    if link is None:
                        continue
                    m.linkname = link
                if owner is not None:
                    m.uid, m.gid = owner(m.uid, m.gid)
                try:
                    _apply_member(tree, stream, m, "none")
                except InvalidImage as e:
                    raise CopyError(e.message.replace("layer member", "archive member")
                                    .replace("layer ", "archive ")) from None
        except TarFormatError as e:
            raise CopyError(f"invalid tar archive: {e}") from None
        for parts, mtime in reversed(tree.dir_times):
            try:
                os.utime(parts[-1], (mtime, mtime), dir_fd=tree.parent(list(parts), create=False),
                         follow_symlinks=False)
            except (OSError, InvalidImage):
                pass
    finally:
        tree.close()


def _renamer(top: str, new: str | None):
    """Map member names of a cp archive: the top entry `top` becomes `new`, or, with
    `new` None, is dropped and its content lands in the target directory itself."""
    def rename(name: str) -> str | None:
        parts = [p for p in name.split("/") if p and p != "."]
        if not parts:
            return None
        if parts[0] != top:
            return None  # not under the entry being copied: Docker ignores it too
        rest = parts[1:]
        if new is None:
            return "/".join(rest) if rest else None
        return "/".join([new] + rest)
    return rename


class _Counter:
    """A read end that counts the bytes passing through."""

    def __init__(self, f) -> None:
        self.f = f
        self.n = 0

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.n += len(b)
        return b


class _CountingWriter:
    def __init__(self, f) -> None:
        self.f = f
        self.n = 0

    def write(self, b) -> int:
        self.f.write(b)
        self.n += len(b)
        return len(b)

    def flush(self) -> None:
        self.f.flush()


# ---- the helper process -----------------------------------------------------------

class _Helper:
    """A forked process doing the container's side; `job(root_fd, status, data)`
    runs in it. Status lines come back on a pipe."""

    def __init__(self, engine, target: _Target, job, data_to_child: bool) -> None:
        engine.close()  # an SQLite connection must not cross a fork
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        data_r, data_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(status_r)
                if data_to_child:
                    os.close(data_w)
                    data = os.fdopen(data_r, "rb", buffering=1 << 16)
                else:
                    os.close(data_r)
                    data = os.fdopen(data_w, "wb", buffering=1 << 16)
                try:
                    root = target.open_root()
                    job(root, lambda line: _say(status_w, line), data)
                    data.close()
                    _say(status_w, "done")
                    code = 0
                except DockyardError as e:
                    _say(status_w, "err " + e.message)
                except BrokenPipeError:
                    pass
                except OSError as e:
                    _say(status_w, "err " + _os_message(e))
            except BaseException:
                pass
            finally:
                os._exit(code)
        os.close(status_w)
        self.pid = pid
        if data_to_child:
            os.close(data_r)
            self.data = os.fdopen(data_w, "wb", buffering=1 << 16)
        else:
            os.close(data_w)
            self.data = os.fdopen(data_r, "rb", buffering=1 << 16)
        self.status = os.fdopen(status_r, "r")

    def line(self) -> str:
        return self.status.readline().rstrip("\n")

    def expect(self, prefix: str) -> str:
        line = self.line()
        if line.startswith("err "):
            self.finish()
            raise _error(line[4:])
        if not line.startswith(prefix):
            self.finish()
            raise DockyardError("the copy helper exited unexpectedly")
        return line[len(prefix):].strip()

    def finish(self) -> None:
        for f in (self.data, self.status):
            try:
                f.close()
            except OSError:
                pass
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = 0


def _say(fd: int, line: str) -> None:
    os.write(fd, (line.replace("\n", " ") + "\n").encode())


def _os_message(e: OSError) -> str:
    return f"{e.filename}: {e.strerror}" if e.filename else str(e.strerror or e)


def _error(message: str) -> DockyardError:
    if message.startswith("Could not find the file"):
        return NotFound(message)
    return CopyError(message)


# ---- container -> host --------------------------------------------------------------

def copy_from(engine, ref: str, src: str, dest: str | None, *, follow_link: bool = False,
              archive: bool = False, out=None) -> CopyResult:
    """Copy `src` of the container to the host path `dest`, or, with `dest` None,
    write Docker's tar of it to the binary stream `out`."""
    import tarfile

    c = engine.container(ref)
    target = _Target(engine, c)
    name = c.name
    contents = _contents_only(src)
    must_be_dir = _asserts_dir(src)
    top = _base(src)
    if top == "/":
        top = "."
    skip = ("/proc", "/sys") if target.running else ()

    def job(root: int, say, data) -> None:
        try:
            r = _resolve(root, src, follow_link or must_be_dir)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"Could not find the file {_clean(src)} in container {name}") from None
        try:
            if r.st is None:
                raise NotFound(f"Could not find the file {_clean(src)} in container {name}")
            is_dir = stat.S_ISDIR(r.st.st_mode)
            if must_be_dir and not is_dir:
                raise CopyError("not a directory")
            say(f"ok {'dir' if is_dir else 'file'}")
            owner = target.from_host if target.uid_map else None
            with tarfile.open(fileobj=data, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                _write_tree(tf, r.parent, r.name, top, owner, skip, r.path if r.path != "/" else "")
        finally:
            r.close()

    # what the host side has to do, checked before the container is touched
    plan = None if dest is None else _host_dest(dest)
    helper = _Helper(engine, target, job, data_to_child=False)
    try:
        kind = helper.expect("ok ")
        if dest is None:
            counter = _CountingWriter(out)
            while chunk := helper.data.read(1 << 16):
                counter.write(chunk)
            counter.flush()
            size = counter.n
        else:
            dir_fd, rename = _host_target(plan, dest, kind == "dir", contents, top)
            counter = _Counter(helper.data)
            try:
                # -a keeps the ids the tar carries (the container's own); otherwise the
                # files belong to whoever runs cp, as with Docker
                owner = None if archive else (lambda u, g: (os.getuid(), os.getgid()))
                _extract(counter, dir_fd, rename, owner)
                while counter.read(1 << 16):
                    pass
            finally:
                os.close(dir_fd)
            size = counter.n
        helper.data.close()
        helper.expect("done")
    finally:
        helper.finish()
    return CopyResult(size)


class _HostDest:
    __slots__ = ("path", "exists", "is_dir")

    def __init__(self, path: str, exists: bool, is_dir: bool) -> None:
        self.path = path
        self.exists = exists
        self.is_dir = is_dir


def _host_dest(dest: str) -> _HostDest:
    try:
        st = os.stat(dest)  # the host is the user's: a symlink at the destination is followed
        return _HostDest(dest, True, stat.S_ISDIR(st.st_mode))
    except FileNotFoundError:
        parent = os.path.dirname(os.path.abspath(dest.rstrip("/") or "/"))
        if not os.path.isdir(parent):
            raise CopyError(f"lstat {parent}: no such file or directory") from None
        return _HostDest(dest, False, False)


def _host_target(plan: _HostDest, dest: str, src_is_dir: bool, contents: bool, top: str):
    """(directory fd, renamer) for unpacking on the host, by Docker's rules."""
    if plan.exists:
        if plan.is_dir:
            fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            return fd, _renamer(top, None if contents and src_is_dir else top)
        if src_is_dir:
            raise CopyError("cannot copy directory")
        if dest.endswith("/"):
            raise CopyError("not a directory")
        real = os.path.realpath(dest)
        fd = os.open(os.path.dirname(real), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return fd, _renamer(top, os.path.basename(real))
    if dest.endswith("/") and not src_is_dir:
        raise CopyError("no such directory")
    path = os.path.abspath(dest)
    fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return fd, _renamer(top, os.path.basename(path))


# ---- host -> container --------------------------------------------------------------

def copy_to(engine, ref: str, src: str | None, dest: str, *, follow_link: bool = False,
            archive: bool = False, stream=None) -> CopyResult:
    """Copy the host path `src` into the container at `dest`; with `src` None, unpack
    the tar read from the binary stream `stream` into the directory `dest`."""
    import tarfile

    c = engine.container(ref)
    if (c.config.get("HostConfig") or {}).get("ReadonlyRootfs"):
        raise CopyError("container rootfs is marked read-only")
    target = _Target(engine, c)
    name = c.name
    if src is not None:
        src_path = src
        try:
            st = os.stat(src_path) if follow_link else os.lstat(src_path)
        except FileNotFoundError:
            raise CopyError(f"lstat {os.path.abspath(src_path)}: no such file or directory") from None
        src_is_dir = stat.S_ISDIR(st.st_mode)
        if _asserts_dir(src_path) and not src_is_dir:
            raise CopyError("not a directory")
        contents = _contents_only(src_path)
        top = os.path.basename(os.path.abspath(src_path)) or "."
    else:
        src_is_dir, contents, top = True, True, ""

    if archive:
        owner = (lambda u, g: target.to_host(u, g)) if target.uid_map else None
    else:
        root_ids = target.to_host(0, 0)
        owner = lambda u, g: root_ids  # noqa: E731 - Docker: files belong to the container's root

    def job(root: int, say, data) -> None:
        try:
            r = _resolve(root, dest, True)
        except (FileNotFoundError, NotADirectoryError):
            parent = _clean(dest).rpartition("/")[0] or "/"
            raise NotFound(f"Could not find the file {parent} in container {name}") from None
        try:
            exists = r.st is not None
            is_dir = exists and stat.S_ISDIR(r.st.st_mode)
            if src is None:
                if not exists:
                    raise NotFound(f"Could not find the file {_clean(dest)} in container {name}")
                if not is_dir:
                    raise CopyError(f'extraction point is not a directory: "{_clean(dest)}"')
                dir_fd = os.open(r.name, _DIR, dir_fd=r.parent)
                rename = lambda n: "/".join(p for p in n.split("/") if p and p != ".") or None  # noqa: E731
            elif exists and is_dir:
                dir_fd = os.open(r.name, _DIR, dir_fd=r.parent)
                rename = _renamer(top, None if contents and src_is_dir else top)
            elif exists:
                if src_is_dir:
                    raise CopyError("cannot copy directory")
                if dest.endswith("/"):
                    raise CopyError("not a directory")
                dir_fd = os.open(".", _DIR, dir_fd=r.parent)
                rename = _renamer(top, r.name)
            else:
                if dest.endswith("/") and not src_is_dir:
                    raise CopyError("no such directory")
                dir_fd = os.open(".", _DIR, dir_fd=r.parent)
                rename = _renamer(top, r.name)
        finally:
            r.close()
        try:
            say("ok target")
            _extract(data, dir_fd, rename, owner)
            while data.read(1 << 16):
                pass
        finally:
            os.close(dir_fd)

    helper = _Helper(engine, target, job, data_to_child=True)
    try:
        helper.expect("ok ")
        counter = _CountingWriter(helper.data)
        try:
            if src is None:
                while chunk := stream.read(1 << 16):
                    counter.write(chunk)
            else:
                with tarfile.open(fileobj=counter, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                    parent, base = os.path.split(os.path.abspath(src_path))
                    if follow_link:
                        real = os.path.realpath(src_path)
                        parent, base = os.path.split(real)
                    pfd = os.open(parent or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                    try:
                        _write_tree(tf, pfd, base or ".", top, None)
                    finally:
                        os.close(pfd)
            helper.data.close()
        except BrokenPipeError:
            pass  # the helper failed: its status line says why
        helper.expect("done")
    finally:
        helper.finish()
    return CopyResult(counter.n)


__all__ = ["copy_from", "copy_to", "CopyResult", "CopyError"]
