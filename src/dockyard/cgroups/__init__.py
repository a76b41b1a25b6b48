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

The managers take any relative path ("a/b/c", an OCI runtime's `cgroupsPath`),
make its missing ancestors, and reuse a cgroup that is already there.

Resources arrive as the OCI spec's `linux.resources` (see oci.spec.resources), all
of it; v1.py and v2.py each tabulate which file every key becomes. A knob this
kernel lacks becomes a line in the manager's `warnings`; a value the kernel refuses
raises InvalidArgument naming the file and the value.
"""

from __future__ import annotations

import errno
import os

from ..errors import InvalidArgument, KernelError

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


def clean_path(path: str) -> str:
    """A cgroup path relative to the hierarchy's root ("/a/b/" -> "a/b")."""
    p = path.strip("/")
    if not p or any(part in ("", ".", "..") for part in p.split("/")):
        raise InvalidArgument(f"invalid cgroup path {path!r}")
    return p


def make_dirs(root: str, path: str, made=None, prepare=None) -> bool:
    """mkdir root/path and whichever of its ancestors are missing, top down.

    prepare(dir) runs on each ancestor, root included, before its child is made
    (v2: enable controllers for the children); made(dir) on each directory this call
    created. Returns whether the leaf is new. An ancestor that another container's
    destroy() removes meanwhile is made again.
    """
    parts = path.split("/")
    last = len(parts) - 1
    for _ in range(10):
        d = root
        try:
            for i, part in enumerate(parts):
                if prepare is not None:
                    prepare(d)
                d = f"{d}/{part}"
                try:
                    os.mkdir(d, 0o755)
                except FileExistsError:
                    if i == last:
                        return False
                    continue
                if made is not None:
                    made(d)
            return True
        except FileNotFoundError:
            continue
    raise KernelError("mkdir", f"{root}/{path}", errno.ENOENT)


def enable_controllers(d: str, wanted) -> None:
    """Enable, in cgroup v2 directory `d`, the controllers of `wanted` that it has,
    for its children. A cgroup holding processes refuses (v2's no-internal-process
    rule), as may one controller alone: whatever stays off shows up as missing files
    and so as warnings."""
    available = read(f"{d}/cgroup.controllers").split()
    enabled = read(f"{d}/cgroup.subtree_control").split()
    want = [c for c in wanted if c in available and c not in enabled]
    if not want:
        return
    try:
        write(f"{d}/cgroup.subtree_control", " ".join("+" + c for c in want))
    except OSError:
        for c in want:
            try:
                write(f"{d}/cgroup.subtree_control", "+" + c)
            except OSError:
                pass


def set_limit(d: str, name: str, value: str) -> bool:
    """Write `value` into the file `name` of cgroup directory `d`.

    False when the kernel has no such file, or has it but not the feature
    (EOPNOTSUPP: deprecated kmem limits, bfq weights on a device using another
    scheduler). A value the kernel refuses raises InvalidArgument.
    """
    f = f"{d}/{name}"
    try:
        write(f, value)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EOPNOTSUPP):
            return False
        if e.errno in (errno.EINVAL, errno.ERANGE, errno.EBUSY, errno.ENODEV):
            raise InvalidArgument(f"cannot set {name} to {value.strip()!r}: {os.strerror(e.errno)}") from None
        raise KernelError("write", f, e.errno) from None
    return True


HUGEPAGES = "/sys/kernel/mm/hugepages"


def hugepage_sizes() -> list[str]:
    """The huge page sizes of this machine as the OCI spec writes them ("2MB", "1GB"),
    which are also the names in the hugetlb controller's files."""
    try:
        names = os.listdir(HUGEPAGES)
    except OSError:
        return []
    out = []
    for n in names:  # hugepages-2048kB
        kb = n.rpartition("-")[2]
        if not kb.endswith("kB") or not kb[:-2].isdigit():
            continue
        size, unit = int(kb[:-2]), 1
        while size >= 1024 and size % 1024 == 0 and unit < 4:
            size //= 1024
            unit += 1
        out.append(f"{size}{('B', 'KB', 'MB', 'GB', 'TB')[unit]}")
    return out


def check_hugepage_sizes(limits: list[dict]) -> None:
    """Refuse a page size this machine does not have (runc fails on the missing file)."""
    sizes = hugepage_sizes()
    for h in limits:
        if sizes and h.get("pageSize") not in sizes:
            raise InvalidArgument(f"hugepage size {h.get('pageSize')!r} is not supported here "
                                  f"(sizes: {', '.join(sorted(sizes))})")


def rdma_lines(rdma: dict) -> list[str]:
    """rdma.max lines ("mlx5_1 hca_handle=3 hca_object=10000"), one per device."""
    out = []
    for dev, lim in rdma.items():
        line = dev
        if (lim or {}).get("hcaHandles") is not None:
            line += f" hca_handle={lim['hcaHandles']}"
        if (lim or {}).get("hcaObjects") is not None:
            line += f" hca_object={lim['hcaObjects']}"
        if line != dev:
            out.append(line)
    return out


def check_unified_key(key: str) -> str:
    """The controller of a `unified` key ("memory.high" -> "memory")."""
    controller, dot, rest = key.partition(".")
    if "/" in key or not dot or not controller or not rest:
        raise InvalidArgument(f"unified resource {key!r} must be a file name CONTROLLER.PARAMETER")
    return controller


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


def read_int(path: str) -> int | None:
    """An integer file (None if missing or "max")."""
    try:
        text = read(path).strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def read_flat(path: str) -> dict[str, int]:
    """A flat-keyed file ("key value" lines: memory.stat, cpu.stat) as a dict."""
    out: dict[str, int] = {}
    try:
        text = read_all(path)
    except OSError:
        return out
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        try:
            out[k] = int(v)
        except ValueError:
            pass
    return out


def read_all(path: str) -> str:
    """A whole file, however long (cgroup.procs of a busy cgroup, io.stat)."""
    with open(path, "rb") as f:
        return f.read().decode()


def procs_below(d: str) -> list[int]:
    """The pids in cgroup directory `d` and every cgroup below it (a container may
    make its own sub-cgroups)."""
    pids: list[int] = []
    for top, dirs, _ in os.walk(d):
        try:
            pids += [int(p) for p in read_all(top + "/cgroup.procs").split()]
        except (OSError, ValueError):
            pass
    return pids


def wait_state(path: str, want: str, timeout: float = 5.0) -> bool:
    """Poll a state file until a line of it equals `want` (freezer.state, cgroup.events)."""
    import time

    end = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            if want in read(path).splitlines():
                return True
        except OSError:
            return False
        if time.monotonic() > end:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


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
