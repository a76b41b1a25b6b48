"""Healthchecks: the container's HEALTHCHECK (or `--health-cmd`), run by its monitor.

Docker's daemon runs the probes; with no daemon, the monitor does, through its poll
loop's watcher protocol (fds / timeout / on_ready / on_timeout / close): a
HealthChecker never blocks the loop. Each probe is a process inside the container,
started like `exec` (runtime.native.exec.spawn: every namespace, the cgroup, the
container's user, environment, capabilities and seccomp), its stdout and stderr on
one non-blocking pipe, its exit seen through a pidfd.

Docker's rules, kept here:

- a probe runs every Interval (default 30s) after the previous one ended; during
  the StartPeriod, while the container is still "starting", every StartInterval
  (default 5s); the first one an interval after the container started;
- exit 0 is healthy; anything else a failure; a probe running past Timeout (default
  30s) is killed and recorded as exit -1, "Health check exceeded timeout (30s)";
- Retries (default 3) failures in a row make the container unhealthy, except that
  failures inside the start period do not count while it has never been healthy;
- State.Health (containers.health, JSON) is {Status: starting|healthy|unhealthy,
  FailingStreak, Log: the last 5 {Start, End, ExitCode, Output}}, with Output cut at
  4096 bytes ("..." appended); each change of Status is an event
  "health_status: healthy" / "health_status: unhealthy".

Only the standard library and the low layers: this runs in the monitor.
"""

from __future__ import annotations

import os
import time

from ..core.clock import now_ns, rfc3339

DEFAULT_INTERVAL = 30_000_000_000
DEFAULT_TIMEOUT = 30_000_000_000
DEFAULT_START_INTERVAL = 5_000_000_000
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"


