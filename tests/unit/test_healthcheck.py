"""The healthcheck state machine (monitor/health.py), driven by a small poll loop
like the monitor's, with probes run as host processes in place of
runtime.native.exec.spawn (the container side is tested in
tests/integration/test_health.py)."""

from __future__ import annotations

import json
import os
import select
import sys
import time
import types

import pytest

from dockyard.monitor import health
from dockyard.store.db import Database
from dockyard.store.events import read as read_events

MS = 1_000_000


def _host_spawn(container_pid, spec, process, stdio, cgroup_procs=(), console_socket=None):
    pid = os.fork()
    if pid == 0:
        try:
            for i, fd in enumerate(stdio):
                os.dup2(fd, i)
            os.execvp(process["args"][0], process["args"])
        finally:
            os._exit(127)
    return pid


@pytest.fixture
def host_spawn(monkeypatch):
    try:
        import dockyard.runtime.native.exec as mod
    except ImportError:
        mod = types.ModuleType("dockyard.runtime.native.exec")
        monkeypatch.setitem(sys.modules, "dockyard.runtime.native.exec", mod)
    monkeypatch.setattr(mod, "spawn", _host_spawn, raising=False)


@pytest.fixture
def store(tmp_path):
    db = Database(str(tmp_path / "dockyard.db"))
    with db.write() as c:
        c.execute("INSERT INTO containers (id, name, image, image_id, created, command, state, runtime, config)"
                  " VALUES ('c1', 'web', 'busybox', 'sha256:x', 0, 'sleep', 'running', 'native', ?)",
                  (json.dumps({"Config": {"Labels": {"app": "x"}}, "HostConfig": {}}),))
    yield db
    db.close()


def _checker(store, test, **hc):
    spec = {"process": {"args": ["sleep", "1"], "env": [], "cwd": "/"}}
    return health.HealthChecker("c1", store.path, {"Test": test, **hc}, os.getpid(), spec, [])


def _drive(w, until, limit: float = 5.0) -> None:
    """The monitor's loop, reduced to one watcher."""
    end = time.monotonic() + limit
    while not until() and time.monotonic() < end:
        poller = select.poll()
        for fd in w.fds():
            poller.register(fd, select.POLLIN)
        t = w.timeout()
        wait = min(t if t is not None else 1.0, end - time.monotonic())
        events = poller.poll(max(0, int(wait * 1000)))
        for fd, _ in events:
            w.on_ready(fd)
        t = w.timeout()
        if not events and t is not None and t <= 0:
            w.on_timeout()


def _state(store) -> dict:
    db = Database(store.path)
    try:
        row = db.one("SELECT health FROM containers WHERE id='c1'")
    finally:
        db.close()
    return json.loads(row[0])


def test_starting_then_healthy_with_an_event(store, host_spawn):
    w = _checker(store, ["CMD-SHELL", "echo ok; exit 0"], Interval=50 * MS)
    assert _state(store)["Status"] == "starting"
    _drive(w, lambda: w.health["Status"] == "healthy")
    w.close()
    h = _state(store)
    assert h["Status"] == "healthy" and h["FailingStreak"] == 0
    (entry,) = h["Log"]
    assert entry["ExitCode"] == 0 and entry["Output"] == "ok\n"
    assert entry["Start"].endswith("Z") and entry["End"] >= entry["Start"]
    events = [e for e in read_events(Database(store.path)) if e.actor == "c1"]
    assert [e.action for e in events] == ["health_status: healthy"]
    assert events[0].attributes == {"app": "x", "image": "busybox", "name": "web"}


def test_retries_failures_make_it_unhealthy_and_log_keeps_five(store, host_spawn):
    w = _checker(store, ["CMD", "sh", "-c", "echo bad >&2; exit 3"], Interval=10 * MS, Retries=2)
    _drive(w, lambda: w.health["FailingStreak"] >= 7)
    w.close()
    h = _state(store)
    assert h["Status"] == "unhealthy"
    assert len(h["Log"]) == 5
    assert {(e["ExitCode"], e["Output"]) for e in h["Log"]} == {(3, "bad\n")}
    actions = [e.action for e in read_events(Database(store.path)) if e.actor == "c1"]
    assert actions == ["health_status: unhealthy"]  # once: only changes are events


