"""cgroup v1: one directory per hierarchy (memory, cpu, cpuset, pids, blkio, ...),
plus, in the hybrid layout, the cgroup2 mount at /sys/fs/cgroup/unified.

The OCI `linux.resources` keys and the files they become (as runc writes them; a
value of 0 or null leaves the file alone, as runc reads the spec):

    memory.limit              memory.limit_in_bytes     } written in whichever order the
    memory.swap               memory.memsw.limit_in_bytes }   kernel accepts (memsw >= limit)
    memory.reservation        memory.soft_limit_in_bytes
    memory.kernel             memory.kmem.limit_in_bytes      (gone or ignored on new kernels:
    memory.kernelTCP          memory.kmem.tcp.limit_in_bytes   a warning, never an error)
    memory.swappiness         memory.swappiness
    memory.disableOOMKiller   memory.oom_control ("1")
    cpu.cpus / cpu.mems       cpuset.cpus / cpuset.mems (a new cpuset copies its parent's)
    cpu.shares                cpu.shares
    cpu.period/quota/burst    cpu.cfs_period_us, cpu.cfs_quota_us, cpu.cfs_burst_us
    cpu.realtimePeriod        cpu.rt_period_us
    cpu.realtimeRuntime       cpu.rt_runtime_us
    cpu.idle                  cpu.idle
    blockIO.weight            blkio.weight, or blkio.bfq.weight where only that exists
    blockIO.leafWeight        blkio.leaf_weight
    blockIO.weightDevice      blkio.weight_device (or blkio.bfq.weight_device) "maj:min w",
                              blkio.leaf_weight_device "maj:min w"
    blockIO.throttle*Device   blkio.throttle.{read,write}_{bps,iops}_device "maj:min rate"
    hugepageLimits            hugetlb.<size>.limit_in_bytes (+ .rsvd.limit_in_bytes); where
                              hugetlb is only in the cgroup2 mount: hugetlb.<size>.max there
    network.classID           net_cls.classid
    network.priorities        net_prio.ifpriomap "ifname prio", one write each
    pids.limit                pids.max ("max" when <= 0)
    rdma                      rdma.max "dev hca_handle=N hca_object=N" (v1 or the cgroup2 mount)
    unified                   files of the cgroup2 mount, only for controllers it has
    devices                   devices.deny / devices.allow (devices.py)

useHierarchy and checkBeforeUpdate are ignored: hierarchy is always on in current kernels.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument
from . import (check_hugepage_sizes, check_unified_key, clean_path, enable_controllers, make_dirs,
               procs_below, rdma_lines, read, read_all, read_flat, read_int, read_key, remove_dir,
               set_limit, wait_state, write)

_MEMORY = ("Your kernel does not support memory limit capabilities or the cgroup is not mounted. "
           "Limitation discarded.")
_SWAP = ("Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
         "Memory limited without swap.")
_CFS = "Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. Period/quota discarded."


class V1Manager:
    version = 1

    def __init__(self, hierarchies: list[tuple[str, str, str]]) -> None:
        # (mount point, fs type "cgroup"/"cgroup2", super options e.g. "rw,memory")
        self.hierarchies = hierarchies
        self.by_controller: dict[str, str] = {}
        self.unified: str | None = None  # the hybrid layout's cgroup2 mount
        for mnt, fstype, opts in hierarchies:
            if fstype == "cgroup":
                for o in opts.split(","):
                    if o not in ("rw", "ro") and not o.startswith(("name=", "release_agent", "clone_children", "xattr", "noprefix")):
                        self.by_controller[o] = mnt
            elif fstype == "cgroup2":
                self.unified = mnt
        self.warnings: list[str] = []
        self._unified_ready: set[str] = set()

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
        path = clean_path(path)
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
        path = clean_path(path)
        cpuset = self.by_controller.get("cpuset")
        new = False
        for mnt, _, _ in self.hierarchies:
            if mnt == cpuset:
                if make_dirs(mnt, path, made=_inherit_cpuset):
                    new = True
                else:  # an existing cgroup: usable only with cpus and mems
                    _inherit_cpuset(f"{mnt}/{path}", only_if_empty=True)
            else:
                new |= make_dirs(mnt, path)
        try:
            self.apply(path, resources)
        except BaseException:
            if new:
                self.destroy(path)
            raise

    def _unified_dir(self, path: str) -> str:
        """The cgroup in the hybrid layout's cgroup2 mount, which holds the controllers
        no v1 hierarchy has (hugetlb here), with them enabled down to it; "" without
        that mount. Done only when a limit needs it: `docker run` never pays for it."""
        if self.unified is None:
            return ""
        if path not in self._unified_ready:
            self._unified_ready.add(path)
            ancestors = [self.unified]
            for part in path.split("/")[:-1]:
                ancestors.append(f"{ancestors[-1]}/{part}")
            try:
                wanted = read(f"{self.unified}/cgroup.controllers").split()
                for d in ancestors:
                    enable_controllers(d, wanted)
            except OSError:
                pass
        return f"{self.unified}/{path}"

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def _set(self, controller: str, path: str, name: str, value: str, missing: str = "") -> bool:
        mnt = self.by_controller.get(controller)
        if mnt is not None and set_limit(f"{mnt}/{path}", name, value):
            return True
        if missing:
            self._warn(missing)
        return False

    def _set_all(self, controller: str, path: str, writes: list[tuple[str, str, str]]) -> None:
        """Write (file, value, warning if missing) in turn. Limits tied to each other
        (quota >= burst, memsw >= limit, rt period >= runtime) are refused while the
        old value of the other one stands: a write refused is tried again after the
        others, as runc does."""
        refused = []
        for name, value, missing in writes:
            try:
                self._set(controller, path, name, value, missing)
            except InvalidArgument:
                if len(writes) == 1:
                    raise
                refused.append((name, value, missing))
        for name, value, missing in refused:
            self._set(controller, path, name, value, missing)

    def apply(self, path: str, r: dict) -> None:
        path = clean_path(path)
        if r.get("devices") is not None and self.by_controller.get("devices"):
            from .devices import v1_lines

            for name, line in v1_lines(r["devices"]):
                self._set("devices", path, name, line)
        cpu = r.get("cpu") or {}
        self._cpuset(path, cpu)
        if r.get("memory"):
            self._memory(path, r["memory"])
        if cpu:
            self._cpu(path, cpu)
        pids = r.get("pids") or {}
        if pids.get("limit") is not None:
            limit = pids["limit"]
            self._set("pids", path, "pids.max", "max" if limit <= 0 else str(limit),
                      missing="Your kernel does not support pids limit capabilities or the cgroup is not "
                              "mounted. PIDs limit discarded.")
        if r.get("blockIO"):
            self._blkio(path, r["blockIO"])
        if r.get("hugepageLimits"):
            self._hugetlb(path, r["hugepageLimits"])
        net = r.get("network") or {}
        if net.get("classID") is not None:
            self._set("net_cls", path, "net_cls.classid", str(net["classID"]),
                      missing="Your kernel does not support net_cls or the cgroup is not mounted. "
                              "Network class ID discarded.")
        for p in net.get("priorities") or []:
            self._set("net_prio", path, "net_prio.ifpriomap", f"{p['name']} {p['priority']}",
                      missing="Your kernel does not support net_prio or the cgroup is not mounted. "
                              "Network priorities discarded.")
        if r.get("rdma"):
            self._rdma(path, r["rdma"])
        if r.get("unified"):
            self._unified(path, r["unified"])

    def _cpuset(self, path: str, cpu: dict) -> None:
        # a new cpuset got its parent's cpus and mems in create()
        writes = [(f"cpuset.{k}", cpu[k], "Your kernel does not support cpuset or the cgroup is not "
                   "mounted. Cpuset discarded.") for k in ("cpus", "mems") if cpu.get(k)]
        for name, value, missing in writes:
            self._set("cpuset", path, name, value, missing)

    def _memory(self, path: str, mem: dict) -> None:
        limit = mem.get("limit") or 0
        swap = mem.get("swap") or 0
        writes = []
        if limit:
            writes.append(("memory.limit_in_bytes", str(limit), _MEMORY))
        if swap:
            writes.append(("memory.memsw.limit_in_bytes", str(swap), _SWAP))
        elif limit == -1:
            # an unlimited memory with the old memsw would break memsw >= limit
            writes.insert(0, ("memory.memsw.limit_in_bytes", "-1", ""))
        self._set_all("memory", path, writes)
        if mem.get("reservation"):
            self._set("memory", path, "memory.soft_limit_in_bytes", str(mem["reservation"]),
                      missing="Your kernel does not support memory reservation or the cgroup is not "
                              "mounted. Reservation discarded.")
        for key, name in (("kernel", "memory.kmem.limit_in_bytes"), ("kernelTCP", "memory.kmem.tcp.limit_in_bytes")):
            value = mem.get(key) or 0
            if not value:
                continue
            what = "kernel memory limit" if key == "kernel" else "kernel TCP memory limit"
            missing = f"Your kernel does not support {what}s or the cgroup is not mounted. {what.capitalize()} discarded."
            if self._set("memory", path, name, str(value), missing=missing) and value > 0:
                # kernels since 5.16 accept memory.kmem.limit_in_bytes and ignore it
                try:
                    now = int(read(f"{self.by_controller['memory']}/{path}/{name}"))
                except (OSError, ValueError):
                    now = value
                if now > value:
                    self._warn(missing)
        swappiness = mem.get("swappiness")
        if swappiness is not None and swappiness != -1:
            if not 0 <= swappiness <= 100:
                raise InvalidArgument(f"invalid memory swappiness {swappiness}: the range is 0-100")
            self._set("memory", path, "memory.swappiness", str(swappiness),
                      missing="Your kernel does not support memory swappiness capabilities or the cgroup is "
                              "not mounted. Memory swappiness discarded.")
        if mem.get("disableOOMKiller") is not None:
            self._set("memory", path, "memory.oom_control", "1" if mem["disableOOMKiller"] else "0",
                      missing="Your kernel does not support OomKillDisable. OomKillDisable discarded.")

    def _cpu(self, path: str, cpu: dict) -> None:
        idle = cpu.get("idle")
        if idle is not None:
            self._set("cpu", path, "cpu.idle", str(idle),
                      missing="Your kernel does not support CPU idle or the cgroup is not mounted. Idle discarded.")
        if cpu.get("shares") and not idle:  # an idle group has no shares: the kernel refuses them
            self._set("cpu", path, "cpu.shares", str(cpu["shares"]),
                      missing="Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.")
        writes = []
        if cpu.get("period"):
            writes.append(("cpu.cfs_period_us", str(cpu["period"]), _CFS))
        if cpu.get("burst") is not None:
            writes.append(("cpu.cfs_burst_us", str(cpu["burst"]),
                           "Your kernel does not support CPU burst or the cgroup is not mounted. Burst discarded."))
        if cpu.get("quota"):
            writes.append(("cpu.cfs_quota_us", str(cpu["quota"]), _CFS))
        self._set_all("cpu", path, writes)
        rt = "Your kernel does not support CPU real-time scheduler or the cgroup is not mounted. " \
             "Real-time limits discarded."
        writes = [(name, str(cpu[key]), rt) for key, name in (("realtimePeriod", "cpu.rt_period_us"),
                                                              ("realtimeRuntime", "cpu.rt_runtime_us")) if cpu.get(key)]
        self._set_all("cpu", path, writes)

    def _blkio(self, path: str, blk: dict) -> None:
        mnt = self.by_controller.get("blkio")
        # the CFQ files, or with CFQ gone (Linux 5.0) BFQ's
        weight, weight_device = "blkio.weight", "blkio.weight_device"
        if mnt is not None and not os.path.exists(f"{mnt}/{path}/blkio.weight") and (
                blk.get("weight") or blk.get("weightDevice")):
            weight, weight_device = "blkio.bfq.weight", "blkio.bfq.weight_device"
        if blk.get("weight"):
            self._set("blkio", path, weight, str(blk["weight"]),
                      missing="Your kernel does not support Block I/O weight or the cgroup is not mounted. "
                              "Weight discarded.")
        if blk.get("leafWeight"):
            self._set("blkio", path, "blkio.leaf_weight", str(blk["leafWeight"]),
                      missing="Your kernel does not support Block I/O leaf weight or the cgroup is not mounted. "
                              "Leaf weight discarded.")
        for wd in blk.get("weightDevice") or []:
            dev = f"{wd['major']}:{wd['minor']}"
            if wd.get("weight"):
                if not self._set("blkio", path, weight_device, f"{dev} {wd['weight']}"):
                    self._warn(_weight_device_warning(dev, mnt and os.path.exists(f"{mnt}/{path}/{weight_device}")))
            if wd.get("leafWeight"):
                self._set("blkio", path, "blkio.leaf_weight_device", f"{dev} {wd['leafWeight']}",
                          missing="Your kernel does not support Block I/O leaf weight_device or the cgroup is "
                                  "not mounted. Leaf weight-device discarded.")
        for key, fname, what in (("throttleReadBpsDevice", "read_bps_device", "BPS read"),
                                 ("throttleWriteBpsDevice", "write_bps_device", "BPS write"),
                                 ("throttleReadIOPSDevice", "read_iops_device", "IOPS read"),
                                 ("throttleWriteIOPSDevice", "write_iops_device", "IOPS write")):
            for dev in blk.get(key) or []:
                self._set("blkio", path, f"blkio.throttle.{fname}", f"{dev['major']}:{dev['minor']} {dev['rate']}",
                          missing=f"Your kernel does not support {what} Block I/O limit or the cgroup is not "
                                  f"mounted. Block I/O {what} limit discarded.")

    def _hugetlb(self, path: str, limits: list[dict]) -> None:
        check_hugepage_sizes(limits)
        if "hugetlb" in self.by_controller:
            d, fmt = f"{self.by_controller['hugetlb']}/{path}", "hugetlb.{}.{}limit_in_bytes"
        else:
            d, fmt = self._unified_dir(path), "hugetlb.{}.{}max"
        for h in limits:
            size, value = h["pageSize"], str(h["limit"])
            if not (d and set_limit(d, fmt.format(size, ""), value)):
                self._warn(f"Your kernel does not support hugetlb limits for {size} pages or the cgroup is not "
                           "mounted. Hugepage limit discarded.")
                continue
            set_limit(d, fmt.format(size, "rsvd."), value)  # reservations too, where the kernel counts them

    def _rdma(self, path: str, rdma: dict) -> None:
        if "rdma" in self.by_controller:
            d = f"{self.by_controller['rdma']}/{path}"
        else:
            d = self._unified_dir(path)
        for line in rdma_lines(rdma):
            if not (d and set_limit(d, "rdma.max", line)):
                self._warn("Your kernel does not support rdma limits or the cgroup is not mounted. "
                           "RDMA limits discarded.")

    def _unified(self, path: str, unified: dict) -> None:
        """`unified` names cgroup v2 files: only the hybrid layout's cgroup2 mount has any."""
        d = self._unified_dir(path)
        try:
            available = read(f"{d}/cgroup.controllers").split() if d else []
        except OSError:
            available = []
        for key, value in unified.items():
            controller = check_unified_key(key)
            if controller not in available:
                raise InvalidArgument(f"unified resource {key!r} needs cgroup v2: this machine has cgroup v1 "
                                      f"and its cgroup2 hierarchy has no {controller} controller")
            for line in str(value).splitlines() or [""]:
                if not set_limit(d, key, line):
                    raise InvalidArgument(f"unified resource {key!r}: no such file in the cgroup2 hierarchy")

    def oom_killed(self, path: str) -> bool:
        mnt = self.by_controller.get("memory")
        return bool(mnt) and read_key(f"{mnt}/{clean_path(path)}/memory.oom_control", "oom_kill") > 0

    # ---- reading: stats, processes, the freezer ---------------------------------------------

    def stats(self, path: str) -> dict:
        """Usage counters, in the managers' common shape (see protocol.CgroupManager.stats)."""
        path = clean_path(path)
        out: dict = {}
        acct = self.by_controller.get("cpuacct")
        if acct:
            out["cpu_usage_ns"] = read_int(f"{acct}/{path}/cpuacct.usage") or 0
            try:
                out["percpu_usage_ns"] = [int(x) for x in read(f"{acct}/{path}/cpuacct.usage_percpu").split()]
            except (OSError, ValueError):
                pass
        mem = self.by_controller.get("memory")
        if mem:
            d = f"{mem}/{path}"
            out["memory_usage"] = read_int(f"{d}/memory.usage_in_bytes") or 0
            limit = read_int(f"{d}/memory.limit_in_bytes")
            # v1 says "no limit" with a huge page-aligned number
            out["memory_limit"] = limit if limit is not None and limit < (1 << 62) else None
            stat = read_flat(f"{d}/memory.stat")
            out["memory_stat"] = stat
            out["memory_cache"] = stat.get("total_inactive_file", 0)
        blk = self.by_controller.get("blkio")
        if blk:
            out["blkio_read"], out["blkio_write"] = _blkio_bytes(f"{blk}/{path}")
        pids = self.by_controller.get("pids")
        if pids:
            out["pids_current"] = read_int(f"{pids}/{path}/pids.current") or 0
            out["pids_limit"] = read_int(f"{pids}/{path}/pids.max")
        return out

    def pids(self, path: str) -> list[int]:
        """Every process in the cgroup and its sub-cgroups."""
        path = clean_path(path)
        mnt = (self.by_controller.get("pids") or self.by_controller.get("freezer")
               or self.by_controller.get("memory") or (self.hierarchies[0][0] if self.hierarchies else None))
        return sorted(set(procs_below(f"{mnt}/{path}"))) if mnt else []

    def freeze(self, path: str, frozen: bool) -> None:
        """Freeze (pause) or thaw every process of the cgroup: freezer.state."""
        from ..errors import KernelError, Unavailable

        mnt = self.by_controller.get("freezer")
        if mnt is None:
            raise Unavailable("the freezer cgroup controller is not mounted: cannot pause or unpause")
        f = f"{mnt}/{clean_path(path)}/freezer.state"
        want = "FROZEN" if frozen else "THAWED"
        for _ in range(100):  # a fork racing the freeze can leave it FREEZING: ask again, as runc does
            try:
                write(f, want)
            except OSError as e:
                raise KernelError("write", f, e.errno) from None
            if wait_state(f, want, 0.1):
                return
        write(f, "THAWED")
        raise KernelError("write", f, 16, f"the cgroup did not become {want}")

    def frozen(self, path: str) -> bool:
        mnt = self.by_controller.get("freezer")
        try:
            return bool(mnt) and read(f"{mnt}/{clean_path(path)}/freezer.state").strip() == "FROZEN"
        except OSError:
            return False

    def destroy(self, path: str) -> None:
        path = clean_path(path)
        parent = path.rpartition("/")[0]
        for mnt, _, _ in self.hierarchies:
            remove_dir(f"{mnt}/{path}")
            if parent:
                try:
                    os.rmdir(f"{mnt}/{parent}")
                except OSError:
                    pass  # other containers still in it


