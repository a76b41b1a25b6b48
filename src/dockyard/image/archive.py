"""`load` and `import`: images from `docker save` archives, OCI image layouts, and
plain root file system tarballs.

A docker-archive holds `manifest.json` (config path, RepoTags, layer paths per
image); an OCI image layout holds `oci-layout`, `index.json` and `blobs/sha256/`.
`docker save` from Docker 25 on writes both; the docker manifest wins because it
carries the tags. Archives are read member by member and never extracted as a
whole, so their paths cannot go anywhere; every blob is verified against its digest
and every layer against the DiffID the config lists.
"""

from __future__ import annotations

import json
import os
import tarfile

from ..core.clock import rfc3339, now_ns
from ..errors import InvalidImage, InvalidArgument
from ..oci import mediatypes, reference
from ..oci.digest import validate
from .ingest import Ingest, scratch_dir

MAX_JSON = 16 << 20  # manifests and configs are small; refuse to parse huge ones


def _norm(name: str) -> str:
    """An archive member name as a relative, normalised path ("." for the root)."""
    return os.path.normpath(name.lstrip("/") or ".")


class _Archive:
    """Random access to the regular files of a tar, following its internal symlinks."""

    def __init__(self, path: str) -> None:
        try:
            self.tf = tarfile.open(path, "r:")
        except (tarfile.TarError, OSError) as e:
            raise InvalidImage(f"archive is not a valid tar file: {e}") from None
        self.members: dict[str, tarfile.TarInfo] = {}
        try:
            for m in self.tf.getmembers():
                self.members[_norm(m.name)] = m
        except (tarfile.TarError, EOFError) as e:
            raise InvalidImage(f"archive is corrupt or truncated: {e}") from None

    def close(self) -> None:
        self.tf.close()

    def _resolve(self, name: str) -> tarfile.TarInfo | None:
        name = _norm(name)
        for _ in range(16):
            m = self.members.get(name)
            if m is None or not (m.issym() or m.islnk()):
                return m
            base = os.path.dirname(name) if m.issym() else ""
            name = _norm(os.path.join(base, m.linkname))
            if name == ".." or name.startswith("../"):
                return None
        return None

    def has(self, name: str) -> bool:
        m = self._resolve(name)
        return m is not None and m.isreg()

    def open(self, name: str):
        m = self._resolve(name)
        if m is None or not m.isreg():
            raise InvalidImage(f"archive has no file {name!r}")
        f = self.tf.extractfile(m)
        if f is None:
            raise InvalidImage(f"archive member {name!r} cannot be read")
        return f, m.size

    def json(self, name: str):
        f, size = self.open(name)
        if size > MAX_JSON:
            raise InvalidImage(f"archive member {name!r} is too large for a manifest")
        data = f.read()
        if len(data) != size:
            raise InvalidImage(f"archive member {name!r} is truncated")
        try:
            return json.loads(data), data
        except ValueError as e:
            raise InvalidImage(f"archive member {name!r} is not valid JSON: {e}") from None


def _spool(src, root: str) -> tuple[str, str]:
    """Copy a stream to a file in the store, decompressing gzip/bzip2/xz; returns
    (path, scratch dir to remove)."""
    tmpdir = scratch_dir(root)
    path = f"{tmpdir}/archive.tar"
    head = src.read(6)
    if head[:2] == b"\x1f\x8b":
        import gzip
        reader = gzip.GzipFile(fileobj=_Prefixed(head, src))
    elif head[:3] == b"BZh":
        import bz2
        reader = bz2.BZ2File(_Prefixed(head, src))
    elif head == b"\xfd7zXZ\x00":
        import lzma
        reader = lzma.LZMAFile(_Prefixed(head, src))
    else:
        reader = _Prefixed(head, src)
    try:
        with open(path, "wb") as out:
            while chunk := reader.read(1 << 20):
                out.write(chunk)
    except Exception as e:  # zlib.error, lzma.LZMAError, EOFError, OSError: all "corrupt"
        from ..core.files import rmtree
        rmtree(tmpdir)
        raise InvalidImage(f"archive is corrupt or truncated: {e}") from None
    return path, tmpdir


