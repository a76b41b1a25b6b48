"""Containers: create, start, stop, kill, pause, rename, wait, remove, list, logs.

The database is the only shared truth. Every state change is a compare-and-set on
the container's row (`UPDATE ... WHERE state IN (...)`), so two CLIs racing on one
container cannot both start or both remove it; the monitor owns the row's runtime
fields (pid, running/exited, exit code) while the container runs. A row whose
monitor is gone without recording an exit (killed, or the machine rebooted) is
repaired when it is next read.

States: created -> starting -> running -> exited -> (starting ...); any -> removing;
running <-> paused (the freezer cgroup); running -> restarting -> running (the monitor's
restart policy). `stop` and `kill` set manual_stop, which keeps a restart policy from
bringing the container back until it is started again.

Each change a user asks for is recorded as an event (services/events.py) in the same
transaction as the change: create, kill, stop, pause, unpause, rename, destroy.
"""

from __future__ import annotations

import os

from ..core import clock
from ..core.files import disk_usage, rmtree, write_file, MountedError
from ..core.host import boot_id
from ..core.layout import Layout
from ..errors import Conflict, ContainerNotFound, DockyardError, InvalidArgument
from ..store.db import Database, IntegrityError

_COLUMNS = ("id, name, image, image_id, created, command, state, pid, monitor_pid, monitor_start, "
            "boot_id, started, finished, exit_code, oom_killed, error, auto_remove, runtime, "
            "restart_count, manual_stop, health")

# states in which the container's monitor is alive (and its process, except while restarting)
LIVE = ("running", "paused", "restarting", "starting")
# what `ps` lists without -a: Docker's State.Running (paused and restarting included)
UP = ("running", "paused", "restarting")

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
                 "oom_killed", "error", "auto_remove", "runtime", "restart_count", "manual_stop",
                 "health", "_config", "_db")

    def __init__(self, row: tuple, db: Database | None = None) -> None:
        (self.id, self.name, self.image, self.image_id, self.created, self.command, self.state,
         self.pid, self.monitor_pid, self.monitor_start, self.boot_id, self.started, self.finished,
         self.exit_code, self.oom_killed, self.error, self.auto_remove, self.runtime,
         self.restart_count, self.manual_stop, self.health) = row
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

    @property
    def health_state(self) -> dict | None:
        """State.Health (Docker's shape), or None without a healthcheck."""
        if not self.health:
            return None
        from ..core.jsonenc import loads

        try:
            h = loads(self.health)
        except ValueError:
            return None
        return h if isinstance(h, dict) else None

    @property
    def health_status(self) -> str:
        """starting|healthy|unhealthy, "none" without a healthcheck (ps --filter health=)."""
        h = self.health_state
        return (h or {}).get("Status") or "none"

    @property
    def labels(self) -> dict:
        return (self.config.get("Config") or {}).get("Labels") or {}

    def status_text(self, now_ns: int | None = None) -> str:
        """The STATUS column of `ps` (Docker's State.String): `Up 5 seconds (healthy)`,
        `Up 2 minutes (Paused)`, `Restarting (1) 3 seconds ago`, `Exited (0) 3 minutes ago`."""
        from ..core.units import human_duration

        now = now_ns or clock.now_ns()
        if self.state in ("running", "paused"):
            up = "Up " + human_duration((now - (self.started or now)) / 1e9)
            if self.state == "paused":
                return up + " (Paused)"
            h = self.health_state
            if h and h.get("Status"):
                return up + (" (health: starting)" if h["Status"] == "starting" else f" ({h['Status']})")
            return up
        if self.state == "restarting":
            return f"Restarting ({self.exit_code or 0}) {human_duration((now - (self.finished or now)) / 1e9)} ago"
        if self.state == "exited":
            return f"Exited ({self.exit_code or 0}) {human_duration((now - (self.finished or now)) / 1e9)} ago"
        if self.state == "removing":
            return "Removal In Progress"
        return "Created"


