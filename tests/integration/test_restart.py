"""Restart policies: the monitor restarts the process with Docker's back-off, stops on
`stop`, and after a reboot the first command brings `always`/`unless-stopped` back."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest


def _wait_for(predicate, timeout: float = 15, interval: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def _state(dy, cid: str) -> list[str]:
    return dy.ok("inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", cid).split()


def test_on_failure_gives_up_after_its_count(dy):
    cid = dy.ok("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 1").strip()
    try:
        assert _wait_for(lambda: _state(dy, cid) == ["exited", "2", "1"], timeout=20)
        time.sleep(0.5)
        assert _state(dy, cid) == ["exited", "2", "1"]
        assert dy.ok("logs", cid) == "run\n" * 3  # the first run and two restarts
        assert dy.ok("inspect", "-f", "{{json .HostConfig.RestartPolicy}}", cid).strip() == \
            '{"Name":"on-failure","MaximumRetryCount":2}'
    finally:
        dy("rm", "-f", cid)


def test_on_failure_leaves_a_clean_exit_alone(dy):
    cid = dy.ok("run", "-d", "--restart", "on-failure", "busybox", "true").strip()
    try:
        assert _wait_for(lambda: _state(dy, cid)[0] == "exited")
        time.sleep(0.3)
        assert _state(dy, cid) == ["exited", "0", "0"]
    finally:
        dy("rm", "-f", cid)


def test_ps_shows_restarting_between_runs(dy):
    cid = dy.ok("run", "-d", "--restart", "on-failure:4", "busybox", "sh", "-c", "exit 3").strip()
    try:
        status = _wait_for(lambda: next((s for s in [dy.ok("ps", "--filter", f"id={cid}", "--format",
                                                            "{{.Status}}").strip()]
                                         if s.startswith("Restarting (3)")), None), timeout=10, interval=0.02)
        assert status.endswith("ago")
        assert _wait_for(lambda: _state(dy, cid)[0] == "exited", timeout=20)
    finally:
        dy("rm", "-f", cid)


def test_always_restarts_until_stopped(dy):
    cid = dy.ok("run", "-d", "--restart", "always", "busybox", "sh", "-c", "echo hi; exit 0").strip()
    try:
        assert _wait_for(lambda: int(_state(dy, cid)[1]) >= 3, timeout=20)
        dy.ok("stop", cid)
        first = _state(dy, cid)
        assert first[0] == "exited"
        time.sleep(1.0)
        assert _state(dy, cid) == first  # stopped means stopped: no more restarts
        # a start by the user counts afresh
        dy.ok("start", cid)
        assert _wait_for(lambda: int(_state(dy, cid)[1]) >= 1)
        dy.ok("rm", "-f", cid)
        assert dy("inspect", cid).returncode != 0
    finally:
        dy("rm", "-f", cid)


def test_a_restarted_process_is_attachable_and_killable(dy):
    cid = dy.ok("run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 1; echo tick").strip()
    try:
        assert _wait_for(lambda: int(_state(dy, cid)[1]) >= 1)

        def attached():
            p = dy("attach", "--no-stdin", cid, timeout=20)
            # between two runs attaching is refused, as Docker refuses it
            return p if "restarting" not in p.stderr else None

        p = _wait_for(attached)
        assert p.stdout == "tick\n" and p.returncode == 0, p.stderr
        dy.ok("kill", cid)
        assert _wait_for(lambda: _state(dy, cid)[0] == "exited")
        count = _state(dy, cid)[1]
        time.sleep(0.8)
        assert _state(dy, cid)[1] == count
    finally:
        dy("rm", "-f", cid)


@pytest.mark.parametrize("flags, message", [
    (["--restart", "on-failure:-1"], "invalid restart policy: maximum retry count cannot be negative"),
    (["--restart", "always:3"], "maximum retry count can only be used with 'on-failure'"),
    (["--restart", "sometimes"], "invalid restart policy: unknown policy 'sometimes'"),
    (["--restart", "on-failure:x"], "maximum retry count must be an integer"),
    (["--restart", "always", "--rm"], "Conflicting options: --restart and --rm"),
])
def test_bad_policies_are_refused(dy, flags, message):
    p = dy("run", *flags, "busybox", "true")
    assert p.returncode == 125 and message in p.stderr, p.stderr
    assert not dy.container_ids() or all(message not in dy("logs", c).stdout for c in dy.container_ids())


def test_after_a_reboot_the_policies_bring_containers_back(fresh_dy):
    dy = fresh_dy
    back = dy.ok("run", "-d", "--name", "back", "--restart", "unless-stopped", "busybox", "sleep", "1000").strip()
    also = dy.ok("run", "-d", "--name", "also", "--restart", "always", "busybox", "sleep", "1000").strip()
    dy.ok("stop", "-t", "0", also)  # `always` comes back after a reboot even when stopped
    down = dy.ok("run", "-d", "--name", "down", "--restart", "unless-stopped", "busybox", "sleep", "1000").strip()
    dy.ok("stop", "-t", "0", down)
    plain = dy.ok("run", "-d", "--name", "plain", "busybox", "sleep", "1000").strip()
    # the "reboot": every monitor and container process gone at once, rows left as
    # they were but for the boot they were recorded under, and an empty runroot
    db = sqlite3.connect(os.path.join(dy.root, "dockyard.db"))
    for cid in (back, plain):
        mon, pid = db.execute("SELECT monitor_pid, pid FROM containers WHERE id=?", (cid,)).fetchone()
        os.kill(mon, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
    db.execute("UPDATE containers SET boot_id='a-previous-boot'")
    db.commit()
    db.close()
    time.sleep(0.2)
    env = {"DOCKYARD_RUNROOT": dy.runroot + "-after-reboot"}
    try:
        out = dy.ok("ps", "-a", "--format", "{{.Names}} {{.State}}", env=env)
        states = dict(line.split() for line in out.splitlines())
        assert states == {"back": "running", "also": "running", "down": "exited", "plain": "exited"}, out
        # once per boot: a second command starts nothing
        dy.ok("stop", "-t", "0", "back", env=env)
        out = dy.ok("ps", "-a", "--format", "{{.Names}} {{.State}}", env=env)
        assert dict(line.split() for line in out.splitlines())["back"] == "exited"
    finally:
        for name in ("back", "also", "down", "plain"):
            dy("rm", "-f", name, env=env)
