"""What runs in a container and what it uses: `stats`, `top`, `port`.

`stats` numbers are Docker's (daemon/stats + the CLI's stats_helpers.go):

- CPU %: the container's CPU time over the host's (all CPUs) between two samples,
  times the online CPUs, times 100 - so one busy thread reads about 100%;
- MEM USAGE: the cgroup's usage less its inactive file cache (v1 total_inactive_file,
  v2 inactive_file), against the cgroup's limit, or the host's memory when that is
  lower or there is none; MEM % of that;
- NET I/O: received / sent bytes of the container's network namespace (its
  interfaces but lo), read from /proc/<pid>/net/dev of its process;
- BLOCK I/O: bytes read / written (v1 blkio, v2 io.stat); PIDS: pids.current.

The cgroup managers read the counters (cgroups/v1.py, v2.py: `stats`).
"""

from __future__ import annotations

import os
import time

from ..errors import Conflict, DockyardError, InvalidArgument


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return 100


def system_cpu_ns() -> int:
    """The host's CPU time (all CPUs) in ns: /proc/stat's first line, as Docker sums it
    (user, nice, system, idle, iowait, irq, softirq)."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    ticks = sum(int(x) for x in parts[1:8])
    return ticks * 1_000_000_000 // _clock_ticks()


def online_cpus() -> int:
    try:
        return os.sysconf("SC_NPROCESSORS_ONLN")  # what Docker reports as online_cpus
    except (ValueError, OSError):
        return os.cpu_count() or 1


def net_bytes(pid: int) -> tuple[int, int]:
    """(received, sent) over the interfaces of `pid`'s network namespace, lo left out."""
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        name, _, rest = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = rest.split()
        if len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return rx, tx


class Entry:
    """One container's figures (Docker's StatsEntry)."""

    __slots__ = ("container", "id", "name", "cpu_percent", "memory", "memory_limit", "memory_percent",
                 "net_rx", "net_tx", "block_read", "block_write", "pids", "invalid")

    def __init__(self, container: str, cid: str, name: str) -> None:
        self.container = container
        self.id = cid
        self.name = name
        self.cpu_percent = self.memory = self.memory_limit = self.memory_percent = 0.0
        self.net_rx = self.net_tx = self.block_read = self.block_write = 0.0
        self.pids = 0
        self.invalid = False


class _Raw:
    __slots__ = ("cpu", "system", "stats", "net", "running")

    def __init__(self, cpu: int, system: int, stats: dict, net: tuple[int, int], running: bool) -> None:
        self.cpu, self.system, self.stats, self.net, self.running = cpu, system, stats, net, running


class Sampler:
    """Samples containers' usage. `sample()` returns one Entry per container; the CPU
    figure of a container seen for the first time needs a second reading, so that call
    waits `interval` seconds (later calls compare with the previous call's reading).

    With `refs`, exactly those containers (a missing one is an error); otherwise the
    running ones (all with `all`), listed again at every call as containers come and go.
    """

    def __init__(self, engine, refs: list[str] | None, all: bool = False, interval: float = 1.0) -> None:
        from .. import cgroups

        self.engine = engine
        self.refs = list(refs or [])
        self.all = all
        self.interval = interval
        self.cgroups = cgroups.manager()
        from ..core.host import memory_total

        self.host_memory = memory_total()
        self.cpus = online_cpus()
        self._prev: dict[str, _Raw] = {}

    def containers(self) -> list:
        if self.refs:
            out, errors = [], []
            for r in self.refs:
                try:
                    out.append((r, self.engine.container(r)))
                except DockyardError as e:
                    errors.append(e.message)
            if errors:
                e = DockyardError("\n".join(errors))
                raise e
            return out
        return [(c.id, c) for c in self.engine.containers(all=self.all)]

    def _raw(self, c) -> _Raw:
        from .. import cgroups

        running = c.state in ("running", "paused") and bool(c.pid)
        if not running:
            return _Raw(0, system_cpu_ns(), {}, (0, 0), False)
        try:
            st = self.cgroups.stats(cgroups.container_path(c.id))
        except (OSError, DockyardError):
            st = {}
        return _Raw(st.get("cpu_usage_ns", 0), system_cpu_ns(), st, net_bytes(c.pid), True)

    def sample(self) -> list[Entry]:
        listed = self.containers()
        fresh = {c.id: self._raw(c) for _, c in listed if c.id not in self._prev}
        if fresh:
            self._prev.update(fresh)
            time.sleep(self.interval)
            # the list again: some may have stopped or gone meanwhile
            if not self.refs:
                listed = self.containers()
        out = []
        seen = set()
        for given, c in listed:
            try:
                c = self.engine.container(c.id)
            except DockyardError:
                if self.refs:
                    raise
                continue
            raw = self._raw(c)
            prev = self._prev.get(c.id, raw)
            self._prev[c.id] = raw
            seen.add(c.id)
            out.append(self._entry(given, c, prev, raw))
        for cid in list(self._prev):
            if cid not in seen:
                del self._prev[cid]
        return out

    def _entry(self, given: str, c, prev: _Raw, raw: _Raw) -> Entry:
        e = Entry(given, c.id, c.name)
        if not raw.running:
            return e
        st = raw.stats
        cpu_delta = raw.cpu - prev.cpu
        sys_delta = raw.system - prev.system
        if cpu_delta > 0 and sys_delta > 0:
            e.cpu_percent = cpu_delta / sys_delta * self.cpus * 100.0
        usage = st.get("memory_usage", 0)
        cache = st.get("memory_cache", 0)
        e.memory = float(usage - cache if cache < usage else usage)
        limit = st.get("memory_limit")
        if self.host_memory and (not limit or limit > self.host_memory):
            limit = self.host_memory
        e.memory_limit = float(limit or 0)
        e.memory_percent = e.memory / e.memory_limit * 100.0 if e.memory_limit else 0.0
        e.net_rx, e.net_tx = float(raw.net[0]), float(raw.net[1])
        e.block_read, e.block_write = float(st.get("blkio_read", 0)), float(st.get("blkio_write", 0))
        e.pids = int(st.get("pids_current", 0))
        return e