def test_one_failure_below_retries_keeps_starting(store, host_spawn):
    w = _checker(store, ["CMD-SHELL", "exit 1"], Interval=10 * MS, Retries=3)
    _drive(w, lambda: w.health["FailingStreak"] >= 2)
    w.close()
    assert w.health["Status"] == "starting"


def test_failures_in_the_start_period_do_not_count(store, host_spawn):
    w = _checker(store, ["CMD-SHELL", "exit 1"], Interval=10 * MS, StartPeriod=10_000 * MS,
                 StartInterval=10 * MS, Retries=1)
    _drive(w, lambda: len(w.health["Log"]) >= 3)
    w.close()
    assert w.health["Status"] == "starting" and w.health["FailingStreak"] == 0


def test_timeout_kills_the_probe(store, host_spawn):
    w = _checker(store, ["CMD-SHELL", "echo slow; exec sleep 30"], Interval=10 * MS, Timeout=200 * MS,
                 Retries=1)
    t0 = time.monotonic()
    _drive(w, lambda: w.health["Status"] == "unhealthy")
    took = time.monotonic() - t0
    w.close()
    (entry,) = _state(store)["Log"]
    assert entry["ExitCode"] == -1
    assert entry["Output"] == "Health check exceeded timeout (200ms): slow\n"
    assert took < 2


def test_output_is_cut_at_4096_bytes(store, host_spawn):
    w = _checker(store, ["CMD-SHELL", "head -c 10000 /dev/zero | tr '\\0' x"], Interval=10 * MS)
    _drive(w, lambda: w.health["Status"] == "healthy")
    w.close()
    out = _state(store)["Log"][0]["Output"]
    assert out == "x" * 4096 + "..."


def test_probe_that_cannot_start_is_a_failure(store, monkeypatch, host_spawn):
    from dockyard.errors import StartError
    import dockyard.runtime.native.exec as mod

    def refuse(*a, **kw):
        raise StartError('exec: "nope": executable file not found in $PATH', exit_code=127)

    monkeypatch.setattr(mod, "spawn", refuse, raising=False)
    w = _checker(store, ["CMD", "nope"], Interval=10 * MS, Retries=1)
    _drive(w, lambda: w.health["Status"] == "unhealthy")
    w.close()
    (entry,) = _state(store)["Log"]
    assert entry["ExitCode"] == -1 and "executable file not found" in entry["Output"]


def test_close_kills_a_running_probe(store, host_spawn):
    w = _checker(store, ["CMD-SHELL", "exec sleep 30"], Interval=10 * MS)
    _drive(w, lambda: w.probe is not None)
    pid = w.probe.pid
    w.close()
    assert w.fds() == [] and w.timeout() is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_restart_resets_status_but_keeps_log(store, host_spawn):
    w = _checker(store, ["CMD-SHELL", "true"], Interval=10 * MS)
    _drive(w, lambda: w.health["Status"] == "healthy")
    w.close()
    w2 = _checker(store, ["CMD-SHELL", "true"], Interval=10 * MS)
    h = _state(store)
    w2.close()
    assert h["Status"] == "starting" and len(h["Log"]) == 1


def test_handover_resumes_without_reset(store, host_spawn):
    w = _checker(store, ["CMD-SHELL", "true"], Interval=10 * MS)
    _drive(w, lambda: w.health["Status"] == "healthy")
    state = w.handover()
    w.close()
    spec = {"process": {"args": ["x"], "env": [], "cwd": "/"}}
    w2 = health.HealthChecker("c1", store.path, {"Test": ["CMD-SHELL", "true"], "Interval": 10 * MS},
                              os.getpid(), spec, [], resume=state)
    assert w2.health["Status"] == "healthy"
    w2.close()


def test_probe_args():
    assert health.probe_args(["CMD-SHELL", "curl -f x"]) == ["/bin/sh", "-c", "curl -f x"]
    assert health.probe_args(["CMD", "true", "a"]) == ["true", "a"]
    assert health.probe_args(["NONE"]) is None
    assert health.probe_args([]) is None
