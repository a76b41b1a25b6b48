"""images / load / import / rmi / inspect, and what prune gives back."""

import hashlib
import io
import json
import os
import tarfile

import pytest

BUSYBOX = "/usr/bin/busybox"


def _layer(files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    symlinks = symlinks or {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        dirs = sorted({os.path.dirname(p) for p in [*files, *symlinks] if os.path.dirname(p)})
        for d in dirs:
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(ti)
        for p, data in files.items():
            ti = tarfile.TarInfo(p)
            ti.size, ti.mode = len(data), 0o755
            tf.addfile(ti, io.BytesIO(data))
        for p, target in symlinks.items():
            ti = tarfile.TarInfo(p)
            ti.type, ti.linkname = tarfile.SYMTYPE, target
            tf.addfile(ti)
    return buf.getvalue()


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _config(layers: list[bytes], cmd: list[str], env: list[str] | None = None) -> bytes:
    return json.dumps({"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64",
                       "os": "linux", "created": "2025-01-02T03:04:05Z",
                       "config": {"Cmd": cmd, "Env": env or ["PATH=/bin"], "WorkingDir": "/"},
                       "rootfs": {"type": "layers", "diff_ids": [_sha(l) for l in layers]}}).encode()


def busybox_layers() -> list[bytes]:
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    base = _layer({"bin/busybox": bb}, {"bin/sh": "busybox", "bin/cat": "busybox", "bin/echo": "busybox",
                                        "bin/ls": "busybox"})
    top = _layer({"etc/motd": b"second layer\n"})
    return [base, top]


def docker_archive(path, tags, layers, cmd):
    cfg = _config(layers, cmd)
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    with tarfile.open(path, "w") as tf:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        names = []
        for i, l in enumerate(layers):
            names.append(f"{i:02d}/layer.tar")
            add(names[-1], l)
        add(cfg_name, cfg)
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": tags, "Layers": names}]).encode())
    return _sha(cfg)


def oci_layout(path, ref_name, layers, cmd, gzip_layers=False):
    import gzip

    cfg = _config(layers, cmd)
    blobs = {}
    descs = []
    for l in layers:
        data = gzip.compress(l, mtime=0) if gzip_layers else l
        blobs[_sha(data)] = data
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else ""),
                      "digest": _sha(data), "size": len(data)})
    blobs[_sha(cfg)] = cfg
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _sha(cfg), "size": len(cfg)},
                           "layers": descs}).encode()
    blobs[_sha(manifest)] = manifest
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                "digest": _sha(manifest), "size": len(manifest),
                                                "annotations": {"org.opencontainers.image.ref.name": ref_name}}]}
    with tarfile.open(path, "w") as tf:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for d, data in blobs.items():
            add("blobs/sha256/" + d[7:], data)
    return _sha(cfg)


def store_files(d) -> set[str]:
    out = set()
    for sub in ("blobs/sha256", "layers"):
        top = os.path.join(d.root, sub)
        for dirpath, dirnames, filenames in os.walk(top):
            if "ingest" in dirpath.split(os.sep):
                continue
            out.update(os.path.join(dirpath, n) for n in dirnames + filenames if n != "ingest")
    return out


def test_load_docker_archive_and_run(fresh_dy, tmp_path):
    d = fresh_dy
    image_id = docker_archive(tmp_path / "a.tar", ["myapp:1", "myapp:latest"], busybox_layers(), ["cat", "/etc/motd"])
    out = d.ok("load", "-i", str(tmp_path / "a.tar"))
    assert out == "Loaded image: myapp:1\nLoaded image: myapp:latest\n"
    assert d.ok("run", "--rm", "myapp:1") == "second layer\n"
    assert d.ok("images", "-q") == image_id[7:19] + "\n"
    assert d.ok("inspect", "-f", "{{.Id}} {{json .RepoTags}}", "myapp") .split(" ", 1)[0] == image_id
    lines = d.ok("images").splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert sorted(l.split()[1] for l in lines[1:]) == ["1", "latest"]


