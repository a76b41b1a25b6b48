"""Containers: create, start, stop, kill, wait, remove, list, logs.

The database is the only shared truth. Every state change is a compare-and-set on
the container's row (`UPDATE ... WHERE state IN (...)`), so two CLIs racing on one
container cannot both start or both remove it; the monitor owns the row's runtime
fields (pid, running/exited, exit code) while the container runs. A row whose
monitor is gone without recording an exit (killed, or the machine rebooted) is
repaired when it is next read.

States: created -> starting -> running -> exited -> (starting ...); any -> removing.
"""

from __future__ import annotations

import os

from ..core import clock
from ..core.files import rmtree, write_file, MountedError
from ..core.host import boot_id
from ..core.layout import Layout
from ..errors import Conflict, ContainerNotFound, DockyardError, InvalidArgument
from ..store.db import Database, IntegrityError

_COLUMNS = ("id, name, image, image_id, created, command, state, pid, monitor_pid, monitor_start, "
            "boot_id, started, finished, exit_code, oom_killed, error, auto_remove, runtime")

HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


class Container:
    """One container's row; `config` (Docker's Config and HostConfig) parsed on demand."""

    __slots__ = ("id", "name", "image", "image_id", "created", "command", "state", "pid",
                 "monitor_pid", "monitor_start", "boot_id", "started", "finished", "exit_code",
                 "oom_killed", "error", "auto_remove", "runtime", "_config", "_db")

    def __init__(self, row: tuple, db: Database | None = None) -> None:
        (self.id, self.name, self.image, self.image_id, self.created, self.command, self.state,
         self.pid, self.monitor_pid, self.monitor_start, self.boot_id, self.started, self.finished,
         self.exit_code, self.oom_killed, self.error, self.auto_remove, self.runtime) = row
        self._config = None
        self._db = db

    @property
    def config(self) -> dict:
        if self._config is None:
            import json

            row = self._db.one("SELECT config FROM containers WHERE id = ?", (self.id,)) if self._db else None
            self._config = json.loads(row[0]) if row else {"Config": {}, "HostConfig": {}}
        return self._config

    @property
    def running(self) -> bool:
        return self.state == "running"

    def status_text(self, now_ns: int | None = None) -> str:
        """The STATUS column of `ps`: `Up 5 seconds`, `Exited (0) 3 minutes ago`, `Created`."""
        from ..core.units import human_duration

        now = now_ns or clock.now_ns()
        if self.state == "running":
            return "Up " + human_duration((now - (self.started or now)) / 1e9)
        if self.state == "exited":
            return f"Exited ({self.exit_code or 0}) {human_duration((now - (self.finished or now)) / 1e9)} ago"
        if self.state == "removing":
            return "Removal In Progress"
        return "Created"


def _monitor_alive(c: Container, current_boot: str) -> bool:
    from ..monitor.monitor import process_start

    if not c.monitor_pid or c.boot_id != current_boot:
        return False
    return process_start(c.monitor_pid) == c.monitor_start


