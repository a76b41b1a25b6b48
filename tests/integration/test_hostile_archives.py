"""Hostile image archives through the real CLI: `dockyard load` and `dockyard import`.

Archives are built in Python: a docker-archive (`docker save`: manifest.json, the
config, `<dir>/layer.tar`) or an OCI image layout (`oci-layout`, `index.json`,
`blobs/sha256/`). A working base image is the host's static busybox as
`bin/busybox` with `bin/sh -> busybox`.

Every rejection test first loads the base image, so the store is not empty and
the rollback must keep what was there; then it snapshots the files under
`blobs/sha256` and `layers` (the `ingest` area aside) and `images -q`, runs the
bad command, and checks: exit status 1, exactly one line on stderr and no
traceback, the store exactly as before, no leftovers in the ingest and scratch
areas. Every escape case aims at a sentinel directory under tmp_path, which must
be unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import stat
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

BUSYBOX = "/usr/bin/busybox"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


# ---------------------------------------------------------------------------
# building tars, layers and archives
# ---------------------------------------------------------------------------


def _ti(name: str, type: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.size, ti.linkname = type, mode, size, linkname
    ti.mtime = 1_600_000_000
    return ti


def reg(name: str, data: bytes = b"", mode: int = 0o644):
    return _ti(name, tarfile.REGTYPE, mode, len(data)), data


def dir_(name: str, mode: int = 0o755):
    return _ti(name, tarfile.DIRTYPE, mode), None


def sym(name: str, target: str):
    return _ti(name, tarfile.SYMTYPE, 0o777, linkname=target), None


def hard(name: str, target: str):
    return _ti(name, tarfile.LNKTYPE, 0o644, linkname=target), None


def make_tar(*members) -> bytes:
    """An uncompressed PAX tar of (TarInfo, data) pairs, in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def host_arch() -> str:
    from dockyard.image.hello import host_arch as arch

    return arch()


def busybox_members():
    with open(BUSYBOX, "rb") as f:
        exe = f.read()
    return [dir_("bin"), reg("bin/busybox", exe, 0o755), sym("bin/sh", "busybox")]


def config_for(layers: list[bytes], diff_ids: list[str] | None = None) -> bytes:
    return json.dumps({
        "architecture": host_arch(), "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids if diff_ids is not None else [sha256(l) for l in layers]},
        "history": [{"created_by": "test"} for _ in layers],
    }).encode()


def docker_archive(layers: list[bytes], tag: str = "img:1", diff_ids: list[str] | None = None,
                   manifest_first: bool = False) -> bytes:
    """A `docker save` archive; by default in docker's order (layers, config, then
    manifest.json), or with manifest.json and the config first."""
    cfg = config_for(layers, diff_ids)
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    layer_names = [f"{hashlib.sha256(l).hexdigest()[:12]}{i}/layer.tar" for i, l in enumerate(layers)]
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": layer_names}]).encode()
    files = [(n, l) for n, l in zip(layer_names, layers)]
    head = [(cfg_name, cfg), ("manifest.json", manifest)]
    files = head + files if manifest_first else files + head
    members = []
    for n, data in files:
        if "/" in n:
            members.append(dir_(n.split("/")[0]))
        members.append(reg(n, data))
    return make_tar(*members)