class _Prefixed:
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, f) -> None:
        self.head = head
        self.f = f

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                out, self.head = self.head + self.f.read(), b""
                return out
            out, self.head = self.head[:n], self.head[n:]
            if len(out) < n:
                out += self.f.read(n - len(out))
            return out
        return self.f.read(n)

    def readable(self) -> bool:
        return True


class LoadResult:
    def __init__(self) -> None:
        self.loaded: list[tuple[str, list[str]]] = []  # (image id, familiar tags)
        self.moved: list[tuple[str, str]] = []         # (tag, id of the image it left)


def load(ingest_factory, src, root: str, host_arch: str) -> LoadResult:
    """Load every image of a docker-archive or OCI layout tarball read from `src`."""
    path, tmpdir = _spool(src, root)
    from ..core.files import rmtree

    try:
        ar = _Archive(path)
        try:
            if ar.has("manifest.json"):
                return _load_docker(ar, ingest_factory)
            if ar.has("index.json"):
                return _load_oci(ar, ingest_factory, host_arch)
            raise InvalidImage("archive holds neither manifest.json (docker save) nor index.json (OCI layout)")
        finally:
            ar.close()
    finally:
        rmtree(tmpdir)


def _tags(repo_tags) -> list[str]:
    out = []
    for t in repo_tags or []:
        if not isinstance(t, str):
            raise InvalidImage("manifest.json: RepoTags must be strings")
        try:
            out.append(str(reference.parse(t)))
        except InvalidArgument as e:
            raise InvalidImage(f"manifest.json: bad tag {t!r}: {e}") from None
    return out


def _load_docker(ar: _Archive, ingest_factory) -> LoadResult:
    manifest, _ = ar.json("manifest.json")
    if not isinstance(manifest, list) or not manifest:
        raise InvalidImage("manifest.json: expected a non-empty list of images")
    result = LoadResult()
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise InvalidImage("manifest.json: each image needs Config and Layers")
        tags = _tags(entry.get("RepoTags"))
        config, config_bytes = ar.json(entry["Config"])
        diff_ids = _diff_ids(config)
        if len(diff_ids) != len(entry["Layers"]):
            raise InvalidImage(f"image config lists {len(diff_ids)} layers, manifest.json {len(entry['Layers'])}")
        with ingest_factory() as ing:
            blobs, sizes = [], []
            for name, diff_id in zip(entry["Layers"], diff_ids):
                if not isinstance(name, str):
                    raise InvalidImage("manifest.json: layer paths must be strings")
                f, _ = ar.open(name)
                digest, size = ing.blob_from(f)
                sizes.append(ing.layer(digest, diff_id))
                blobs.append((digest, size, _media_type_of(ing, digest)))
            image_id, moved = ing.commit(config_bytes, blobs, tags, sizes)
        result.loaded.append((image_id, [reference.familiar(t) for t in tags]))
        result.moved.extend(moved)
    return result


def _media_type_of(ing: Ingest, digest: str) -> str:
    with ing.blobs.open(digest) as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return mediatypes.OCI_LAYER_GZIP
    if head == b"\x28\xb5\x2f\xfd":
        return mediatypes.OCI_LAYER_ZSTD
    return mediatypes.OCI_LAYER


def _diff_ids(config) -> list[str]:
    if not isinstance(config, dict):
        raise InvalidImage("image config is not a JSON object")
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids", []), list):
        raise InvalidImage("image config has no rootfs.diff_ids")
    diff_ids = rootfs.get("diff_ids") or []
    for d in diff_ids:
        if not isinstance(d, str):
            raise InvalidImage("image config: diff_ids must be strings")
        try:
            validate(d)
        except InvalidArgument as e:
            raise InvalidImage(f"image config: {e}") from None
    return diff_ids


def _blob_name(desc) -> str:
    if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
        raise InvalidImage("OCI layout: descriptor without a digest")
    try:
        return "blobs/sha256/" + validate(desc["digest"])
    except InvalidArgument as e:
        raise InvalidImage(f"OCI layout: {e}") from None


def _verified_json(ar: _Archive, desc):
    name = _blob_name(desc)
    doc, raw = ar.json(name)
    import hashlib

    if "sha256:" + hashlib.sha256(raw).hexdigest() != desc["digest"]:
        raise InvalidImage(f"OCI layout: {name} does not match its digest")
    return doc, raw


