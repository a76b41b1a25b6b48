"""cgroup v1: one directory per hierarchy (memory, cpu, cpuset, pids, blkio, ...),
plus, in the hybrid layout, the cgroup2 mount at /sys/fs/cgroup/unified."""

from __future__ import annotations

import errno
import os

from ..errors import InvalidArgument, KernelError
from . import read, read_key, remove_dir, write


class V1Manager:
    version = 1

    def __init__(self, hierarchies: list[tuple[str, str, str]]) -> None:
        # (mount point, fs type "cgroup"/"cgroup2", super options e.g. "rw,memory")
        self.hierarchies = hierarchies
        self.by_controller: dict[str, str] = {}
        for mnt, fstype, opts in hierarchies:
            if fstype == "cgroup":
                for o in opts.split(","):
                    if o not in ("rw", "ro") and not o.startswith(("name=", "release_agent", "clone_children", "xattr", "noprefix")):
                        self.by_controller[o] = mnt
        self.warnings: list[str] = []

    @classmethod
    def from_mountinfo(cls) -> "V1Manager":
        """The cgroup hierarchies visible under /sys/fs/cgroup. mountinfo also lists
        mounts hidden by a later mount on or above them; those are dropped."""
        visible: dict[str, tuple[str, str, str]] = {}
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                mnt = left.split()[4]
                for m in [m for m in visible if m == mnt or m.startswith(mnt.rstrip("/") + "/")]:
                    del visible[m]
                fields = right.split()
                if len(fields) >= 3 and fields[0] in ("cgroup", "cgroup2") and mnt.startswith("/sys/fs/cgroup/"):
                    visible[mnt] = (mnt, fields[0], fields[2])
        return cls(list(visible.values()))

    def describe(self) -> tuple:
        return (1, [list(h) for h in self.hierarchies])

    def dirs(self, path: str) -> list[str]:
        return [f"{mnt}/{path}" for mnt, _, _ in self.hierarchies]

    def procs_files(self, path: str) -> list[str]:
        return [f"{d}/cgroup.procs" for d in self.dirs(path)]

    def mounts(self) -> list[tuple[str, str, str]]:
        """What a container sees under /sys/fs/cgroup: each hierarchy, read-only."""
        out = []
        for mnt, fstype, opts in self.hierarchies:
            name = mnt[len("/sys/fs/cgroup/"):]
            keep = ",".join(o for o in opts.split(",") if o not in ("rw", "ro"))
            out.append((name, fstype, keep))
        return out

    def create(self, path: str, resources: dict) -> None:
        parent, _, _ = path.partition("/")
        for mnt, _, _ in self.hierarchies:
            pdir = f"{mnt}/{parent}"
            try:
                os.mkdir(pdir, 0o755)
                if mnt == self.by_controller.get("cpuset"):
                    _inherit_cpuset(pdir)
            except FileExistsError:
                pass
            try:
                os.mkdir(f"{mnt}/{path}", 0o755)
            except FileNotFoundError:  # the parent vanished under us: its last container left
                os.makedirs(f"{mnt}/{path}", 0o755)
                if mnt == self.by_controller.get("cpuset"):
                    _inherit_cpuset(pdir)
        try:
            self.apply(path, resources)
        except BaseException:
            self.destroy(path)
            raise

    def _file(self, controller: str, path: str, name: str) -> str | None:
        mnt = self.by_controller.get(controller)
        if mnt is None:
            return None
        f = f"{mnt}/{path}/{name}"
        return f if os.path.exists(f) else None

    def _set(self, controller: str, path: str, name: str, value: str, missing: str = "") -> bool:
        f = self._file(controller, path, name)
        if f is None:
            if missing:
                self.warnings.append(missing)
            return False
        try:
            write(f, value)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ERANGE, errno.EBUSY):
                raise InvalidArgument(f"cannot set {name} to {value.strip()!r}: {os.strerror(e.errno)}") from None
            raise KernelError("write", f, e.errno) from None
        return True

    def apply(self, path: str, r: dict) -> None:
        if r.get("devices") is not None and self.by_controller.get("devices"):
            from .devices import v1_lines

            for name, line in v1_lines(r["devices"]):
                self._set("devices", path, name, line)
        cpuset_dir = self.by_controller.get("cpuset")
        if cpuset_dir:
            cpu = r.get("cpu") or {}
            pdir = f"{cpuset_dir}/{path.rpartition('/')[0]}"
            cdir = f"{cpuset_dir}/{path}"
            mems = cpu.get("mems") or read(pdir + "/cpuset.mems").strip()
            cpus = cpu.get("cpus") or read(pdir + "/cpuset.cpus").strip()
            try:
                write(cdir + "/cpuset.cpus", cpus)
                write(cdir + "/cpuset.mems", mems)
            except OSError as e:
                raise InvalidArgument(f"cannot use cpuset cpus {cpus!r} mems {mems!r}: {os.strerror(e.errno)}") from None
        mem = r.get("memory") or {}
        if "limit" in mem:
            self._set("memory", path, "memory.limit_in_bytes", str(mem["limit"]),
                      missing="Your kernel does not support memory limit capabilities or the cgroup is "
                              "not mounted. Limitation discarded.")
            swap = mem.get("swap")
            if swap is not None:
                self._set("memory", path, "memory.memsw.limit_in_bytes", str(swap),
                          missing="Your kernel does not support swap limit capabilities or the cgroup "
                                  "is not mounted. Memory limited without swap.")
        cpu = r.get("cpu") or {}
        if "shares" in cpu:
            self._set("cpu", path, "cpu.shares", str(cpu["shares"]),
                      missing="Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.")
        if "period" in cpu:
            self._set("cpu", path, "cpu.cfs_period_us", str(cpu["period"]),
                      missing="Your kernel does not support CPU CFS scheduler or the cgroup is not "
                              "mounted. Period discarded.")
        if "quota" in cpu:
            self._set("cpu", path, "cpu.cfs_quota_us", str(cpu["quota"]),
                      missing="Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. "
                              "Period/quota discarded.")
        pids = r.get("pids") or {}
        if "limit" in pids:
            limit = pids["limit"]
            self._set("pids", path, "pids.max", "max" if limit <= 0 else str(limit),
                      missing="Your kernel does not support pids limit capabilities or the cgroup is not "
                              "mounted. PIDs limit discarded.")
        blk = r.get("blockIO") or {}
        if "weight" in blk:
            if not (self._file("blkio", path, "blkio.weight") and
                    self._set("blkio", path, "blkio.weight", str(blk["weight"]))):
                if not (self._file("blkio", path, "blkio.bfq.weight") and
                        self._set("blkio", path, "blkio.bfq.weight", str(blk["weight"]))):
                    self.warnings.append("Your kernel does not support Block I/O weight or the cgroup is "
                                         "not mounted. Weight discarded.")
        for key, fname in (("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
                           ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device")):
            for dev in blk.get(key) or []:
                self._set("blkio", path, fname, f"{dev['major']}:{dev['minor']} {dev['rate']}",
                          missing="Your kernel does not support BPS Block I/O read limit or the cgroup "
                                  "is not mounted. Block I/O BPS read limit discarded.")

    def oom_killed(self, path: str) -> bool:
        mnt = self.by_controller.get("memory")
        return bool(mnt) and read_key(f"{mnt}/{path}/memory.oom_control", "oom_kill") > 0

    def destroy(self, path: str) -> None:
        parent = path.rpartition("/")[0]
        for mnt, _, _ in self.hierarchies:
            remove_dir(f"{mnt}/{path}")
            if parent:
                try:
                    os.rmdir(f"{mnt}/{parent}")
                except OSError:
                    pass  # other containers still in it


def _inherit_cpuset(d: str) -> None:
    """A new v1 cpuset starts with no cpus and no mems: copy them from the parent."""
    up = d.rpartition("/")[0]
    for name in ("cpuset.cpus", "cpuset.mems"):
        try:
            write(f"{d}/{name}", read(f"{up}/{name}").strip() or "\n")
        except OSError:
            pass
