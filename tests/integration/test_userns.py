"""User namespaces (`--userns=auto`, `--userns-remap`): root in the container is an
unprivileged uid on the host, and the image's files still look like its own."""

import os
import time

import pytest

from test_security import PROBE

START, COUNT = 1000000, 65536000


@pytest.fixture
def subids():
    """Subordinate ids for 'dockyard' (and for user 'nobody', for --userns-remap), put
    back as they were afterwards."""
    saved = {}
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                saved[path] = f.read()
        except FileNotFoundError:
            saved[path] = None
        kept = [l for l in (saved[path] or "").splitlines() if not l.startswith(("dockyard:", "nobody:"))]
        with open(path, "w") as f:
            f.write("\n".join(kept + [f"dockyard:{START}:{COUNT}", "nobody:300000:65536"]) + "\n")
    yield
    for path, text in saved.items():
        if text is None:
            os.unlink(path)
        else:
            with open(path, "w") as f:
                f.write(text)


def host_uid(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_root_inside_is_an_unprivileged_uid_outside(dy, subids):
    cid = dy.ok("run", "-d", "--userns=auto", "busybox", "sh", "-c",
                "touch /made-here; echo x >> /etc/passwd; echo y >> /etc/hosts; sleep 30").strip()
    try:
        deadline = time.time() + 10
        while True:
            pid = int(dy.ok("inspect", "-f", "{{.State.Pid}}", cid))
            if pid and host_uid(pid) != 0 or time.time() > deadline:
                break
            time.sleep(0.05)
        uid = host_uid(pid)
        assert START <= uid < START + COUNT
        assert dy.ok("inspect", "-f", "{{.HostConfig.UsernsMode}}", cid) == "auto\n"
        # what it wrote is owned on disk by that uid, not by host root
        upper = dy.ok("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", cid).strip()
        deadline = time.time() + 10
        while not os.path.exists(upper + "/made-here") and time.time() < deadline:
            time.sleep(0.05)
        assert os.stat(upper + "/made-here").st_uid == uid
        assert os.stat(upper + "/etc/passwd").st_uid == uid
    finally:
        dy("rm", "-f", cid)
    out = dy.ok("run", "--rm", "--userns=auto", "busybox", "sh", "-c",
                "id -u; cat /proc/self/uid_map; stat -c '%u:%g' / /bin/busybox /etc/hosts")
    lines = out.split()
    assert lines[0] == "0"  # root inside
    assert lines[1] == "0" and START <= int(lines[2]) < START + COUNT  # mapped from the range
    assert lines[4:] == ["0:0", "0:0", "0:0"]  # the image's files and /etc files look like root's


def test_each_auto_container_gets_its_own_range(dy, subids):
    a = dy.ok("run", "-d", "--userns=auto", "busybox", "sleep", "30").strip()
    b = dy.ok("run", "-d", "--userns=auto:size=1000", "busybox", "sleep", "30").strip()
    try:
        maps = []
        for cid in (a, b):
            deadline = time.time() + 10
            while True:
                pid = int(dy.ok("inspect", "-f", "{{.State.Pid}}", cid))
                with open(f"/proc/{pid}/uid_map") as f:
                    text = f.read().split()
                if text != ["0", "0", "4294967295"] or time.time() > deadline:
                    break
                time.sleep(0.05)
            maps.append((int(text[1]), int(text[2])))
        (sa, na), (sb, nb) = maps
        assert na == 65536 and nb == 1000
        assert sa + na <= sb or sb + nb <= sa, maps
    finally:
        dy("rm", "-f", a, b)


def test_userns_remap_uses_that_users_range(dy, subids):
    out = dy.ok("run", "--rm", "--userns-remap", "nobody", "busybox", "cat", "/proc/self/uid_map", "/proc/self/gid_map")
    assert out.split() == ["0", "300000", "65536"] * 2
    p = dy("run", "--rm", "--userns-remap", "no-such-user-here", "busybox", "true")
    assert p.returncode == 125 and "/etc/subuid" in p.stderr and "Traceback" not in p.stderr


def test_probe_finds_nothing_exposed_in_a_user_namespace(dy, subids):
    with open(PROBE) as f:
        script = f.read()
    out = dy.ok("run", "--rm", "--userns=auto", "busybox", "sh", "-c", script)
    results = {l.split(": ", 1)[0]: l.split(": ", 1)[1] for l in out.splitlines() if ": " in l}
    exposed = {k: v for k, v in results.items() if v.startswith("EXPOSED")}
    assert not exposed, exposed
    assert results["mount"] == "ok" and results["chroot_escape"] == "ok"


def test_read_only_and_exit_codes_in_a_user_namespace(dy, subids):
    p = dy("run", "--rm", "--userns=auto", "--read-only", "--tmpfs", "/tmp", "busybox", "sh", "-c",
           "touch /tmp/a && echo tmp-ok; touch /b")
    assert p.stdout == "tmp-ok\n" and "Read-only file system" in p.stderr and p.returncode == 1
    assert dy("run", "--rm", "--userns=auto", "busybox", "sh", "-c", "exit 7").returncode == 7
    assert dy("run", "--rm", "--userns=auto", "busybox", "no-such-program").returncode == 127


def test_userns_refusals(dy, subids):
    p = dy("run", "--rm", "--userns=bogus", "busybox", "true")
    assert p.returncode == 125 and "--userns" in p.stderr
    p = dy("run", "--rm", "--userns=auto", "--runtime", "runc", "busybox", "true")
    assert p.returncode == 125 and "native runtime" in p.stderr
    before = dy.container_ids()
    with open("/etc/subuid", "w") as f:
        f.write("")
    p = dy("run", "--rm", "--userns=auto", "busybox", "true")
    assert p.returncode == 125 and "/etc/subuid" in p.stderr and "Traceback" not in p.stderr
    assert dy.container_ids() == before  # nothing left behind by the refused create
