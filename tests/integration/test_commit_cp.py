"""`commit`, `diff` and `cp` against real containers: overlay upper dirs, whiteouts,
stopped and running containers, and symlinks that try to reach the host."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

pytestmark = pytest.mark.root


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getnames()


@pytest.fixture
def changed(dy):
    """A stopped container with additions, a change, deletions and a replaced dir."""
    name = "cc-changed"
    dy("rm", "-f", name)
    dy.ok("run", "--name", name, "busybox", "sh", "-c",
          "echo hi > /root/x; rm /bin/ls; mkdir /tmp/d; rm -rf /usr; mkdir /usr; touch /usr/k;"
          " ln -s /etc /tmp/evil; echo changed >> /etc/passwd")
    yield name
    dy("rm", "-f", name)


def test_diff_lists_changes_in_dockers_order(dy, changed):
    out = dy.ok("diff", changed).splitlines()
    assert out == ["C /bin", "D /bin/ls", "C /etc", "C /etc/passwd", "C /root", "A /root/x",
                   "C /tmp", "A /tmp/d", "A /tmp/evil", "D /usr", "A /usr/k"]
    # the runtime's own mount points are not changes
    assert not any(p.endswith(("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")) for p in out)


def test_diff_of_untouched_container_is_empty(dy):
    name = "cc-untouched"
    dy("rm", "-f", name)
    try:
        dy.ok("run", "--name", name, "busybox", "true")
        assert dy.ok("diff", name) == ""
    finally:
        dy("rm", "-f", name)


def test_commit_makes_an_image_with_the_changes(dy, changed):
    image = "cc-committed:1"
    try:
        iid = dy.ok("commit", "-c", 'CMD ["cat", "/root/x"]', "-c", "ENV K=v", "-m", "a message",
                    "-a", "me", changed, image).strip()
        assert iid.startswith("sha256:")
        assert dy.ok("run", "--rm", image) == "hi\n"
        out = dy.ok("run", "--rm", image, "sh", "-c",
                    "test -e /bin/ls && echo ls; ls /usr; readlink /tmp/evil; echo $K; tail -1 /etc/passwd")
        assert out == "k\n/etc\nv\nchanged\n"
        assert dy.ok("inspect", "-f", "{{.Comment}}|{{.Author}}|{{.Config.Cmd}}", image).strip() == \
            "a message|me|[cat /root/x]"
        assert "a message" in dy.ok("history", image)
    finally:
        dy("rmi", "-f", image)


def test_commit_running_container_pauses_and_keeps_it_running(dy):
    name, image = "cc-running", "cc-running-img"
    dy("rm", "-f", name)
    try:
        dy.ok("run", "-d", "--name", name, "busybox", "sh", "-c", "echo live > /live; sleep 30")
        for _ in range(100):
            if "/live" in dy.ok("diff", name):
                break
        dy.ok("commit", name, image)
        assert dy.ok("inspect", "-f", "{{.State.Running}}", name).strip() == "true"
        assert dy.ok("run", "--rm", image, "cat", "/live") == "live\n"
    finally:
        dy("rm", "-f", name)
        dy("rmi", "-f", image)


def test_commit_unknown_container(dy):
    p = dy("commit", "cc-no-such-container")
    assert p.returncode == 1
    assert "No such container: cc-no-such-container" in p.stderr


def test_cp_from_container_file_dir_and_stdout(dy, changed, tmp_path):
    dy.ok("cp", f"{changed}:/root/x", str(tmp_path / "x1"))
    assert (tmp_path / "x1").read_text() == "hi\n"
    # into an existing directory: keeps the base name
    dy.ok("cp", f"{changed}:/root/x", str(tmp_path))
    assert (tmp_path / "x").read_text() == "hi\n"
    # a directory to a new path: created with the content
    dy.ok("cp", f"{changed}:/tmp", str(tmp_path / "t"))
    assert sorted(os.listdir(tmp_path / "t")) == ["d", "evil"]
    assert os.readlink(tmp_path / "t" / "evil") == "/etc"  # copied as a link, not followed
    # `-` streams Docker's tar, named from the base name
    p = dy("cp", f"{changed}:/tmp", "-", text=False)
    assert p.returncode == 0
    assert sorted(_names(p.stdout)) == ["tmp", "tmp/d", "tmp/evil"]


def test_cp_symlink_in_container_resolves_inside_it(dy, changed, tmp_path):
    # /tmp/evil -> /etc: the container's /etc, never the host's
    dy.ok("cp", f"{changed}:/tmp/evil/passwd", str(tmp_path / "p"))
    assert (tmp_path / "p").read_text().endswith("changed\n")
    marker = f"/etc/dockyard-cp-test-{os.getpid()}"
    (tmp_path / "m").write_text("host\n")
    try:
        dy.ok("cp", str(tmp_path / "m"), f"{changed}:/tmp/evil/{os.path.basename(marker)}")
        assert not os.path.exists(marker)
        dy.ok("cp", str(tmp_path / "m"), f"{changed}:/tmp/evil/../../../../tmp/up")
        assert not os.path.exists("/tmp/up") or open("/tmp/up").read() != "host\n"
        out = dy.ok("cp", f"{changed}:/etc/{os.path.basename(marker)}", "-", text=False)
        assert _names(out) == [os.path.basename(marker)]
        out = dy.ok("cp", f"{changed}:/tmp/up", "-", text=False)
        assert _names(out) == ["up"]
    finally:
        if os.path.exists(marker):
            os.unlink(marker)


def test_cp_into_running_container_and_dir_rules(dy, tmp_path):
    name = "cc-cp-running"
    dy("rm", "-f", name)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a").write_text("a\n")
    (src / "sub" / "b").write_text("b\n")
    os.symlink("/etc/shadow", src / "link")
    try:
        dy.ok("run", "-d", "--name", name, "busybox", "sh", "-c", "ln -s / /escape; sleep 30")
        dy.ok("cp", str(src), f"{name}:/newdir")
        dy.ok("cp", str(src) + "/.", f"{name}:/tmp")
        dy.ok("cp", str(src / "a"), f"{name}:/escape/../../../etc/from-host")
        out = dy.ok("exec", name, "sh", "-c",
                    "cat /newdir/a /newdir/sub/b /tmp/a /etc/from-host; readlink /tmp/link; stat -c %u:%g /newdir/a")
        assert out == "a\nb\na\na\n/etc/shadow\n0:0\n"
        assert not os.path.exists("/etc/from-host")
        # stdin tar into a directory
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("fromtar")
            ti.size = 3
            tf.addfile(ti, io.BytesIO(b"tar"))
        dy.ok("cp", "-", f"{name}:/tmp", input=buf.getvalue())
        assert dy.ok("exec", name, "cat", "/tmp/fromtar") == "tar"
    finally:
        dy("rm", "-f", name)


def test_cp_errors(dy, changed, tmp_path):
    p = dy("cp", f"{changed}:/nope", str(tmp_path))
    assert p.returncode == 1 and "Could not find the file /nope in container" in p.stderr
    (tmp_path / "f").write_text("x")
    p = dy("cp", str(tmp_path / "f"), f"{changed}:/no/such/dir/x")
    assert p.returncode == 1 and "Could not find the file /no/such/dir" in p.stderr
    p = dy("cp", str(tmp_path), f"{changed}:/root/x")
    assert p.returncode == 1 and "cannot copy directory" in p.stderr
    p = dy("cp", str(tmp_path / "f"), f"{changed}:/newthing/")
    assert p.returncode == 1 and "no such directory" in p.stderr
    p = dy("cp", str(tmp_path / "f"), str(tmp_path / "g"))
    assert p.returncode == 125 and "must specify at least one container source" in p.stderr
    p = dy("cp", str(tmp_path / "missing"), f"{changed}:/tmp")
    assert p.returncode == 1 and "no such file or directory" in p.stderr


def test_cp_archive_keeps_owners(dy, tmp_path):
    name = "cc-cp-owners"
    dy("rm", "-f", name)
    try:
        dy.ok("run", "--name", name, "busybox", "sh", "-c", "echo o > /o; chown 123:456 /o")
        dy.ok("cp", f"{name}:/o", str(tmp_path / "plain"))
        dy.ok("cp", "-a", f"{name}:/o", str(tmp_path / "kept"))
        assert (os.stat(tmp_path / "plain").st_uid, os.stat(tmp_path / "plain").st_gid) == (os.getuid(), os.getgid())
        assert (os.stat(tmp_path / "kept").st_uid, os.stat(tmp_path / "kept").st_gid) == (123, 456)
    finally:
        dy("rm", "-f", name)