def _monitor_alive(c: Container, current_boot: str) -> bool:
    from ..core.host import process_start

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
        if c.state in LIVE:
            c = self._repair([c])[0]
        return c

    def reload(self, c: Container) -> Container:
        """The row as it is now (ContainerNotFound if it went)."""
        row = self.db.one(f"SELECT {_COLUMNS} FROM containers WHERE id=?", (c.id,))
        if row is None:
            raise ContainerNotFound(f"No such container: {c.id}")
        return Container(row, self.db)

    def list(self, all: bool = False) -> list[Container]:
        where = "" if all else " WHERE state IN ('running', 'paused', 'restarting', 'starting')"
        rows = [Container(r, self.db) for r in
                self.db.all(f"SELECT {_COLUMNS} FROM containers{where} ORDER BY created DESC")]
        live = [c for c in rows if c.state in LIVE]
        if live:
            self._repair(live)
        if not all:
            rows = [c for c in rows if c.state in UP]
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
            new_state = "created" if c.state == "starting" else "exited"
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
                m = cgroups.manager()
                path = cgroups.container_path(c.id)
                if m.frozen(path):  # a paused container's leftovers cannot die frozen
                    m.freeze(path, False)
                m.destroy(path)
            except (OSError, DockyardError):
                pass
        else:
            from ..runtime import get

            try:
                get(c.runtime, self.layout.runroot).delete(self.layout.container(c.id), c.id)
            except DockyardError:
                pass

    # ---- create ---------------------------------------------------------------

    def insert(self, *, cid: str, name: str | None, image: str, image_id: str, command: str,
               auto_remove: bool, runtime: str, config_json: "str | Callable[[Connection], str]",
               labels: dict | None = None) -> str:
        """Claim id and name; a generated name is retried on a clash, a given one is not.
        `config_json` may be a function of the open transaction (for choices that must
        not race another create, as --userns=auto's id range); `labels` (the config's)
        go into the create event."""
        from ..core.ids import random_name
        from ..store.events import append, container_attributes

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
                    append(conn, "container", "create", cid, container_attributes(n, image, labels))
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
        if row[0] in ("running", "starting", "restarting"):
            return False
        if row[0] == "paused":
            raise Conflict("cannot start a paused container, try unpause instead")
        raise Conflict(f"cannot start container {c.id[:12]}: it is being removed")

    def release_start(self, c: Container, code: int, message: str) -> None:
        self.release_start_by_id(c.id, code, message)

    def release_start_by_id(self, cid: str, code: int, message: str) -> None:
        """A start that failed before the monitor took over: back to created."""
        with self.db.write() as conn:
            conn.execute("UPDATE containers SET state='created', exit_code=?, error=? "
                         "WHERE id=? AND state='starting' AND monitor_pid IS NULL", (code, message, cid))

    def _mark(self, c: Container, action: str, extra: dict | None = None, sql: str = "",
              params: tuple = ()) -> int:
        """Record `action` as an event, with an optional row update in the same transaction;
        returns the update's row count."""
        from .events import container_event

        with self.db.write() as conn:
            n = conn.execute(sql, params).rowcount if sql else 1
            if n:
                container_event(conn, c, action, extra)
        return n

    def _freezer(self, c: Container, frozen: bool) -> None:
        from .. import cgroups

        cgroups.manager().freeze(cgroups.container_path(c.id), frozen)

    def signal(self, c: Container, sig: int, ref: str | None = None) -> None:
        """`kill -s SIG`: the signal to the container's process, recorded as an event.
        Any signal marks the container stopped by hand, as Docker does, so its restart
        policy leaves it down; the stop signal or SIGKILL to a paused container thaws it
        so that the process can act on it."""
        if c.state not in UP or (c.state != "restarting" and not c.pid):
            raise Conflict(f"cannot kill container: {ref or c.id[:12]}: container {c.id} is not running")
        self._mark(c, "kill", {"signal": sig}, "UPDATE containers SET manual_stop=1 WHERE id=?", (c.id,))
        if c.state == "restarting":
            return  # nothing runs now; the monitor sees manual_stop and leaves it down
        try:
            os.kill(c.pid, sig)
        except ProcessLookupError:
            pass
        if c.state == "paused" and sig in (9, self.stop_signal(c)):
            try:
                self._freezer(c, False)
            except DockyardError:
                pass
            else:  # thawed: running again, so the monitor records the exit it is about to see
                with self.db.write() as conn:
                    conn.execute("UPDATE containers SET state='running' WHERE id=? AND state='paused'", (c.id,))

    @staticmethod
    def stop_signal(c: Container) -> int:
        from .signals import stop_signal

        try:
            return stop_signal((c.config.get("Config") or {}).get("StopSignal") or "")
        except DockyardError:
            return 15

    def kill(self, c: Container, sig: int, ref: str | None = None) -> None:
        """Docker's kill: the signal; for SIGKILL, also wait (up to 10 s) for the exit."""
        self.signal(c, sig, ref)
        if sig == 9:
            self.wait_exit(c, 10)

    def wait_exit(self, c: Container, timeout: float | None = None) -> bool:
        """Wait until the monitor has recorded the container's end; False on timeout."""
        import select

        if c.state not in LIVE or not c.monitor_pid:
            if c.state == "starting":
                return self._poll_state(c, timeout)
            return True
        try:
            fd = os.pidfd_open(c.monitor_pid)
        except ProcessLookupError:
            self._repair([c])
            return True
        try:
            from ..core.host import process_start

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
                if row and row[0] in LIVE:
                    return self.wait_exit(self.get(c.id), None if end is None else max(0, end - time.monotonic()))
                return True
            time.sleep(0.01)
        return False

    def stop(self, c: Container, timeout: int | None, stop_signal: int | None = None) -> None:
        """Docker's stop: the stop signal (the container's StopSignal unless given), up to
        `timeout` seconds (Config.StopTimeout, else 10; negative: no limit), then SIGKILL.
        A container that is not running is left as it is. Events: kill, (die,) stop."""
        import time

        if timeout is None:
            timeout = (c.config.get("Config") or {}).get("StopTimeout")
        t = 10 if timeout is None else timeout
        sig = self.stop_signal(c) if stop_signal is None else stop_signal
        if c.state not in UP:
            return
        if c.state == "restarting":
            # between two runs: manual_stop keeps the monitor from starting it again
            self._mark(c, "kill", {"signal": sig}, "UPDATE containers SET manual_stop=1 WHERE id=?", (c.id,))
            end = time.monotonic() + max(t, 0) + 2
            while c.state == "restarting" and time.monotonic() < end:
                if self.wait_exit(c, 0.05):
                    break
                c = self.reload(c)
            if c.state == "restarting":  # a monitor that sleeps through manual_stop: end it
                try:
                    os.kill(c.monitor_pid, 9)
                except (ProcessLookupError, TypeError):
                    pass
                self.wait_exit(c, 5)
                self._repair([self.reload(c)])
            elif c.state in ("running", "paused"):
                self.stop(c, timeout, stop_signal)
                return
            self._mark(c, "stop")
            return
        self.signal(c, sig)
        if t < 0:
            self._wait_pid_gone(c, None)
        elif not self._wait_pid_gone(c, t):
            self.signal(c, 9)
        self.wait_exit(c)
        self._mark(c, "stop")

    def _wait_pid_gone(self, c: Container, timeout: float | None) -> bool:
        import select

        try:
            fd = os.pidfd_open(c.pid)
        except ProcessLookupError:
            return True
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            return bool(p.poll(None if timeout is None else int(timeout * 1000)))
        finally:
            os.close(fd)

    def pause(self, c: Container) -> None:
        """Freeze every process of the container (the freezer cgroup): state paused."""
        if c.state == "paused":
            raise Conflict(f"container {c.id} is already paused")
        if c.state == "restarting":
            raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
        if c.state != "running" or not c.pid:
            raise Conflict(f"container {c.id} is not running")
        try:
            self._freezer(c, True)
        except DockyardError as e:
            raise DockyardError(f"cannot pause container {c.id}: {e.message}") from None
        if not self._mark(c, "pause", None, "UPDATE containers SET state='paused' WHERE id=? AND state='running'",
                          (c.id,)):
            # it exited meanwhile: nothing is left to freeze
            raise Conflict(f"container {c.id} is not running")

    def unpause(self, c: Container) -> None:
        if c.state != "paused":
            raise Conflict(f"Container {c.id} is not paused")
        try:
            self._freezer(c, False)
        except DockyardError as e:
            raise DockyardError(f"Cannot unpause container {c.id}: {e.message}") from None
        self._mark(c, "unpause", None, "UPDATE containers SET state='running' WHERE id=? AND state='paused'",
                   (c.id,))

    def rename(self, old: str, new: str) -> None:
        """Docker's rename: a new unique name; the event carries the old one."""
        from ..core.ids import valid_name

        old, new = old.strip(), new.strip()
        if not old.lstrip("/") or not new.lstrip("/"):
            raise InvalidArgument("Neither old nor new names may be empty")
        c = self.get(old)
        name = new[1:] if new.startswith("/") else new
        if name == c.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        if not valid_name(name):
            raise InvalidArgument(f"Error when allocating new name: Invalid container name (/{name}), "
                                  "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        old_name, c.name = c.name, name  # the event names the container by its new name
        try:
            n = self._mark(c, "rename", {"oldName": "/" + old_name}, "UPDATE containers SET name=? WHERE id=?",
                           (name, c.id))
        except IntegrityError:
            row = self.db.one("SELECT id FROM containers WHERE name = ?", (name,))
            raise Conflict(f'Error when allocating new name: Conflict. The container name "/{name}" is already '
                           f'in use by container "{row[0] if row else "?"}". You have to remove (or rename) '
                           "that container to be able to reuse that name.") from None
        if not n:
            raise ContainerNotFound(f"No such container: {old}")

    def processes(self, c: Container) -> list[int]:
        """Host pids of the container's processes (top)."""
        from .. import cgroups

        if c.state == "restarting":
            raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
        if c.state not in ("running", "paused") or not c.pid:
            raise Conflict(f"container {c.id} is not running")
        pids = cgroups.manager().pids(cgroups.container_path(c.id)) if c.runtime == "native" else []
        return pids or [c.pid]

    def remove(self, c: Container, force: bool) -> None:
        for _ in range(100):
            if c.state in LIVE:
                if not force:
                    if c.state == "paused":
                        raise Conflict(f"cannot remove container \"{c.name}\": container is paused and must be "
                                       "unpaused first")
                    raise Conflict(f"You cannot remove a running container {c.id}. Stop the container "
                                   "before attempting removal or force remove")
                if c.state == "restarting":
                    self.stop(c, 0)
                elif c.state in ("running", "paused") and c.pid:
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
        c.config  # read now: the destroy event names the labels of a row about to go
        home = self.layout.container(c.id)
        try:
            rmtree(home)
        except MountedError:
            self._cleanup_runtime(c)
            rmtree(home)
        from .events import container_event

        with self.db.write() as conn:
            conn.execute("DELETE FROM containers WHERE id=?", (c.id,))
            conn.execute("DELETE FROM execs WHERE container_id=?", (c.id,))
            container_event(conn, c, "destroy")

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


# ---- listing with Docker's filters (ps --filter) ------------------------------------------------

PS_FILTERS = ("ancestor", "before", "exited", "expose", "health", "id", "is-task", "isolation", "label",
              "name", "network", "publish", "since", "status", "volume")
STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")
HEALTH = ("starting", "healthy", "unhealthy", "none")


def _daemon_error(message: str) -> InvalidArgument:
    e = InvalidArgument(message)
    e.status = 1  # refused by the engine, not the flag parser: exit 1 as docker does
    return e


def _regex_match(values: list[str], source: str) -> bool:
    """Docker's filters.Match: equal, or the value as a regular expression found in source."""
    import re

    for v in values:
        if v == source:
            return True
        try:
            if re.search(v, source):
                return True
        except re.error:
            continue
    return False


def select(engine, containers: "Containers", filters: dict[str, list[str]] | None, all: bool = False,
           last: int = -1) -> list[Container]:
    """`ps`: the containers Docker would list, newest first (daemon/list.go's rules):
    without -a only running (and paused, restarting) ones; `last` > 0 includes every state;
    filters AND-ed across keys, OR-ed within one (label values AND-ed)."""
    f = filters or {}
    for k in f:
        if k not in PS_FILTERS:
            raise _daemon_error(f"invalid filter '{k}'")
    exited = []
    for v in f.get("exited", []):
        try:
            exited.append(int(v))
        except ValueError:
            raise _daemon_error(f"invalid filter 'exited={v}': strconv.Atoi: parsing \"{v}\": invalid syntax") from None
    for v in f.get("status", []):
        if v not in STATES:
            raise _daemon_error(f"invalid filter 'status={v}': invalid value for state ({v}): must be one of "
                                + ", ".join(STATES))
        all = True
    for v in f.get("health", []):
        if v not in HEALTH:
            raise _daemon_error(f"invalid filter 'health={v}': invalid value for health ({v}): must be one of "
                                + ", ".join(HEALTH))
    for v in f.get("is-task", []):
        if v.lower() not in ("1", "t", "true", "0", "f", "false"):
            raise _daemon_error(f"invalid filter 'is-task={v}'")
    rows = containers.list(all=True)
    before = since = None
    for v in f.get("before", []):
        before = containers.get(v).id
    for v in f.get("since", []):
        since = containers.get(v).id
    images: set[str] | None = None
    if "ancestor" in f:
        images = set()
        for ref in f["ancestor"]:
            try:
                images.add(engine.image(ref).id)
            except DockyardError:
                continue  # Docker logs a warning and matches nothing for it
    out: list[Container] = []
    for c in rows:
        if before is not None:
            if c.id == before:
                before = None
            continue
        if since is not None and c.id == since:
            break
        if c.state not in UP and not all and last <= 0:
            continue
        if "name" in f and not _regex_match(f["name"], c.name) and not _regex_match(f["name"], "/" + c.name):
            continue
        if "id" in f and not _regex_match(f["id"], c.id):
            continue
        if "is-task" in f and any(v.lower() in ("1", "t", "true") for v in f["is-task"]):
            continue  # no swarm tasks here
        if "label" in f:
            labels = c.labels
            ok = True
            for want in f["label"]:
                k, eq, v = want.partition("=")
                if k not in labels or (eq and labels[k] != v):
                    ok = False
                    break
            if not ok:
                continue
        if "isolation" in f and "default" not in f["isolation"]:
            continue
        if last > 0 and len(out) == last:
            break
        if exited and not (c.state in ("exited",) and c.started and (c.exit_code or 0) in exited):
            continue
        if "status" in f and c.state not in f["status"] and not (c.state == "starting" and "created" in f["status"]):
            continue
        if "health" in f and c.health_status not in f["health"]:
            continue
        if images is not None and c.image_id not in images:
            continue
        if any(k in f for k in ("volume", "network", "publish", "expose")):
            continue  # no volumes, networks or ports yet: nothing matches
        out.append(c)
    return out


def sizes(engine, c: Container) -> tuple[int, int]:
    """(SizeRw, SizeRootFs): the bytes of the writable layer, and that plus the image."""
    home = engine.layout.container(c.id)
    rw = 0
    upper = home + "/diff"
    if os.path.isdir(upper):
        rw = disk_usage(upper)
    try:
        image = engine.image(c.image_id).size
    except DockyardError:
        image = 0
    if not os.path.isdir(upper) and os.path.isdir(home + "/rootfs"):
        rw = max(disk_usage(home + "/rootfs") - image, 0)  # a vfs copy: what grew beyond the image
    return rw, rw + image