def oci_layout(layers: list[bytes], name: str = "docker.io/library/img:oci",
               replace_blob: dict[str, bytes] | None = None) -> bytes:
    """An OCI image layout tarball; `replace_blob` swaps the content stored under a
    digest (to make a blob that does not match its name)."""
    cfg = config_for(layers)
    blobs = {sha256(l): l for l in layers}
    blobs[sha256(cfg)] = cfg
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256(l), "size": len(l)} for l in layers],
    }).encode()
    blobs[sha256(manifest)] = manifest
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": sha256(manifest), "size": len(manifest),
        "annotations": {"io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]}}]}).encode()
    blobs.update(replace_blob or {})
    members = [reg("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), reg("index.json", index),
               dir_("blobs"), dir_("blobs/sha256")]
    members += [reg("blobs/sha256/" + d[7:], data) for d, data in blobs.items()]
    return make_tar(*members)


def write(tmp_path: Path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


# ---------------------------------------------------------------------------
# fixtures and checks
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_layer() -> bytes:
    if not os.path.isfile(BUSYBOX):
        pytest.skip(f"{BUSYBOX} is missing (Debian package busybox-static)")
    return make_tar(*busybox_members())


@pytest.fixture
def base_dy(fresh_dy, base_layer, tmp_path):
    """A fresh store that already holds the busybox image `base:1`."""
    fresh_dy.ok("load", "-i", write(tmp_path, "base.tar", docker_archive([base_layer], "base:1")))
    return fresh_dy


class Sentinel:
    """A directory outside every store and rootfs, with one file; remembers its state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        (path / "victim").write_bytes(b"original\n")
        self.before = self.state()

    def state(self) -> dict:
        out = {}
        for p in [self.path, *sorted(self.path.rglob("*"))]:
            st = os.lstat(p)
            out[str(p)] = (st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_ino, st.st_mtime_ns,
                           p.read_bytes() if stat.S_ISREG(st.st_mode) else None)
        return out

    def assert_untouched(self) -> None:
        assert self.state() == self.before, "the sentinel directory outside was changed"


@pytest.fixture
def sentinel(tmp_path: Path) -> Sentinel:
    return Sentinel(tmp_path / "sentinel")


def store_state(dy) -> tuple[dict, str]:
    """Every entry under blobs/sha256 and layers (but layers/ingest), and `images -q`."""
    entries = {}
    for top in ("blobs/sha256", "layers"):
        base = os.path.join(dy.root, top)
        for dirpath, dirnames, filenames in os.walk(base):
            if os.path.relpath(dirpath, dy.root) == "layers":
                dirnames[:] = [d for d in dirnames if d != "ingest"]
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                entries[os.path.relpath(p, dy.root)] = (stat.S_IFMT(st.st_mode), size, st.st_ino)
    return entries, dy.ok("images", "-q")


def leftovers(dy) -> list[str]:
    """What a failed command left in the ingest and scratch areas."""
    out = []
    for area in ("blobs/ingest", "layers/ingest", "tmp"):
        d = os.path.join(dy.root, area)
        if os.path.isdir(d):
            out += [f"{area}/{n}" for n in os.listdir(d)]
    return out


def assert_rejected(dy, *args: str) -> str:
    """Run a command that must fail cleanly and change nothing; returns stderr."""
    before = store_state(dy)
    p = dy(*args)
    assert p.returncode == 1, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    assert "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip(), "no error message"
    assert p.stderr.strip().count("\n") == 0, f"more than one line on stderr:\n{p.stderr}"
    assert store_state(dy) == before, "the failed command changed the store"
    assert leftovers(dy) == [], "the failed command left files in the store's scratch areas"
    return p.stderr


# ---------------------------------------------------------------------------
# valid archives
# ---------------------------------------------------------------------------


def test_valid_docker_archive_loads_and_runs(fresh_dy, base_layer, tmp_path) -> None:
    """A well-formed docker-archive loads under its tag and its busybox runs."""
    out = fresh_dy.ok("load", "-i", write(tmp_path, "img.tar", docker_archive([base_layer], "img:1")))
    assert out.strip() == "Loaded image: img:1"
    assert len(fresh_dy.ok("images", "-q").split()) == 1
    assert fresh_dy.ok("run", "--rm", "img:1", "sh", "-c", "echo ok") == "ok\n"


def test_valid_oci_layout_loads_and_runs(fresh_dy, base_layer, tmp_path) -> None:
    """A well-formed OCI image layout loads under its annotated name and runs."""
    out = fresh_dy.ok("load", "-i", write(tmp_path, "oci.tar", oci_layout([base_layer])))
    assert out.strip() == "Loaded image: img:oci"
    assert fresh_dy.ok("run", "--rm", "img:oci", "sh", "-c", "echo ok") == "ok\n"


# ---------------------------------------------------------------------------
# hostile layers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["docker", "oci"])
@pytest.mark.parametrize("case", ["dotdot", "dotdot-nested", "absolute", "symlink-write",
                                  "symlink-relative-write", "hardlink-dotdot", "hardlink-absolute",
                                  "hardlink-through-symlink"])
def test_escaping_layer_rejected(base_dy, tmp_path, sentinel, case: str, fmt: str) -> None:
    """A layer that tries to write or link outside its root (`../escape`, an
    absolute `/escape`, a write through a symlink to the sentinel, a hard link to a
    path outside or through such a symlink) makes `load` fail with one line, exit 1,
    no change to the store, and nothing created or linked in the sentinel."""
    s = str(sentinel.path)
    rel_up = os.path.relpath(s, "/")  # enough `..` to climb from any depth is added below
    members = {
        "dotdot": [reg("../escape", b"evil"), reg("../" * 12 + rel_up + "/pwned", b"evil")],
        "dotdot-nested": [dir_("a"), reg("a/../../escape", b"evil")],
        "absolute": [reg("/escape-" + os.urandom(6).hex(), b"evil"), reg(s + "/pwned", b"evil")],
        "symlink-write": [sym("evil", s), reg("evil/pwned", b"evil")],
        "symlink-relative-write": [sym("evil", "../" * 12 + rel_up), reg("evil/pwned", b"evil")],
        "hardlink-dotdot": [hard("h", "../" * 12 + rel_up + "/victim")],
        "hardlink-absolute": [hard("h", s + "/victim")],
        "hardlink-through-symlink": [sym("evil", s), hard("h", "evil/victim")],
    }[case]
    layer = make_tar(reg("ok", b"fine"), *members)
    data = docker_archive([layer], "evil:1") if fmt == "docker" else oci_layout([layer], "docker.io/library/evil:1")
    path = write(tmp_path, "evil.tar", data)
    before_tmp = set(os.listdir(tmp_path))
    err = assert_rejected(base_dy, "load", "-i", path)
    assert err.startswith("Error: ")
    sentinel.assert_untouched()
    assert set(os.listdir(tmp_path)) == before_tmp
    assert not os.path.lexists("/escape")


def test_hard_link_into_missing_directory_rejected(base_dy, tmp_path) -> None:
    """A layer with a hard link to `nodir/file` (no such directory) is a bad image:
    exit 1, one line, store unchanged."""
    layer = make_tar(hard("h", "nodir/file"))
    assert_rejected(base_dy, "load", "-i", write(tmp_path, "hl.tar", docker_archive([layer], "hl:1")))


def test_layer_rewriting_its_own_entry_loads(fresh_dy, tmp_path) -> None:
    """A layer that lists a path twice (tar order: the later entry wins) loads, and
    the later content is what the layer holds."""
    layer = make_tar(reg("a", b"1"), reg("a", b"2"))
    fresh_dy.ok("load", "-i", write(tmp_path, "dup.tar", docker_archive([layer], "dup:1")))
    diff = Path(fresh_dy.root, "layers", sha256(layer)[7:], "diff")
    assert (diff / "a").read_bytes() == b"2"


def test_import_rootfs_with_dotdot_rejected(base_dy, tmp_path, sentinel) -> None:
    """`import` of a root file system tarball with `../` members fails with one line,
    exit 1, no image and no change to the store; nothing lands next to it."""
    rel = os.path.relpath(str(sentinel.path), "/")
    rootfs = make_tar(dir_("etc"), reg("etc/hostname", b"x\n"), reg("../escape", b"evil"),
                      reg("../" * 12 + rel + "/pwned", b"evil"))
    path = write(tmp_path, "rootfs.tar", rootfs)
    before_tmp = set(os.listdir(tmp_path))
    assert_rejected(base_dy, "import", path, "evil:imported")
    sentinel.assert_untouched()
    assert set(os.listdir(tmp_path)) == before_tmp


@pytest.mark.parametrize("driver", ["overlay2", "vfs"])
def test_second_layer_through_first_layers_symlink(fresh_dy, base_layer, tmp_path, sentinel,
                                                   driver: str) -> None:
    """Layer 1 makes `link -> <sentinel>`, layer 2 writes `link/pwned`. Layers are
    unpacked each into its own directory, so the write cannot follow the link: the
    load is either refused, or the file lands inside the image, where `cat` finds
    it; either way the sentinel on the host is untouched (also after the run)."""
    fresh_dy.env["DOCKYARD_STORAGE_DRIVER"] = driver
    l1 = make_tar(*busybox_members(), sym("link", str(sentinel.path)))
    l2 = make_tar(reg("link/pwned", b"inside the image\n"))
    p = fresh_dy("load", "-i", write(tmp_path, "two.tar", docker_archive([l1, l2], "two:1")))
    sentinel.assert_untouched()
    if p.returncode != 0:
        assert p.returncode == 1 and "Traceback" not in p.stderr
        assert p.stderr.strip().count("\n") == 0
        assert fresh_dy.ok("images", "-q") == ""
        return
    assert f"Storage Driver: {driver}" in fresh_dy.ok("info")
    out = fresh_dy.ok("run", "--rm", "two:1", "sh", "-c", "cat /link/pwned")
    assert out == "inside the image\n"
    sentinel.assert_untouched()


# ---------------------------------------------------------------------------
# digests
# ---------------------------------------------------------------------------


def test_diff_id_mismatch_rejected(base_dy, tmp_path) -> None:
    """A config whose diff_id is not the sha256 of the layer makes `load` fail."""
    layer = make_tar(reg("f", b"content\n"))
    data = docker_archive([layer], "bad:1", diff_ids=[sha256(b"something else")])
    err = assert_rejected(base_dy, "load", "-i", write(tmp_path, "bad.tar", data))
    assert "digest" in err


def test_diff_id_of_existing_layer_with_other_content_rejected(base_dy, base_layer, tmp_path) -> None:
    """A layer tar whose config claims the DiffID of a layer the store already has
    (the busybox base) but whose content differs is refused, like any mismatch."""
    layer = make_tar(reg("f", b"not busybox\n"))
    data = docker_archive([layer], "liar:1", diff_ids=[sha256(base_layer)])
    assert_rejected(base_dy, "load", "-i", write(tmp_path, "liar.tar", data))


@pytest.mark.parametrize("case", ["new-blob", "existing-blob", "manifest", "config"])
def test_oci_blob_not_matching_digest_rejected(base_dy, base_layer, tmp_path, case: str) -> None:
    """An OCI blob whose content does not hash to its name is refused: a new layer
    blob, a layer blob claiming the digest of a blob the store already holds, the
    manifest, or the config."""
    other = make_tar(reg("f", b"tampered\n"))
    if case == "new-blob":
        layer = make_tar(reg("f", b"original\n"))
        data = oci_layout([layer], replace_blob={sha256(layer): other})
    elif case == "existing-blob":
        data = oci_layout([base_layer], replace_blob={sha256(base_layer): other})
    else:
        layer = make_tar(reg("f", b"original\n"))
        good = oci_layout([layer])
        with tarfile.open(fileobj=io.BytesIO(good)) as tf:
            index = json.loads(tf.extractfile("index.json").read())
            mdigest = index["manifests"][0]["digest"]
            manifest = json.loads(tf.extractfile("blobs/sha256/" + mdigest[7:]).read())
        if case == "manifest":
            manifest["annotations"] = {"tampered": "yes"}
            data = oci_layout([layer], replace_blob={mdigest: json.dumps(manifest).encode()})
        else:
            cdigest = manifest["config"]["digest"]
            cfg = json.loads(config_for([layer]))
            cfg["config"]["Cmd"] = ["evil"]
            data = oci_layout([layer], replace_blob={cdigest: json.dumps(cfg).encode()})
    err = assert_rejected(base_dy, "load", "-i", write(tmp_path, "oci-bad.tar", data))
    assert "digest" in err


# ---------------------------------------------------------------------------
# corrupt files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("manifest_first", [False, True], ids=["docker-order", "manifest-first"])
def test_truncated_archive_rejected(base_dy, base_layer, tmp_path, manifest_first: bool) -> None:
    """A docker-archive cut in half fails cleanly: in docker's member order the cut
    loses manifest.json; with manifest.json first it cuts into the layer's data."""
    data = docker_archive([base_layer], "cut:1", manifest_first=manifest_first)
    assert_rejected(base_dy, "load", "-i", write(tmp_path, "cut.tar", data[: len(data) // 2]))


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_archive_cut_inside_layer_rejected(base_dy, tmp_path, fmt: str) -> None:
    """An archive cut in the middle of its (last) layer blob, with everything else
    intact before it, is refused."""
    layer = make_tar(reg("big", random.Random(7).randbytes(200_000)))
    data = docker_archive([layer], "cut:2", manifest_first=True) if fmt == "docker" \
        else oci_layout([layer], "docker.io/library/cut:2")
    at = data.index(layer[:1024]) + len(layer) // 2
    assert_rejected(base_dy, "load", "-i", write(tmp_path, "cut.tar", data[:at]))


@pytest.mark.parametrize("kind", [
    "random", "text", "gzip-magic", "xz-magic", "bzip2-magic", "gzip-of-garbage", "empty", "zeros"])
def test_garbage_file_rejected(base_dy, tmp_path, kind: str) -> None:
    """A file that is not an image archive (noise, text, a corrupt gzip/xz/bzip2
    stream, a valid gzip of noise, an empty file, an empty tar) is refused by
    `load` with one line and exit 1, and leaves no scratch files behind."""
    import gzip

    rnd = random.Random(1234)
    data = {
        "random": rnd.randbytes(20000),
        "text": b"this is not an image\n" * 100,
        "gzip-magic": b"\x1f\x8b\x08\x00" + rnd.randbytes(5000),
        "xz-magic": b"\xfd7zXZ\x00" + rnd.randbytes(5000),
        "bzip2-magic": b"BZh9" + rnd.randbytes(5000),
        "gzip-of-garbage": gzip.compress(rnd.randbytes(5000)),
        "empty": b"",
        "zeros": b"\0" * 10240,
    }[kind]
    assert_rejected(base_dy, "load", "-i", write(tmp_path, "garbage.bin", data))


def test_garbage_file_import_rejected(base_dy, tmp_path) -> None:
    """`import` of a file that is not a tar is refused with one line and exit 1."""
    data = random.Random(99).randbytes(20000)
    assert_rejected(base_dy, "import", write(tmp_path, "garbage.bin", data), "junk:1")


def test_a_decompression_bomb_stops_before_the_disk_fills(fresh_dy, tmp_path):
    """A gzip of zeros that unpacks to far more than it weighs: unpacking stops while
    DOCKYARD_MIN_FREE bytes are still free, and nothing of it stays in the store."""
    import hashlib
    import json
    import os
    import tarfile
    import zlib

    size = 256 << 20
    ti = tarfile.TarInfo("zeros")
    ti.size = size
    # the layer streamed: header, zeros, end of archive; hashed and gzipped on the fly
    diff = hashlib.sha256()
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = []
    chunk = bytes(1 << 20)
    for piece in [ti.tobuf()] + [chunk] * (size >> 20) + [bytes(1024)]:
        diff.update(piece)
        parts.append(gz.compress(piece))
    parts.append(gz.flush())
    blob = b"".join(parts)
    assert len(blob) < size // 500
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]}}).encode()
    archive = tmp_path / "bomb.tar"
    with tarfile.open(archive, "w") as tf:
        for name, data in (("layer.tar.gz", blob), ("c.json", cfg),
                           ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["bomb:1"],
                                                          "Layers": ["layer.tar.gz"]}]).encode())):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tf.addfile(member, io.BytesIO(data))
    st = os.statvfs(tmp_path)
    free = st.f_bavail * st.f_frsize
    # stops once ~64 MiB are written: other writers on this disk may move the free
    # space by a lot before it matters
    p = fresh_dy("load", "-i", str(archive), env={"DOCKYARD_MIN_FREE": str(free - (64 << 20))})
    assert p.returncode == 1 and "decompression bomb" in p.stderr
    assert "bomb" not in fresh_dy.ok("images")
    leftovers = [d for d in os.listdir(os.path.join(fresh_dy.root, "layers")) if d not in ("ingest", "l")]
    assert leftovers == []