def _blkio_bytes(d: str) -> tuple[int, int]:
    """Bytes read and written: blkio.throttle.io_service_bytes_recursive ("8:0 Read 4096"
    lines; every request passes the throttle layer), else the CFQ/BFQ files."""
    for name in ("blkio.throttle.io_service_bytes_recursive", "blkio.io_service_bytes_recursive",
                 "blkio.throttle.io_service_bytes"):
        try:
            text = read_all(f"{d}/{name}")
        except OSError:
            continue
        r = w = 0
        seen = False
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 3 or not parts[2].isdigit():
                continue
            seen = True
            op = parts[1].lower()
            if op == "read":
                r += int(parts[2])
            elif op == "write":
                w += int(parts[2])
        if seen:
            return r, w
    return 0, 0


def _weight_device_warning(dev: str, bfq_file: bool) -> str:
    if bfq_file:  # BFQ keeps weights only for devices it schedules (EOPNOTSUPP otherwise)
        return (f"Block I/O weight for device {dev} needs the bfq I/O scheduler on that device. "
                "Weight-device discarded.")
    return "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."


def _inherit_cpuset(d: str, only_if_empty: bool = False) -> None:
    """A new v1 cpuset starts with no cpus and no mems: copy them from the parent,
    first filling the parent the same way if it is empty too."""
    up = d.rpartition("/")[0]
    for name in ("cpuset.cpus", "cpuset.mems"):
        try:
            if only_if_empty and read(f"{d}/{name}").strip():
                continue
            value = read(f"{up}/{name}").strip()
            if not value and os.path.exists(f"{up}/../{name}"):
                _inherit_cpuset(up, only_if_empty=True)
                value = read(f"{up}/{name}").strip()
            write(f"{d}/{name}", value or "\n")
        except OSError:
            pass