def probe_args(test: list[str]) -> list[str] | None:
    """The probe's argv from Config.Healthcheck.Test; None when there is no probe."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]] if len(test) > 1 else None
    if test[0] == "CMD":
        return list(test[1:]) or None
    return None


class _Probe:
    """One running check."""

    __slots__ = ("pid", "pidfd", "out", "buf", "truncated", "start", "deadline", "timed_out")

    def __init__(self, pid: int, out: int, start: int, deadline: float) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.out = out
        self.buf = bytearray()
        self.truncated = False
        self.start = start
        self.deadline = deadline
        self.timed_out = False

    def take(self, data: bytes) -> None:
        keep = MAX_OUTPUT - len(self.buf)
        if keep > 0:
            self.buf += data[:keep]
        if len(data) > keep:
            self.truncated = True

    def drain(self) -> bool:
        """Read what the pipe holds now; False once it is closed (EOF)."""
        while self.out >= 0:
            try:
                data = os.read(self.out, 65536)
            except BlockingIOError:
                return True
            except OSError:
                data = b""
            if not data:
                os.close(self.out)
                self.out = -1
                return False
            self.take(data)
        return False

    def output(self) -> str:
        text = bytes(self.buf).decode("utf-8", "replace")
        return text + "..." if self.truncated else text

    def close(self) -> None:
        for fd in (self.out, self.pidfd):
            if fd >= 0:
                os.close(fd)
        self.out = self.pidfd = -1


class HealthChecker:
    """Runs one container's healthcheck as a watcher of its monitor's poll loop.

    Made after the container's process started (and again after each restart);
    `resume` is `handover()` of the checker of a monitor that re-executed itself,
    so the run's state carries on instead of starting over."""

    def __init__(self, task_cid: str, db_path: str, healthcheck: dict, container_pid: int,
                 spec: dict, cgroup_procs: list[str], resume: dict | None = None) -> None:
        self.cid = task_cid
        self.db_path = db_path
        self.container_pid = container_pid
        self.spec = spec
        self.cgroup_procs = list(cgroup_procs)
        hc = healthcheck or {}
        self.args = probe_args(hc.get("Test") or [])
        self.interval = hc.get("Interval") or DEFAULT_INTERVAL
        self.probe_timeout = hc.get("Timeout") or DEFAULT_TIMEOUT
        self.start_period = hc.get("StartPeriod") or 0
        self.start_interval = hc.get("StartInterval") or DEFAULT_START_INTERVAL
        retries = hc.get("Retries") or 0
        self.retries = retries if retries > 0 else DEFAULT_RETRIES
        self._db = None
        self._attributes: dict | None = None
        self.probe: _Probe | None = None
        self.closed = False
        self.health = self._load()
        if resume:
            self.started = resume["started"]
            self.next_due = resume["next_due"]
        else:
            # Docker: a (re)started container is "starting" again; its Log is kept
            self.started = now_ns()
            self.health["Status"] = STARTING
            self.health["FailingStreak"] = 0
            self._save(None)
            self.next_due = time.monotonic() + self._interval() / 1e9

    # ---- the watcher protocol ---------------------------------------------------

    def fds(self) -> list[int]:
        p = self.probe
        if p is None:
            return []
        return [fd for fd in (p.pidfd, p.out) if fd >= 0]

    def timeout(self) -> float | None:
        if self.closed or self.args is None:
            return None
        p = self.probe
        if p is not None:
            return None if p.timed_out else max(0.0, p.deadline - time.monotonic())
        return max(0.0, self.next_due - time.monotonic())

    def on_ready(self, fd: int) -> None:
        p = self.probe
        if p is None:
            return
        if fd == p.out:
            p.drain()
        elif fd == p.pidfd:
            pid, status = os.waitpid(p.pid, os.WNOHANG)
            if pid == 0:
                return
            p.drain()  # what it wrote before it ended (not what its children write later)
            code = os.waitstatus_to_exitcode(status)
            if code < 0:
                code = 128 - code
            self.probe = None
            p.close()
            if p.timed_out:
                timeout = _go_duration(self.probe_timeout)
                out = p.output()
                msg = (f"Health check exceeded timeout ({timeout}): {out}" if out
                       else f"Health check exceeded timeout ({timeout})")
                self._result(p.start, -1, msg)
            else:
                self._result(p.start, code, p.output())

    def on_timeout(self) -> None:
        if self.closed or self.args is None:
            return
        now = time.monotonic()
        p = self.probe
        if p is not None:
            if not p.timed_out and now >= p.deadline:
                p.timed_out = True
                try:
                    os.kill(p.pid, 9)  # its exit (pidfd) records the result
                except ProcessLookupError:
                    pass
            return
        if now >= self.next_due:
            self._start_probe()

    def close(self) -> None:
        """The container exited (or is restarting): stop the running probe, if any."""
        self.closed = True
        p = self.probe
        self.probe = None
        if p is not None:
            try:
                os.kill(p.pid, 9)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(p.pid, 0)
            except ChildProcessError:
                pass
            p.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    def handover(self) -> dict:
        """What a re-executed monitor passes as `resume` (marshal-able)."""
        return {"started": self.started, "next_due": self.next_due if self.probe is None else 0.0}

    # ---- probes -----------------------------------------------------------------

    def _interval(self) -> int:
        if now_ns() - self.started >= self.start_period:
            return self.interval
        return self.start_interval if self.health["Status"] == STARTING else self.interval

    def _start_probe(self) -> None:
        from ..errors import DockyardError
        from ..runtime.native.exec import spawn

        start = now_ns()
        process = dict(self.spec.get("process") or {})
        process["args"] = self.args
        process["terminal"] = False
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(r, False)
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        try:
            pid = spawn(self.container_pid, self.spec, process, (null, w, w), self.cgroup_procs)
        except (DockyardError, OSError) as e:
            os.close(r)
            self._result(start, -1, getattr(e, "message", None) or str(e))
            return
        finally:
            os.close(w)
            os.close(null)
        try:
            self.probe = _Probe(pid, r, start, time.monotonic() + self.probe_timeout / 1e9)
        except OSError:  # no pidfd: it has been reaped already, or cannot be watched
            os.close(r)
            try:
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                code = -1
            self._result(start, code if code >= 0 else 128 - code, "")

    def _result(self, start: int, code: int, output: str) -> None:
        """Docker's handleProbeResult: the Log, the streak, the status, the event."""
        h = self.health
        old = h["Status"]
        log = h.setdefault("Log", [])
        log.append({"Start": rfc3339(start), "End": rfc3339(now_ns()), "ExitCode": code, "Output": output})
        del log[:-MAX_LOG_ENTRIES]
        if code == 0:
            h["FailingStreak"] = 0
            h["Status"] = HEALTHY
        else:
            counts = True
            if h["Status"] == STARTING and start - self.started < self.start_period:
                counts = False  # failures while starting up do not count
            if counts:
                h["FailingStreak"] = h.get("FailingStreak", 0) + 1
                if h["FailingStreak"] >= self.retries:
                    h["Status"] = UNHEALTHY
        self._save(h["Status"] if h["Status"] != old else None)
        self.next_due = time.monotonic() + self._interval() / 1e9

    # ---- the store ----------------------------------------------------------------

    def _database(self):
        if self._db is None:
            from ..store.db import Database

            self._db = Database(self.db_path)
        return self._db

    def _load(self) -> dict:
        from ..core.jsonenc import loads

        row = self._database().one("SELECT health FROM containers WHERE id=?", (self.cid,))
        try:
            h = loads(row[0]) if row and row[0] else None
        except ValueError:
            h = None
        if not isinstance(h, dict):
            h = {}
        return {"Status": h.get("Status") or STARTING, "FailingStreak": h.get("FailingStreak") or 0,
                "Log": list(h.get("Log") or [])}

    def _save(self, changed_to: str | None) -> None:
        """State.Health into the row; an event when the status changed."""
        from ..core.jsonenc import dumps

        db = self._database()
        with db.write() as c:
            c.execute("UPDATE containers SET health=? WHERE id=?", (dumps(self.health), self.cid))
            if changed_to is not None:
                from ..store.events import append

                append(c, "container", f"health_status: {changed_to}", self.cid, self._event_attributes(c))

    def _event_attributes(self, conn) -> dict:
        """A container event's attributes: its labels, image and name."""
        row = conn.execute("SELECT name, image, config FROM containers WHERE id=?", (self.cid,)).fetchone()
        if row is None:
            return {}
        if self._attributes is None:
            from ..core.jsonenc import loads

            try:
                labels = (loads(row[2]).get("Config") or {}).get("Labels") or {}
            except (ValueError, AttributeError):
                labels = {}
            self._attributes = dict(labels)
        return {**self._attributes, "image": row[1], "name": row[0]}


def _go_duration(ns: int) -> str:
    from ..core.durations import format_duration

    return format_duration(ns)