def _pick_platform(ar: _Archive, index, host_arch: str, depth: int = 0):
    """Walk an index down to the image manifests for this machine's platform."""
    if depth > 4:
        raise InvalidImage("OCI layout: indexes nested too deeply")
    found = []
    for desc in index.get("manifests") or []:
        mt = desc.get("mediaType")
        if mt in mediatypes.INDEXES:
            sub, _ = _verified_json(ar, desc)
            found.extend(_pick_platform(ar, sub, host_arch, depth + 1))
            continue
        plat = desc.get("platform")
        if plat and (plat.get("os") != "linux" or plat.get("architecture") != host_arch):
            continue
        found.append(desc)
    return found


def _load_oci(ar: _Archive, ingest_factory, host_arch: str) -> LoadResult:
    index, _ = ar.json("index.json")
    if not isinstance(index, dict):
        raise InvalidImage("index.json is not a JSON object")
    result = LoadResult()
    for top in index.get("manifests") or []:
        annotations = top.get("annotations") or {}
        name = annotations.get("io.containerd.image.name") or ""
        refname = annotations.get("org.opencontainers.image.ref.name") or ""
        tags = []
        for candidate in (name, refname if ("/" in refname or ":" in refname) else ""):
            if candidate:
                try:
                    tags = [str(reference.parse(candidate))]
                    break
                except InvalidArgument:
                    pass
        if top.get("mediaType") in mediatypes.INDEXES:
            sub, _ = _verified_json(ar, top)
            descs = _pick_platform(ar, sub, host_arch)
            if not descs:
                raise InvalidImage(f"OCI layout: no image for linux/{host_arch}")
            descs = descs[:1]
        else:
            descs = [top]
        for desc in descs:
            manifest, _ = _verified_json(ar, desc)
            config_desc = manifest.get("config")
            config, config_bytes = _verified_json(ar, config_desc)
            diff_ids = _diff_ids(config)
            layers = manifest.get("layers") or []
            if len(layers) != len(diff_ids):
                raise InvalidImage(f"image config lists {len(diff_ids)} layers, its manifest {len(layers)}")
            with ingest_factory() as ing:
                blobs, sizes = [], []
                for ldesc, diff_id in zip(layers, diff_ids):
                    f, _ = ar.open(_blob_name(ldesc))
                    digest, size = ing.blob_from(f, expected=ldesc["digest"])
                    sizes.append(ing.layer(digest, diff_id))
                    blobs.append((digest, size, ldesc.get("mediaType") or mediatypes.OCI_LAYER))
                image_id, moved = ing.commit(config_bytes, blobs, tags, sizes)
            result.loaded.append((image_id, [reference.familiar(t) for t in tags]))
            result.moved.extend(moved)
    if not result.loaded:
        raise InvalidImage("OCI layout: index.json lists no images")
    return result


def import_rootfs(ingest_factory, src, root: str, *, tag: str | None, changes: list[str],
                  message: str, source_name: str, arch: str) -> str:
    """`import`: one layer from a root file system tarball, config from --change."""
    from .changes import apply_changes

    config_section = apply_changes({}, changes)
    ref = str(reference.parse(tag)) if tag else None
    path, tmpdir = _spool(src, root)
    from ..core.files import rmtree

    try:
        with ingest_factory() as ing:
            with open(path, "rb") as f:
                digest, size = ing.blob_from(f)
            unpacked = ing.layer(digest, digest)  # uncompressed: the blob is its own DiffID
            created = rfc3339(now_ns())
            config = {
                "architecture": arch, "os": "linux", "created": created,
                "config": config_section,
                "rootfs": {"type": "layers", "diff_ids": [digest]},
                "history": [{"created": created, "created_by": "", "comment": message or f"Imported from {source_name}"}],
            }
            if message:
                config["comment"] = message
            config_bytes = json.dumps(config, separators=(",", ":")).encode()
            image_id, _ = ing.commit(config_bytes, [(digest, size, mediatypes.OCI_LAYER)],
                                     [ref] if ref else [], [unpacked])
        return image_id
    finally:
        rmtree(tmpdir)