class Containers:
    def __init__(self, layout: Layout, db: Database) -> None:
        self.layout = layout
        self.db = db

    # ---- lookup ---------------------------------------------------------------

    def get(self, ref: str) -> Container:
        """By full id, name, or unique id prefix (in that order, as Docker does)."""
        if not ref:
            raise InvalidArgument("container name or ID cannot be empty")
        name = ref[1:] if ref.startswith("/") else ref
        row = self.db.one(f"SELECT {_COLUMNS} FROM containers WHERE id = ? OR name = ? "
                          "ORDER BY id = ? DESC LIMIT 1", (ref, name, ref))
        if row is None and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.all(f"SELECT {_COLUMNS} FROM containers WHERE id >= ? AND id < ? LIMIT 2",
                               (ref, ref + "g"))
            if len(rows) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
            row = rows[0] if rows else None
        if row is None:
            raise ContainerNotFound(f"No such container: {ref}")
        c = Container(row, self.db)
        if c.state in ("running", "starting"):
            c = self._repair([c])[0]
        return c

    def list(self, all: bool = False) -> list[Container]:
        where = "" if all else " WHERE state IN ('running', 'starting')"
        rows = [Container(r, self.db) for r in
                self.db.all(f"SELECT {_COLUMNS} FROM containers{where} ORDER BY created DESC")]
        live = [c for c in rows if c.state in ("running", "starting")]
        if live:
            self._repair(live)
        if not all:
            rows = [c for c in rows if c.state == "running"]
        return rows

    def _repair(self, cs: list[Container]) -> list[Container]:
        """Containers whose monitor died without recording their end: mark them exited
        (or created, if they never started) and remove their leftovers."""
        current = boot_id()
        for c in cs:
            if c.state == "starting" and not c.monitor_pid:
                # a start in progress: give it time before calling it abandoned
                if clock.now_ns() - (c.started or c.created) < 60 * 10**9:
                    continue
            elif _monitor_alive(c, current):
                continue
            new_state = "exited" if c.state == "running" else "created"
            with self.db.write() as conn:
                n = conn.execute("UPDATE containers SET state=?, exit_code=COALESCE(exit_code, 255), "
                                 "finished=?, pid=0, monitor_pid=NULL, error=COALESCE(error, ?) "
                                 "WHERE id=? AND state=? AND COALESCE(monitor_pid, 0)=?",
                                 (new_state, clock.now_ns(), "the container's monitor exited unexpectedly",
                                  c.id, c.state, c.monitor_pid or 0)).rowcount
            if n:
                self._cleanup_runtime(c)
                c.state, c.pid = new_state, 0
                if c.exit_code is None:
                    c.exit_code = 255
        return cs

    def _cleanup_runtime(self, c: Container) -> None:
        from .. import cgroups

        if c.runtime == "native":
            try:
                cgroups.manager().destroy(cgroups.container_path(c.id))
            except OSError:
                pass
        else:
            from ..runtime import get

            try:
                get(c.runtime, self.layout.runroot).delete(self.layout.container(c.id), c.id)
            except DockyardError:
                pass

    # ---- create ---------------------------------------------------------------

    def insert(self, *, cid: str, name: str | None, image: str, image_id: str, command: str,
               auto_remove: bool, runtime: str, config_json: "str | Callable[[Connection], str]") -> str:
        """Claim id and name; a generated name is retried on a clash, a given one is not.
        `config_json` may be a function of the open transaction (for choices that must
        not race another create, as --userns=auto's id range)."""
        from ..core.ids import random_name

        for _ in range(20):
            n = name or random_name()
            try:
                with self.db.write() as conn:
                    config = config_json(conn) if callable(config_json) else config_json
                    conn.execute(
                        "INSERT INTO containers (id, name, image, image_id, created, command, state, "
                        "auto_remove, runtime, config) VALUES (?,?,?,?,?,?,'created',?,?,?)",
                        (cid, n, image, image_id, clock.now_ns(), command, int(auto_remove), runtime,
                         config))
                return n
            except IntegrityError:
                if name:
                    row = self.db.one("SELECT id FROM containers WHERE name = ?", (name,))
                    raise Conflict(f'Conflict. The container name "/{name}" is already in use by container '
                                   f'"{row[0] if row else "?"}". You have to remove (or rename) that '
                                   "container to be able to reuse that name.") from None
        raise Conflict("could not generate a unique container name")

    def write_bundle_files(self, home: str, hostname: str) -> dict[str, str]:
        """/etc/hostname, /etc/hosts and /etc/resolv.conf for the container."""
        write_file(home + "/hostname", hostname + "\n")
        write_file(home + "/hosts", HOSTS)
        write_file(home + "/resolv.conf", _resolv_conf())
        return {"/etc/resolv.conf": home + "/resolv.conf", "/etc/hostname": home + "/hostname",
                "/etc/hosts": home + "/hosts"}

    # ---- state changes --------------------------------------------------------

    def claim_start(self, c: Container) -> bool:
        """created/exited -> starting; False if it is running already."""
        with self.db.write() as conn:
            n = conn.execute("UPDATE containers SET state='starting', started=?, monitor_pid=NULL "
                             "WHERE id=? AND state IN ('created', 'exited')", (clock.now_ns(), c.id)).rowcount
            if n:
                return True
            row = conn.execute("SELECT state FROM containers WHERE id=?", (c.id,)).fetchone()
        if row is None:
            raise ContainerNotFound(f"No such container: {c.id}")
        if row[0] in ("running", "starting"):
            return False
        raise Conflict(f"cannot start container {c.id[:12]}: it is being removed")

    def release_start(self, c: Container, code: int, message: str) -> None:
        self.release_start_by_id(c.id, code, message)

    def release_start_by_id(self, cid: str, code: int, message: str) -> None:
        """A start that failed before the monitor took over: back to created."""
        with self.db.write() as conn:
            conn.execute("UPDATE containers SET state='created', exit_code=?, error=? "
                         "WHERE id=? AND state='starting' AND monitor_pid IS NULL", (code, message, cid))

    def signal(self, c: Container, sig: int) -> None:
        if c.state != "running" or not c.pid:
            raise Conflict(f"cannot kill container: {c.id[:12]}: container {c.id[:12]} is not running")
        try:
            os.kill(c.pid, sig)
        except ProcessLookupError:
            pass

    def wait_exit(self, c: Container, timeout: float | None = None) -> bool:
        """Wait until the monitor has recorded the container's end; False on timeout."""
        import select

        if c.state not in ("running", "starting") or not c.monitor_pid:
            if c.state == "starting":
                return self._poll_state(c, timeout)
            return True
        try:
            fd = os.pidfd_open(c.monitor_pid)
        except ProcessLookupError:
            self._repair([c])
            return True
        try:
            from ..monitor.monitor import process_start

            if process_start(c.monitor_pid) != c.monitor_start:
                self._repair([c])
                return True
            p = select.poll()
            p.register(fd, select.POLLIN)
            if not p.poll(None if timeout is None else int(timeout * 1000)):
                return False
        finally:
            os.close(fd)
        return True

    def _poll_state(self, c: Container, timeout: float | None) -> bool:
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while end is None or time.monotonic() < end:
            row = self.db.one("SELECT state, monitor_pid FROM containers WHERE id=?", (c.id,))
            if row is None or row[0] != "starting":
                if row and row[0] == "running":
                    return self.wait_exit(self.get(c.id), None if end is None else max(0, end - time.monotonic()))
                return True
            time.sleep(0.01)
        return False

    def stop(self, c: Container, timeout: int | None, stop_signal: int) -> None:
        """Docker's stop: the stop signal, up to `timeout` seconds, then SIGKILL."""
        if c.state != "running":
            return
        try:
            os.kill(c.pid, stop_signal)
        except ProcessLookupError:
            pass
        t = 10 if timeout is None else timeout
        if t < 0 or not self._wait_pid_gone(c, t):
            try:
                os.kill(c.pid, 9)
            except ProcessLookupError:
                pass
        self.wait_exit(c)

    def _wait_pid_gone(self, c: Container, timeout: float) -> bool:
        import select

        try:
            fd = os.pidfd_open(c.pid)
        except ProcessLookupError:
            return True
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            return bool(p.poll(int(timeout * 1000)))
        finally:
            os.close(fd)

    def remove(self, c: Container, force: bool) -> None:
        for _ in range(100):
            if c.state in ("running", "starting"):
                if not force:
                    raise Conflict(f"You cannot remove a running container {c.id}. Stop the container "
                                   "before attempting removal or force remove")
                if c.state == "running":
                    self.signal(c, 9)
                self.wait_exit(c)
            with self.db.write() as conn:
                n = conn.execute("UPDATE containers SET state='removing' WHERE id=? "
                                 "AND state IN ('created', 'exited')", (c.id,)).rowcount
            if n:
                break
            row = self.db.one(f"SELECT {_COLUMNS} FROM containers WHERE id=?", (c.id,))
            if row is None:
                return  # removed meanwhile (--rm, or another rm): done
            c = Container(row, self.db)
            if c.state == "removing":
                raise Conflict(f"removal of container {c.id[:12]} is already in progress")
        home = self.layout.container(c.id)
        try:
            rmtree(home)
        except MountedError:
            self._cleanup_runtime(c)
            rmtree(home)
        with self.db.write() as conn:
            conn.execute("DELETE FROM containers WHERE id=?", (c.id,))

    # ---- logs -----------------------------------------------------------------

    def log_path(self, c: Container) -> str:
        return f"{self.layout.container(c.id)}/{c.id}-json.log"


def _resolv_conf() -> str:
    """The host's resolv.conf without loopback nameservers (unreachable from the
    container's own network namespace)."""
    try:
        with open("/etc/resolv.conf") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    out = []
    for line in lines:
        parts = line.split()
        if parts[:1] == ["nameserver"] and len(parts) > 1 and (
                parts[1].startswith("127.") or parts[1] == "::1"):
            continue
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")
