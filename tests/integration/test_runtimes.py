"""The same bundle runs under runc and crun (`--runtime`), so the runtimes stay
interchangeable and comparable."""

import os
import shutil

import pytest


def _usable(name: str) -> str | None:
    if not shutil.which(name):
        return f"{name} is not installed"
    if name == "crun" and os.path.isdir("/sys/fs/cgroup/unified") and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "crun refuses the hybrid cgroup layout of this machine (v1 controllers plus a cgroup2 mount)"
    return None


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_external_runtime_runs_the_bundle(dy, runtime):
    why = _usable(runtime)
    if why:
        pytest.skip(why)
    p = dy("run", "--rm", "--runtime", runtime, "-m", "64m", "busybox", "sh", "-c",
           "echo $$; hostname; cat /proc/self/cgroup | head -3; exit 3")
    assert p.returncode == 3, p.stderr
    lines = p.stdout.split()
    assert lines[0] == "1" and len(lines[1]) == 12
    p = dy("run", "--rm", "--runtime", runtime, "busybox", "no-such-command")
    assert p.returncode == 127, p.stderr
    cid = dy.ok("run", "-d", "--runtime", runtime, "busybox", "sleep", "30").strip()
    assert dy.ok("inspect", "-f", "{{.State.Status}} {{.HostConfig.Runtime}}", cid).split() == ["running", runtime]
    dy.ok("rm", "-f", cid)
    with open("/proc/self/mountinfo") as f:
        assert cid not in f.read()


def test_unknown_runtime_is_refused(dy):
    p = dy("run", "--rm", "--runtime", "nope", "busybox", "true")
    assert p.returncode == 125 and "unknown or invalid runtime name: nope" in p.stderr
