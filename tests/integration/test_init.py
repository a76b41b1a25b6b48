"""`run --init`: Docker's docker-init (tini) as PID 1 reaps orphans and forwards
signals."""

from __future__ import annotations

import json
import os
import time

import pytest

# PID 1 ends up as `sleep`, which never calls wait(): three orphans are left to
# it; a second later a helper lists every process of the container from /proc
ORPHANS = ('for i in 1 2 3; do sh -c "sleep 0.1 &"; done; '
           '(sleep 1; cut -d" " -f1-4 /proc/[0-9]*/stat; echo done) & exec sleep 30')


def _init_available() -> bool:
    return any(os.access(p, os.X_OK) for p in ("/usr/bin/tini-static", "/usr/bin/catatonit",
                                               "/usr/libexec/podman/catatonit"))


needs_init = pytest.mark.skipif(not _init_available(), reason="no static init on the host (apt-get install tini)")


def _processes(dy, cid: str) -> list[tuple[int, str, str, int]]:
    for _ in range(100):
        out = dy.ok("logs", cid)
        if out.endswith("done\n"):
            break
        time.sleep(0.05)
    rows = []
    for line in out.splitlines()[:-1]:
        pid, comm, state, ppid = line.split()
        rows.append((int(pid), comm.strip("()"), state, int(ppid)))
    return rows


def test_without_init_orphans_stay_zombies(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", ORPHANS).strip()
    procs = _processes(dy, cid)
    assert (1, "sleep", "S", 0) in procs
    zombies = [p for p in procs if p[2] == "Z"]
    assert len(zombies) == 3 and all(p[3] == 1 for p in zombies)
    dy.ok("rm", "-f", cid)


@needs_init
def test_init_reaps_orphans(dy):
    cid = dy.ok("run", "-d", "--init", "busybox", "sh", "-c", ORPHANS).strip()
    procs = _processes(dy, cid)
    assert procs[0][:2] == (1, "docker-init")
    assert [p for p in procs if p[2] == "Z"] == []
    # the command is PID 1's child, as Docker runs it
    assert any(p[1] == "sleep" and p[3] == 1 for p in procs)
    assert json.loads(dy.ok("inspect", "-f", "{{json .HostConfig.Init}}", cid)) is True
    assert dy.ok("inspect", "-f", "{{.Path}} {{json .Args}}", cid).startswith("sh ")
    dy.ok("rm", "-f", cid)


@needs_init
def test_init_forwards_stop_signal(dy):
    cid = dy.ok("run", "-d", "--init", "busybox", "sleep", "60").strip()
    time.sleep(0.2)
    t = time.monotonic()
    dy.ok("stop", cid)
    assert time.monotonic() - t < 5  # SIGTERM reached sleep; no 10 s wait for SIGKILL
    assert dy.ok("inspect", "-f", "{{.State.ExitCode}}", cid) == "143\n"
    dy.ok("rm", cid)


@needs_init
def test_init_is_read_only_and_exit_codes_pass_through(dy):
    p = dy("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; "
           "echo x > /sbin/docker-init || exit 7")
    assert p.returncode == 7
    assert p.stdout.startswith("/sbin/docker-init -- sh -c")
    assert dy("run", "--rm", "--init", "busybox", "nonexistent-cmd").returncode == 127


def test_missing_init_binary_is_a_clear_error(dy):
    before = dy.container_ids()
    p = dy("run", "--rm", "--init", "busybox", "true", env={"DOCKYARD_INIT_PATH": "/nonexistent/tini"})
    assert p.returncode == 125
    assert p.stderr.strip().startswith('dockyard: exec: "/nonexistent/tini": executable file not found')
    assert dy.container_ids() == before