# ---- top ------------------------------------------------------------------------------------

def _check_ps_args(args: list[str]) -> None:
    """Docker refuses ps options that would pick processes by other than pid (`-o x=PID`)."""
    import re

    for k, v in re.findall(r"\s+([^\s]*)=\s*(PID[^\s]*)", " " + " ".join(args)):
        if k != "pid":
            raise InvalidArgument(f'specifying "{k}={v}" is not allowed')


def top(engine, c, pids: list[int], ps_args: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Docker's ContainerTop: the host's `ps` (default `-ef`) limited to the container's
    processes; returns (titles, rows), each row as many fields as titles, the last
    field (the command) keeping its spaces."""
    import subprocess

    from .events import record_container

    args = list(ps_args) if ps_args else ["-ef"]
    if len(args) == 1 and " " in args[0]:
        args = args[0].split(" ")
    _check_ps_args(args)
    try:
        p = subprocess.run(["ps", *args, "-q", ",".join(str(x) for x in pids)], capture_output=True)
        if p.returncode != 0:
            p = subprocess.run(["ps", *args], capture_output=True)
    except OSError as e:
        raise DockyardError(f"ps: {e.strerror}") from None
    if p.returncode != 0:
        first = p.stderr.decode(errors="replace").strip().splitlines()
        raise DockyardError("ps: " + (first[0] if first else f"exit status {p.returncode}"))
    lines = p.stdout.decode(errors="replace").split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise DockyardError("Couldn't find PID field in ps output")
    at = titles.index("PID")
    wanted = set(pids)
    rows: list[list[str]] = []
    keep = False
    for line in lines[1:]:
        if not line:
            continue
        fields = line.split()
        if at >= len(fields):
            continue
        if fields[at] == "-":
            if keep:
                rows.append(fields[:len(titles) - 1] + [" ".join(fields[len(titles) - 1:])])
            continue
        try:
            pid = int(fields[at])
        except ValueError:
            raise DockyardError(f"Unexpected pid '{fields[at]}'") from None
        keep = pid in wanted
        if keep:
            rows.append(fields[:len(titles) - 1] + [" ".join(fields[len(titles) - 1:])])
    try:
        record_container(engine.db, c, "top")
    except DockyardError:
        pass
    return titles, rows


# ---- port -----------------------------------------------------------------------------------

def port(engine, c, ref: str, private: str | None) -> list[str]:
    """The container's published ports (Docker's NetworkSettings.Ports). Dockyard does
    not publish ports yet, so there are none: a query for one is Docker's error."""
    ports: dict[str, list[dict]] = {}
    if private is None:
        out = [f"{p} -> {b.get('HostIp', '')}:{b.get('HostPort', '')}" for p, binds in ports.items()
               for b in binds or []]
        return sorted(out)
    number, _, proto = private.partition("/")
    proto = proto or "tcp"
    if not number.isdigit() or not 0 < int(number) < 65536 or proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid port: {private}" if number.isdigit() else f"Invalid containerPort: {number}")
    key = f"{int(number)}/{proto}"
    binds = ports.get(key)
    if not binds:
        raise Conflict(f"No public port '{key}' published for {ref}")
    return [f"{b.get('HostIp', '')}:{b.get('HostPort', '')}" for b in binds]
