"""COPY and ADD: sources (the context, another stage, an image, a heredoc) written as
one layer tar at the destination, without a container.

Docker's rules: a directory source copies its content, not itself; a file goes to
`DEST/name` when DEST ends with `/` or is a directory in the image (or several
sources were given), else to DEST itself; a relative DEST is relative to WORKDIR;
missing directories are made. The destination and every path under it is placed
through the image's own file system (symlinks followed inside its root, as
BuildKit's copy does), so `COPY x /bin/` lands in `/usr/bin` where `/bin` is a link.
Entries copied from the context belong to root unless `--chown`; from a stage or an
image they keep their owners. Parents that already exist keep their metadata.

ADD unpacks a local tar (plain, gzip, bzip2 or xz) into DEST. Every member name is
checked as a layer's would be (image/tarsafe.split_member_name: no absolute paths,
no `..`), a member may not write through a symlink the archive made, whiteout
names are refused, devices are skipped; the layer is then unpacked by tarsafe, the
same defences again. URLs are refused: builds have no network.
"""

from __future__ import annotations

import hashlib
import os
import stat

from ..errors import DockyardError, InvalidImage
from .context import Item, Match, clean, go_match, has_glob, hash_items

_TAR_MAGIC_OFFSET = 257


def _err(message: str):
    from .builder import BuildError

    return BuildError(message)


class _FSSource:
    """Sources read from a state's or an image's layers."""

    def __init__(self, fs, layer_dirs: list[str]) -> None:
        self.fs = fs
        self.layer_dirs = layer_dirs

    def _root_item(self) -> Item:
        st = os.stat(self.layer_dirs[-1]) if self.layer_dirs else os.stat("/")
        return Item("", self.layer_dirs[-1] if self.layer_dirs else "/", st)

    def _match(self, rel: str, name: str) -> Match | None:
        r, found = self.fs.resolve(rel, follow=True)
        if found is None:
            return None
        if not r:
            items = [self._root_item()]
        else:
            items = [Item("", found[0], found[1])]
        if stat.S_ISDIR(items[0].st.st_mode):
            base = len(r) + 1 if r else 0
            items += [Item(child[base:], real, st) for child, real, st in self.fs.walk(r)]
        return Match(name, items)

    def match(self, source: str) -> list[Match]:
        rel = clean(source)
        if not has_glob(rel):
            m = self._match(rel, rel.rsplit("/", 1)[-1] if rel else "")
            return [m] if m else []
        current = [""]
        comps = rel.split("/")
        for i, comp in enumerate(comps):
            nxt = []
            for d in current:
                names = self.fs.children.get(d, []) if has_glob(comp) else [comp]
                for n in names:
                    if has_glob(comp) and not go_match(comp, n):
                        continue
                    p = f"{d}/{n}" if d else n
                    if i < len(comps) - 1:
                        r, found = self.fs.resolve(p)
                        if found is not None and (not r or stat.S_ISDIR(found[1].st_mode)):
                            nxt.append(r)
                    elif self.fs.get(p) is not None:
                        nxt.append(p)
            current = nxt
        out = []
        for p in sorted(current):
            m = self._match(p, p.rsplit("/", 1)[-1])
            if m:
                out.append(m)
        return out


