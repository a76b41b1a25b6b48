"""cgroups: every container gets its own, with the limits the user asked for.

Two managers behind one interface, chosen at run time from what is mounted:

- cgroups.v2: the unified hierarchy (`/sys/fs/cgroup/cgroup.controllers` exists),
  what current distributions run;
- cgroups.v1: one hierarchy per controller (`/sys/fs/cgroup/memory`, ...), including
  the hybrid layout with an extra cgroup2 mount at /sys/fs/cgroup/unified, which is
  joined too, as runc does.

The interface both implement is cgroups.protocol.CgroupManager.

A container's cgroup is `dockyard/<id>` below each hierarchy's root (Docker uses
`docker/<id>`). The engine creates it and writes the limits before the container
starts; the container's init joins it by writing "0" into each `cgroup.procs`
before it unshares its cgroup namespace, so the cgroup becomes that namespace's
root; the monitor reads the OOM counter and removes the cgroup after exit.
The parent `dockyard` is removed again when its last container goes.

Resources arrive as the OCI spec's `linux.resources` (see oci.spec.resources).
"""

from __future__ import annotations

import os

PARENT = "dockyard"


def container_path(cid: str) -> str:
    return f"{PARENT}/{cid}"


def manager():
    """The manager for this machine's cgroup layout."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        from .v2 import V2Manager

        return V2Manager("/sys/fs/cgroup")
    from .v1 import V1Manager

    return V1Manager.from_mountinfo()


def warm_up() -> None:
    """Move this process into the cgroup it is already in.

    The first cgroup.procs write after a quiet spell waits for an RCU grace period
    (the kernel's cgroup_threadgroup_rwsem switching to its writer mode), ~10 ms
    here; writers arriving while that switch is under way or shortly after it pay
    nothing more. A throwaway process that starts the switch as soon as a container
    is wanted spares the container's own join that wait. Failures do not matter.
    """
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    candidates = []
    for line in lines:
        num, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if num == "0" and not controllers:
            candidates += [f"/sys/fs/cgroup{path}", f"/sys/fs/cgroup/unified{path}"]
        elif controllers in ("pids", "memory"):
            candidates.append(f"/sys/fs/cgroup/{controllers}{path}")
    for d in candidates:
        try:
            fd = os.open(d.rstrip("/") + "/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            os.write(fd, b"0")
            return
        except OSError:
            pass
        finally:
            os.close(fd)


def from_description(desc: tuple):
    """A manager rebuilt from `describe()` (in a monitor that re-executed itself),
    without reading mountinfo again."""
    if desc[0] == 2:
        from .v2 import V2Manager

        return V2Manager(desc[1])
    from .v1 import V1Manager

    return V1Manager([tuple(h) for h in desc[1]])


def write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)  # as `echo > file` does
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)


def read_key(path: str, key: str) -> int:
    """The value of `key` in a flat-keyed file (memory.events, memory.oom_control)."""
    try:
        for line in read(path).splitlines():
            k, _, v = line.partition(" ")
            if k == key:
                return int(v)
    except (OSError, ValueError):
        pass
    return 0


def remove_dir(path: str) -> None:
    """rmdir a cgroup, waiting briefly for exiting tasks to leave it."""
    import time

    for attempt in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != 16 or attempt == 49:  # EBUSY: tasks still being reaped
                raise
            if attempt == 10:
                _kill_all(path)
            time.sleep(0.01)


def _kill_all(path: str) -> None:
    try:
        pids = read(path + "/cgroup.procs").split()
    except OSError:
        return
    for p in pids:
        try:
            os.kill(int(p), 9)
        except (OSError, ValueError):
            pass
