"""Both storage drivers: overlay2 (layers as overlayfs lower dirs) and vfs (a copy
per container, where overlayfs is unavailable) give a container the same view."""

import pytest


@pytest.fixture
def vfs_dy(fresh_dy):
    fresh_dy.env["DOCKYARD_STORAGE_DRIVER"] = "vfs"
    return fresh_dy


@pytest.fixture(params=["overlay2", "vfs"])
def any_dy(fresh_dy, request):
    fresh_dy.env["DOCKYARD_STORAGE_DRIVER"] = request.param
    return fresh_dy


def test_vfs_runs_and_reports_itself(vfs_dy, tmp_path):
    d = vfs_dy
    assert d.ok("run", "--rm", "busybox", "echo", "copied") == "copied\n"
    assert "Storage Driver: vfs" in d.ok("info")
    cid = d.ok("create", "busybox", "sh", "-c", "echo $$ >> /count; wc -l < /count").strip()
    assert d.ok("start", "-a", cid).strip() == "1"
    assert d.ok("start", "-a", cid).strip() == "2"
    d.ok("rm", cid)


def test_whiteouts_hide_lower_layers(any_dy, tmp_path):
    import io
    import tarfile

    from test_images import _layer, busybox_layers, docker_archive

    def with_whiteout() -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for name in ("etc/.wh.motd", "gone/.wh..wh..opq"):
                tf.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
        return buf.getvalue()

    base, _ = busybox_layers()
    mid = _layer({"etc/motd": b"hidden later\n", "gone/a": b"a", "gone/b": b"b"})
    path = tmp_path / "wh.tar"
    docker_archive(path, ["wh:1"], [base, mid, with_whiteout()], ["sh", "-c", "ls /etc /gone; cat /etc/motd 2>&1"])
    any_dy.ok("load", "-i", str(path))
    p = any_dy("run", "--rm", "wh:1")
    assert "hidden later" not in p.stdout and "No such file" in p.stdout
    assert "a" not in p.stdout.split() and "b" not in p.stdout.split()
