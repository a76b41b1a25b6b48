"""Isolation under defaults and under the flags that loosen or tighten it, checked
from inside the container (tests/probe/probe.sh and direct checks) and from the host."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

PROBE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "probe", "probe.sh")
DOCKER_DEFAULT_CAPS = "00000000a80425fb"


def probe(dy, *flags):
    with open(PROBE) as f:
        script = f.read()
    out = dy.ok("run", "--rm", *flags, "busybox", "sh", "-c", script)
    return {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in out.splitlines() if ": " in line}


def status(dy, *flags, user=None):
    args = ["run", "--rm", *flags] + (["-u", user] if user else []) + ["busybox", "cat", "/proc/self/status"]
    return {l.split(":")[0]: l.split(":", 1)[1].strip() for l in dy.ok(*args).splitlines() if ":" in l}


def test_probe_finds_nothing_exposed_under_defaults(dy):
    results = probe(dy)
    exposed = {k: v for k, v in results.items() if v.startswith("EXPOSED")}
    assert not exposed, exposed
    for check in ("pid_namespace", "net_namespace", "cgroup_namespace", "cap_effective", "no_new_privs",
                  "seccomp", "mount", "unshare_user", "module_loading", "device_cgroup", "chroot_escape",
                  "leaked_fds", "overwrite_exe", "masked /proc/keys", "read-only /proc/sys/kernel/ns_last_pid"):
        assert results.get(check) == "ok", (check, results.get(check))


def test_default_capabilities_are_dockers(dy):
    s = status(dy)
    assert s["CapEff"] == s["CapPrm"] == s["CapBnd"] == DOCKER_DEFAULT_CAPS
    assert s["CapInh"] == s["CapAmb"] == "0000000000000000"
    assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2"


def test_a_non_root_user_has_no_capabilities(dy):
    s = status(dy, user="1000:1000")
    assert s["CapEff"] == s["CapPrm"] == s["CapAmb"] == "0000000000000000"
    assert s["CapBnd"] == DOCKER_DEFAULT_CAPS


def test_cap_add_and_drop(dy):
    assert status(dy, "--cap-drop", "ALL")["CapEff"] == "0000000000000000"
    p = dy("run", "--rm", "--cap-drop", "CHOWN", "busybox", "sh", "-c", "touch /f; chown 1 /f")
    assert p.returncode != 0 and "ermitted" in p.stderr
    # SYS_ADMIN lifts both the capability check and the seccomp rule on mount
    out = dy.ok("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c",
                "mkdir /m && mount -t tmpfs t /m && echo mounted")
    assert out == "mounted\n"
    p = dy("run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true")
    assert p.returncode == 125 and "unknown capability" in p.stderr


def test_privileged(dy):
    results = probe(dy, "--privileged")
    assert results["seccomp"].startswith("EXPOSED") and results["sys_read_only"].startswith("EXPOSED")
    s = status(dy, "--privileged")
    assert int(s["CapEff"], 16) > int(DOCKER_DEFAULT_CAPS, 16) and s["Seccomp"] == "0"


def test_seccomp_options(dy, tmp_path):
    assert status(dy, "--security-opt", "seccomp=unconfined")["Seccomp"] == "0"
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}))
    p = dy("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "mkdir", "/x")
    assert p.returncode == 1 and "Operation not permitted" in p.stderr
    p = dy("run", "--rm", "--security-opt", "seccomp=/nonexistent.json", "busybox", "true")
    assert p.returncode == 125 and "seccomp profile" in p.stderr
    assert status(dy, "--security-opt", "no-new-privileges=false")["NoNewPrivs"] == "0"


def test_read_only_root_and_tmpfs(dy):
    p = dy("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert p.returncode == 1 and "Read-only file system" in p.stderr
    assert dy("run", "--rm", "--read-only", "busybox", "touch", "/tmp/x").returncode == 1
    out = dy.ok("run", "--rm", "--read-only", "--tmpfs", "/tmp", "busybox", "sh", "-c",
                "touch /tmp/x && echo written; grep ' /tmp ' /proc/mounts")
    assert out.startswith("written\n") and "noexec" in out and "nosuid" in out
    out = dy.ok("run", "--rm", "--tmpfs", "/scratch:size=1m,exec", "busybox", "grep", " /scratch ", "/proc/mounts")
    assert "size=1024k" in out and "noexec" not in out


def test_group_add_and_ulimit(dy):
    assert dy.ok("run", "--rm", "--group-add", "wheel", "--group-add", "4242", "-u", "nobody",
                 "busybox", "id", "-G").split() == ["65534", "10", "4242"]
    assert dy.ok("run", "--rm", "--ulimit", "nofile=100:200", "busybox", "sh", "-c",
                 "ulimit -n; ulimit -Hn").split() == ["100", "200"]
    p = dy("run", "--rm", "--ulimit", "nofile=100:999999999", "busybox", "true")
    assert p.returncode == 125 and "hard limit" in p.stderr and p.stderr.count("\n") == 1


def test_device_and_device_cgroup(dy):
    out = dy.ok("run", "--rm", "--device", "/dev/null:/dev/extra-null", "busybox", "sh", "-c",
                "ls -l /dev/extra-null; echo hi > /dev/extra-null && echo usable")
    assert out.startswith("c") and "usable" in out
    p = dy("run", "--rm", "busybox", "sh", "-c", "mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem")
    assert p.returncode != 0 and "ermitted" in p.stderr  # /dev/mem: made, but not opened


def test_sysctl(dy):
    assert dy.ok("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "busybox",
                 "cat", "/proc/sys/net/ipv4/ip_forward") == "1\n"


def test_no_host_descriptors_or_cwd_leak_in(dy, tmp_path):
    """CVE-2024-21626's class: nothing the engine had open, and not its working
    directory, reaches the container."""
    secret = open(tmp_path / "held-open", "w")
    r, w = os.pipe()
    try:
        p = subprocess.run([*dy.cmd, "run", "--rm", "busybox", "sh", "-c",
                            "ls /proc/self/fd; readlink /proc/1/cwd"],
                           capture_output=True, text=True, env=dy.env, pass_fds=(secret.fileno(), r, w),
                           cwd=str(tmp_path), timeout=60)
    finally:
        secret.close()
        os.close(r)
        os.close(w)
    lines = p.stdout.split()
    assert p.returncode == 0 and sorted(lines[:-1], key=int)[:4] == ["0", "1", "2", "3"]
    assert all(int(fd) <= 3 for fd in lines[:-1]), lines
    assert lines[-1] == "/" and str(tmp_path) not in p.stdout


def test_the_runtime_binary_cannot_be_overwritten(dy):
    """CVE-2019-5736's class: the container's /proc/self/exe is its own binary, and
    writing through it changes nothing on the host."""
    before = hashlib.sha256(open(os.path.realpath(sys.executable), "rb").read()).hexdigest()
    p = dy("run", "--rm", "busybox", "sh", "-c", "readlink /proc/self/exe; echo x >> /proc/self/exe; "
                                                  "echo x >> /proc/1/exe; true")
    assert p.stdout.strip() == "/bin/busybox"
    after = hashlib.sha256(open(os.path.realpath(sys.executable), "rb").read()).hexdigest()
    assert before == after


def test_nothing_is_left_on_the_host_after_rm_f(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", "sleep 100 & sleep 100").strip()
    pid = int(dy.ok("inspect", "-f", "{{.State.Pid}}", cid))
    children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    dy.ok("rm", "-f", cid)
    for p in [pid, *map(int, children)]:
        assert not os.path.exists(f"/proc/{p}") or open(f"/proc/{p}/stat").read().split()[2] == "Z"
    with open("/proc/self/mountinfo") as f:
        assert cid not in f.read()
    from conftest import leftover_cgroups

    assert leftover_cgroups(cid) == []
