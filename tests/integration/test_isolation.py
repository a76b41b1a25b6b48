"""What a process inside the container can and cannot see."""

import os
import socket


def test_command_is_pid_1_and_host_processes_are_invisible(dy):
    out = dy.ok("run", "--rm", "busybox", "sh", "-c", "echo $$; ls /proc | grep -E '^[0-9]+$' | wc -l")
    pid, count = out.split()
    assert pid == "1"
    assert int(count) <= 5  # sh and the pipeline (ls, grep, wc); the host has hundreds
    assert f"{os.getpid()}" not in dy.ok("run", "--rm", "busybox", "ls", "/proc").split()


def test_hostname_differs_and_defaults_to_short_id(dy):
    name = dy.ok("run", "--name", "hostname-test", "busybox", "hostname").strip()
    cid = dy.ok("inspect", "-f", "{{.Id}}", "hostname-test").strip()
    assert name == cid[:12] and name != socket.gethostname()
    assert dy.ok("run", "--rm", "busybox", "cat", "/etc/hostname").strip() != socket.gethostname()
    dy.ok("rm", "hostname-test")


def test_host_files_are_invisible(dy, tmp_path):
    secret = tmp_path / "host-secret"
    secret.write_text("s3cret")
    p = dy("run", "--rm", "busybox", "cat", str(secret))
    assert p.returncode != 0 and "s3cret" not in p.stdout
    out = dy.ok("run", "--rm", "busybox", "sh", "-c", "cat /proc/self/mountinfo")
    assert str(tmp_path) not in out
    assert "/work" not in dy.ok("run", "--rm", "busybox", "ls", "/")


def test_own_namespaces(dy):
    out = dy.ok("run", "--rm", "busybox", "sh", "-c",
                "for n in pid mnt uts ipc net cgroup; do readlink /proc/1/ns/$n; done")
    inside = out.split()
    host = [os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "mnt", "uts", "ipc", "net", "cgroup")]
    assert len(inside) == 6 and all(a != b for a, b in zip(inside, host))


def test_network_namespace_has_only_loopback_and_it_is_up(dy):
    out = dy.ok("run", "--rm", "busybox", "cat", "/proc/net/dev")
    ifaces = [l.split(":")[0].strip() for l in out.splitlines()[2:]]
    assert ifaces == ["lo"]
    out = dy.ok("run", "--rm", "busybox", "sh", "-c", "ip link show lo; ping -c 1 -W 2 127.0.0.1")
    assert "UP" in out.split("\n")[0] and "1 packets received" in out


def test_standard_mounts_and_devices(dy):
    out = dy.ok("run", "--rm", "busybox", "sh", "-c",
                "ls /dev; grep -E ' /(proc|sys|dev|dev/pts|dev/shm|dev/mqueue) ' /proc/mounts; "
                "echo x > /sys/kernel/x 2>/dev/null && echo sys-writable; "
                "head -c 4 /dev/urandom | wc -c; cat /etc/hosts | head -1")
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx", "fd"):
        assert node in out.split()
    assert " /sys sysfs ro," in out and " /proc proc rw," in out
    assert "sys-writable" not in out
    assert "4\n127.0.0.1\tlocalhost" in out
    # no host block devices
    assert "vda" not in out.split() and "sda" not in out.split()


def test_writable_layer_is_private_to_the_container(dy):
    a = dy.ok("run", "-d", "busybox", "sh", "-c", "echo mine > /etc/marker; sleep 30").strip()
    assert dy("run", "--rm", "busybox", "cat", "/etc/marker").returncode != 0
    dy.ok("rm", "-f", a)


def test_changes_survive_a_restart(dy):
    cid = dy.ok("create", "busybox", "sh", "-c", "echo $$ >> /counter; wc -l < /counter").strip()
    assert dy.ok("start", "-a", cid).strip() == "1"
    assert dy.ok("start", "-a", cid).strip() == "2"
    dy.ok("rm", cid)


def test_cgroup_namespace_hides_the_hosts_hierarchy(dy):
    out = dy.ok("run", "--rm", "busybox", "cat", "/proc/self/cgroup")
    assert "dockyard" not in out and all(l.endswith(":/") for l in out.split())