def test_load_from_stdin_and_oci_layout_with_gzip(fresh_dy, tmp_path):
    d = fresh_dy
    oci_layout(tmp_path / "o.tar", "example.com/oci/app:2", busybox_layers(), ["ls", "/bin"], gzip_layers=True)
    p = d("load", input=(tmp_path / "o.tar").read_bytes())
    assert p.returncode == 0 and p.stdout == b"Loaded image: example.com/oci/app:2\n"
    assert "busybox" in d.ok("run", "--rm", "example.com/oci/app:2")


def test_load_untagged_oci_image(fresh_dy, tmp_path):
    image_id = oci_layout(tmp_path / "o.tar", "latest", busybox_layers(), ["true"])
    assert fresh_dy.ok("load", "-i", str(tmp_path / "o.tar")) == f"Loaded image ID: {image_id}\n"
    assert "<none>" in fresh_dy.ok("images")


def test_load_moves_an_existing_tag(fresh_dy, tmp_path):
    d = fresh_dy
    old = docker_archive(tmp_path / "1.tar", ["app:1"], busybox_layers(), ["true"])
    new = docker_archive(tmp_path / "2.tar", ["app:1"], busybox_layers()[:1], ["true"])
    d.ok("load", "-i", str(tmp_path / "1.tar"))
    out = d.ok("load", "-i", str(tmp_path / "2.tar"))
    assert f"renaming the old one with ID {old} to empty string" in out
    assert d.ok("inspect", "-f", "{{.Id}}", "app:1").strip() == new