class CopyStep:
    def __init__(self, sc, ins, add: bool) -> None:
        self.sc = sc
        self.b = sc.b
        self.ins = ins
        self.add = add
        self.matches: list[tuple[str, list[Match], bool]] = []  # (source as given, matches, from context)
        self.tmpdir: str | None = None
        self.keep_owner = False

    def close(self) -> None:
        if self.tmpdir:
            from ..core.files import rmtree

            rmtree(self.tmpdir)
            self.tmpdir = None

    # ---- what the step takes ------------------------------------------------------

    def _heredoc_item(self, heredoc) -> Match:
        from ..image.ingest import scratch_dir
        from .words import expand_heredoc

        if self.tmpdir is None:
            self.tmpdir = scratch_dir(self.b.engine.layout.root)
        content = heredoc.content
        if heredoc.expand:
            content = expand_heredoc(content, self.sc.expansion_env())
        path = f"{self.tmpdir}/{len(os.listdir(self.tmpdir))}"
        with open(path, "wb") as f:
            f.write(content.encode("utf-8", "surrogateescape"))
        os.chmod(path, 0o644)
        return Match(heredoc.name, [Item("", path, os.lstat(path))])

    def prepare(self) -> tuple[str, str]:
        """Resolve sources and destination; returns (cache key, history text)."""
        from .builder import _key
        from .layerfs import layer_fs

        ins, sc, b = self.ins, self.sc, self.b
        words = list(ins.args) if ins.json else list(ins.words)
        flags = ins.flags
        for unsupported in ("exclude", "parents"):
            if flags.get(unsupported) not in (None, "false"):
                raise _err(f"{ins.cmd} --{unsupported} is not supported by this builder")
        srcs, dest_word = words[:-1], words[-1]
        dest = sc.x(dest_word, ins)
        self.dest_hint_dir = dest.endswith("/") or dest in (".", "") or dest.endswith("/.")
        workdir = sc.state.config.get("WorkingDir") or "/"
        self.dest = dest if dest.startswith("/") else os.path.join(workdir, dest)
        self.chown = sc.x(flags["chown"], ins) if flags.get("chown") else None
        self.chmod = None
        if flags.get("chmod"):
            text = sc.x(flags["chmod"], ins)
            try:
                self.chmod = int(text, 8)
                if not 0 <= self.chmod <= 0o7777:
                    raise ValueError
            except ValueError:
                raise _err(f"invalid chmod parameter: {text}") from None
        ident = "context"
        source = b.context
        frm = flags.get("from")
        if frm:
            i = b._stage_ref(frm, sc.stage.index)
            if i is not None:
                st = b.stage_results[i]
                ident = "stage:" + st.fs_key
                diff_ids = st.diff_ids()
            else:
                try:
                    img = b._ensure(frm)
                except DockyardError as e:
                    raise _err(f"failed to resolve source metadata for {frm}: {e.message}") from None
                ident = "image:" + img.id
                diff_ids = img.layers
            fs = layer_fs(b.engine, diff_ids)
            source = _FSSource(fs, [f"{b.engine.layout.layers}/{d[7:]}/diff" for d in diff_ids])
            self.keep_owner = True
        h = hashlib.sha256()
        shown = []
        total = 0
        for word in srcs:
            heredoc = ins.heredoc(word)
            if heredoc is not None:
                m = self._heredoc_item(heredoc)
                hash_items(h, m.items)
                self.matches.append((word, [m], True))
                shown.append(word)
                continue
            src = sc.x(word, ins)
            if src.startswith(("http://", "https://")) or (self.add and src.startswith("git@")):
                if self.add:
                    raise _err(f'ADD from a URL is not supported: "{src}" (builds here have no network; '
                               "download it into the context and COPY it)")
            shown.append(src)
            found = source.match(src)
            if not found:
                if source is b.context and b.context.root is None:
                    raise _err(f'failed to compute cache key: failed to calculate checksum of ref: "/{clean(src)}": '
                               "not found (this build has no context)")
                raise _err(f'failed to compute cache key: failed to calculate checksum of ref: "/{clean(src)}": not found')
            h.update(b"\1" + src.encode("utf-8", "surrogateescape"))
            for m in found:
                h.update(b"\2" + m.name.encode("utf-8", "surrogateescape"))
                if source is b.context:
                    total += hash_items(h, m.items)
                else:
                    h.update(str(len(m.items)).encode())
            self.matches.append((src, found, source is b.context))
        b.context.bytes_read += total
        if len(srcs) > 1 and not self.dest_hint_dir:
            raise _err(f"When using {ins.cmd} with more than one source file, the destination must be a "
                       "directory and end with a /")
        key = _key(sc.state.fs_key, ins.cmd, self.dest, self.dest_hint_dir, self.chown, self.chmod, ident,
                   h.hexdigest())
        flag_text = "".join(f"--{k}={v} " for k, v in flags.items() if isinstance(v, str))
        created_by = f"{ins.cmd} {flag_text}{' '.join(shown)} {dest} # buildkit"
        return key, created_by

    # ---- the layer --------------------------------------------------------------------

    def _owner(self, fs) -> tuple[int, int] | None:
        if self.chown is None:
            return None if self.keep_owner else (0, 0)
        from ..oci.users import resolve_user

        user, _, group = self.chown.partition(":")
        try:
            uid, gid, _, _ = resolve_user(self.chown, fs.read("/etc/passwd"), fs.read("/etc/group"))
        except DockyardError as e:
            raise _err(f"unable to convert uid/gid chown string to host mapping: {e.message}") from None
        if not group and user.isdigit():
            gid = uid  # BuildKit: a bare number is used for both
        return uid, gid

    def write(self):
        """Write the layer; returns its LayerRef."""
        from .image import layer_from_writer
        from .layerfs import layer_fs

        b = self.b
        fs = layer_fs(b.engine, self.sc.state.diff_ids())
        owner = self._owner(fs)

        def write(f) -> None:
            import tarfile

            from .builder import _TreeWriter

            with tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                tw = _TreeWriter(tf, fs, owner if owner is not None else (0, 0))
                self._write(tf, tw, fs, owner)

        with b.engine._ingest() as ing:
            return layer_from_writer(ing, b.engine.layout.root, write)

    def _place(self, fs, rel: str) -> str:
        """Where `rel` (a path below the root) lands: its parent resolved in the
        image's file system, symlinks followed inside it."""
        parent, _, name = rel.rpartition("/")
        if not parent:
            return rel
        r, _ = fs.resolve(parent, follow=True)
        return f"{r}/{name}" if r else name

    def _write(self, tf, tw, fs, owner) -> None:
        from ..snapshot.diff import add_entry

        dest_rel, found = fs.resolve(self.dest, follow=True)
        dest_is_dir = found is not None and (not dest_rel or stat.S_ISDIR(found[1].st_mode))
        count = sum(len(ms) for _, ms, _ in self.matches)
        into_dir = self.dest_hint_dir or dest_is_dir or count > 1
        for src, ms, local in self.matches:
            for m in ms:
                top = m.items[0]
                if self.add and local and stat.S_ISREG(top.st.st_mode) and _is_archive(top.real):
                    tw.ensure_dir(dest_rel)
                    self._unpack(tf, tw, fs, top.real, src, dest_rel, owner)
                    continue
                if m.is_dir:
                    own = owner if owner is not None else (top.st.st_uid, top.st.st_gid)
                    tw.ensure_dir(dest_rel, mode=self.chmod if self.chmod is not None else stat.S_IMODE(top.st.st_mode),
                                  mtime=top.st.st_mtime, owner=own)
                    for it in m.items[1:]:
                        arc = self._place(fs, f"{dest_rel}/{it.rel}" if dest_rel else it.rel)
                        tw.ensure_dir(arc.rpartition("/")[0])
                        add_entry(tf, it.real, arc, it.st, owner, self._mode(it.st))
                        if stat.S_ISDIR(it.st.st_mode):
                            tw.done.add(arc)
                    continue
                if into_dir:
                    target = f"{dest_rel}/{m.name}" if dest_rel else m.name
                    tw.ensure_dir(dest_rel)
                else:
                    target = dest_rel
                target = self._place(fs, target)
                tw.ensure_dir(target.rpartition("/")[0])
                add_entry(tf, top.real, target, top.st, owner, self._mode(top.st))

    def _mode(self, st) -> int | None:
        if self.chmod is None or stat.S_ISLNK(st.st_mode):
            return None
        return self.chmod

    def _unpack(self, tf, tw, fs, path: str, src: str, dest_rel: str, owner) -> None:
        """Stream the archive's members into the layer under `dest_rel`."""
        import tarfile

        from ..image.tarsafe import WHITEOUT_PREFIX, split_member_name

        links: set[str] = set()
        try:
            with tarfile.open(path, mode="r|*") as archive:
                for m in archive:
                    try:
                        parts = split_member_name(m.name)
                    except InvalidImage as e:
                        raise _err(f"ADD {src}: {e.message.replace('layer member', 'archive member')}") from None
                    if not parts:
                        continue
                    if parts[-1].startswith(WHITEOUT_PREFIX):
                        raise _err(f"ADD {src}: archive member {m.name!r} has a reserved name (.wh.)")
                    if m.ischr() or m.isblk():
                        continue
                    raw = "/".join(parts)
                    for i in range(1, len(parts)):
                        if "/".join(parts[:i]) in links:
                            raise _err(f"ADD {src}: archive member {m.name!r} writes through a symlink "
                                       "the archive made")
                    arc = self._place(fs, f"{dest_rel}/{raw}" if dest_rel else raw)
                    tw.ensure_dir(arc.rpartition("/")[0])
                    if m.islnk():
                        try:
                            target = split_member_name(m.linkname)
                        except InvalidImage as e:
                            raise _err(f"ADD {src}: {e.message.replace('layer member', 'archive member')}") from None
                        m.linkname = "/".join(([dest_rel] if dest_rel else []) + target)
                    if m.issym():
                        links.add(raw)
                    else:
                        links.discard(raw)
                    if m.isdir():
                        tw.done.add(arc)
                    m.name = arc
                    if owner is not None and self.chown is not None:
                        m.uid, m.gid = owner
                        m.uname = m.gname = ""
                    tf.addfile(m, archive.extractfile(m) if m.isreg() else None)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise _err(f"ADD {src}: the archive is corrupt or truncated: {e}") from None


def _is_archive(path: str) -> bool:
    """A tar, possibly gzip/bzip2/xz-compressed (by content, as Docker decides)."""
    import bz2
    import gzip
    import lzma

    try:
        with open(path, "rb") as f:
            head = f.read(6)
            f.seek(0)
            if head[:2] == b"\x1f\x8b":
                opener = gzip.GzipFile(fileobj=f)
            elif head[:3] == b"BZh":
                opener = bz2.BZ2File(f)
            elif head == b"\xfd7zXZ\x00":
                opener = lzma.LZMAFile(f)
            else:
                opener = f
            block = opener.read(512)
    except (OSError, EOFError, lzma.LZMAError):
        return False
    return len(block) == 512 and block[_TAR_MAGIC_OFFSET:_TAR_MAGIC_OFFSET + 5] == b"ustar"