@pytest.mark.parametrize("case", ["garbage", "truncated", "no-manifest", "bad-diff-id", "missing-layer"])
def test_bad_archives_change_nothing(fresh_dy, tmp_path, case):
    d = fresh_dy
    docker_archive(tmp_path / "ok.tar", ["keep:1"], busybox_layers(), ["true"])
    d.ok("load", "-i", str(tmp_path / "ok.tar"))
    before = (store_files(d), d.ok("images", "-q"))
    bad = tmp_path / "bad.tar"
    if case == "garbage":
        bad.write_bytes(os.urandom(5000))
    elif case == "truncated":
        docker_archive(tmp_path / "full.tar", ["new:1"], [_layer({"x": os.urandom(200000)})], ["true"])
        data = (tmp_path / "full.tar").read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif case == "no-manifest":
        with tarfile.open(bad, "w") as tf:
            ti = tarfile.TarInfo("hello")
            tf.addfile(ti, io.BytesIO(b""))
    elif case == "bad-diff-id":
        layers = [_layer({"x": b"1"})]
        docker_archive(bad, ["new:1"], layers, ["true"])
        with tarfile.open(bad) as tf:
            members = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
        cfg_name = next(n for n in members if n.endswith(".json") and n != "manifest.json")
        cfg = json.loads(members[cfg_name])
        cfg["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
        members[cfg_name] = json.dumps(cfg).encode()
        with tarfile.open(bad, "w") as tf:
            for n, data in members.items():
                ti = tarfile.TarInfo(n)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    elif case == "missing-layer":
        with tarfile.open(bad, "w") as tf:
            data = json.dumps([{"Config": "c.json", "RepoTags": ["new:1"], "Layers": ["nope/layer.tar"]}]).encode()
            ti = tarfile.TarInfo("manifest.json")
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
            cfg = _config([b"x"], ["true"])
            ti = tarfile.TarInfo("c.json")
            ti.size = len(cfg)
            tf.addfile(ti, io.BytesIO(cfg))
    p = d("load", "-i", str(bad))
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert (store_files(d), d.ok("images", "-q")) == before
    assert "new" not in d.ok("images")


def test_import_rootfs_with_changes(fresh_dy, tmp_path):
    d = fresh_dy
    tgz = tmp_path / "rootfs.tar"
    tgz.write_bytes(busybox_layers()[0])
    image_id = d.ok("import", "-c", 'CMD ["echo", "imported"]', "-c", "ENV GREETING=hello",
                    "-c", "WORKDIR /bin", "-m", "from a test", str(tgz), "imported:1").strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert d.ok("run", "--rm", "imported:1") == "imported\n"
    assert d.ok("run", "--rm", "imported:1", "sh", "-c", "echo $GREETING; pwd") == "hello\n/bin\n"
    assert d.ok("inspect", "-f", "{{.Comment}}", "imported:1").strip() == "from a test"
    p = d("import", "-c", "RUN rm -rf /", str(tgz), "x:1")
    assert p.returncode == 125 and "not a valid change command" in p.stderr
    p = d("import", str(tmp_path / "missing.tar"))
    assert p.returncode != 0 and p.stderr.count("\n") == 1


def test_import_from_stdin_untagged(fresh_dy):
    p = fresh_dy("import", "-", input=busybox_layers()[0])
    assert p.returncode == 0 and p.stdout.startswith(b"sha256:")
    assert "<none>" in fresh_dy.ok("images")


def test_rmi_untags_then_deletes_and_frees_disk(fresh_dy, tmp_path):
    d = fresh_dy
    image_id = docker_archive(tmp_path / "a.tar", ["two:1", "two:2"], busybox_layers(), ["true"])
    d.ok("load", "-i", str(tmp_path / "a.tar"))
    assert d.ok("rmi", "two:1") == "Untagged: two:1\n"
    cid = d.ok("create", "two:2").strip()
    p = d("rmi", "two:2")
    assert p.returncode == 1 and "container" in p.stderr and "must force" in p.stderr
    d.ok("rm", cid)
    assert d.ok("rmi", "two:2") == f"Untagged: two:2\nDeleted: {image_id}\n"
    assert store_files(d) <= {os.path.join(d.root, "layers", "l")}
    p = d("rmi", "two:2")
    assert p.returncode == 1 and "No such image: two:2" in p.stderr


def test_rmi_by_id_with_several_tags_needs_force(fresh_dy, tmp_path):
    d = fresh_dy
    image_id = docker_archive(tmp_path / "a.tar", ["x:1", "y:1"], busybox_layers(), ["true"])
    d.ok("load", "-i", str(tmp_path / "a.tar"))
    p = d("rmi", image_id[7:19])
    assert p.returncode == 1 and "referenced in multiple repositories" in p.stderr
    out = d.ok("rmi", "-f", image_id[7:19])
    assert "Untagged: x:1" in out and "Untagged: y:1" in out and f"Deleted: {image_id}" in out


def test_prune_removes_dangling_images_and_their_layers(fresh_dy, tmp_path):
    d = fresh_dy
    old = docker_archive(tmp_path / "1.tar", ["app:1"], [_layer({"old": b"x" * 100000})], ["true"])
    docker_archive(tmp_path / "2.tar", ["app:1"], busybox_layers(), ["true"])
    d.ok("load", "-i", str(tmp_path / "1.tar"))
    d.ok("load", "-i", str(tmp_path / "2.tar"))
    out = d.ok("system", "prune", "-f")
    assert f"deleted: {old}" in out
    size = out.strip().rsplit(" ", 1)[1]
    assert size.endswith("kB") and float(size[:-2]) >= 100
    assert "<none>" not in d.ok("images")


def test_builtin_images_are_made_offline_and_deterministically(fresh_dy):
    p = fresh_dy("run", "--rm", "busybox", "true")
    assert p.stderr == "Unable to find image 'busybox:latest' locally\n"
    first = fresh_dy.ok("images", "-q", "--no-trunc")
    fresh_dy.ok("rmi", "busybox")
    fresh_dy.ok("run", "--rm", "busybox", "true")
    assert fresh_dy.ok("images", "-q", "--no-trunc") == first
    applets = fresh_dy.ok("run", "--rm", "busybox", "ls", "/bin").split()
    assert len(applets) > 100 and "busybox" in applets
