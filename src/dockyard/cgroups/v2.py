"""cgroup v2: one unified hierarchy; controllers are enabled for children through
`cgroup.subtree_control` of each ancestor, and limits use the v2 file names.

The OCI `linux.resources` keys and the files they become (as runc and crun map them;
a value of 0 or null leaves the file alone):

    memory.limit              memory.max ("max" for -1)
    memory.swap               memory.swap.max: swap - limit (v2 counts swap apart)
    memory.reservation        memory.low
    memory.kernel, kernelTCP, swappiness   no v2 file: a warning
    memory.disableOOMKiller   ignored (v2 has no switch for it)
    cpu.shares                cpu.weight (shares_to_weight)
    cpu.quota / cpu.period    cpu.max "quota period" ("max" for no quota)
    cpu.burst                 cpu.max.burst
    cpu.cpus / cpu.mems       cpuset.cpus / cpuset.mems
    cpu.idle                  cpu.idle
    cpu.realtime*             no v2 file: a warning
    blockIO.weight            io.bfq.weight, else io.weight "default w'" (w' in 1..10000)
    blockIO.weightDevice      io.bfq.weight "maj:min w", else io.weight "maj:min w'"
    blockIO.leafWeight(s)     no v2 file: a warning
    blockIO.throttle*Device   io.max "maj:min rbps=N" (wbps, riops, wiops)
    hugepageLimits            hugetlb.<size>.max (+ hugetlb.<size>.rsvd.max)
    network                   no v2 file (net_cls/net_prio are v1 only): a warning
    pids.limit                pids.max ("max" when <= 0)
    rdma                      rdma.max "dev hca_handle=N hca_object=N"
    unified                   each file written as given (line by line); a file that is
                              not there is an error, as in runc
    devices                   an eBPF program (devices.py)
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument
from . import (check_hugepage_sizes, check_unified_key, clean_path, enable_controllers, make_dirs,
               procs_below, rdma_lines, read, read_all, read_flat, read_int, read_key, remove_dir,
               set_limit, wait_state, write)

WANTED = ("cpuset", "cpu", "io", "memory", "pids", "hugetlb", "rdma")

_SWAP = ("Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
         "Memory limited without swap.")


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) -> cpu.weight (1..10000), the conversion runc and crun use."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio weight (10..1000) -> io.weight (1..10000), as runc converts it."""
    return 1 + (weight - 10) * 9999 // 990


def swap_max(swap: int, limit: int) -> str:
    """memory.swap.max for the OCI memory+swap `swap` ("" leaves it alone); runc's rules."""
    if limit == -1 and not swap:
        return "max"  # unlimited memory, swap not given: unlimited both, as on v1
    if swap == -1:
        return "max"
    if not swap:
        return ""
    if limit in (0, -1):
        raise InvalidArgument("cannot set a swap limit without a memory limit")
    if swap < limit:
        raise InvalidArgument(f"memory+swap limit {swap} should be >= memory limit {limit}")
    return str(swap - limit)


class V2Manager:
    version = 2

    def __init__(self, root: str) -> None:
        self.root = root
        self.warnings: list[str] = []

    def describe(self) -> tuple:
        return (2, self.root)

    def procs_files(self, path: str) -> list[str]:
        return [f"{self.root}/{clean_path(path)}/cgroup.procs"]

    def mounts(self) -> list[tuple[str, str, str]]:
        return [("", "cgroup2", "")]

    def _enable(self, parent: str) -> None:
        """Enable the controllers we use for the children of `parent`."""
        enable_controllers(parent, WANTED)

    def create(self, path: str, resources: dict) -> None:
        path = clean_path(path)
        new = make_dirs(self.root, path, prepare=self._enable)
        try:
            self.apply(path, resources)
        except BaseException:
            if new:
                self.destroy(path)
            raise

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def _set(self, d: str, name: str, value: str, missing: str = "") -> bool:
        if set_limit(d, name, value):
            return True
        if missing:
            self._warn(missing)
        return False

    def _set_all(self, d: str, writes: list[tuple[str, str, str]]) -> None:
        """Write (file, value, warning if missing) in turn; one refused while the old
        value of another stands (cpu.max.burst <= the quota) is tried again last."""
        refused = []
        for name, value, missing in writes:
            try:
                self._set(d, name, value, missing)
            except InvalidArgument:
                if len(writes) == 1:
                    raise
                refused.append((name, value, missing))
        for name, value, missing in refused:
            self._set(d, name, value, missing)

    def apply(self, path: str, r: dict) -> None:
        self._apply_dir(f"{self.root}/{clean_path(path)}", r)

    def _apply_dir(self, d: str, r: dict) -> None:
        if r.get("devices") is not None:
            from .devices import attach_v2

            attach_v2(d, r["devices"])
        cpu = r.get("cpu") or {}
        if cpu.get("cpus"):
            self._set(d, "cpuset.cpus", cpu["cpus"], missing="cpuset controller unavailable: cpus discarded")
        if cpu.get("mems"):
            self._set(d, "cpuset.mems", cpu["mems"], missing="cpuset controller unavailable: mems discarded")
        if r.get("memory"):
            self._memory(d, r["memory"])
        if cpu:
            self._cpu(d, cpu)
        pids = r.get("pids") or {}
        if pids.get("limit") is not None:
            limit = pids["limit"]
            self._set(d, "pids.max", "max" if limit <= 0 else str(limit),
                      missing="Your kernel does not support pids limit capabilities or the cgroup is not "
                              "mounted. PIDs limit discarded.")
        if r.get("blockIO"):
            self._io(d, r["blockIO"])
        if r.get("hugepageLimits"):
            check_hugepage_sizes(r["hugepageLimits"])
            for h in r["hugepageLimits"]:
                size, value = h["pageSize"], str(h["limit"])
                if self._set(d, f"hugetlb.{size}.max", value,
                             missing=f"Your kernel does not support hugetlb limits for {size} pages or the cgroup "
                                     "is not mounted. Hugepage limit discarded."):
                    set_limit(d, f"hugetlb.{size}.rsvd.max", value)  # reservations too, where counted
        net = r.get("network") or {}
        if net.get("classID") is not None or net.get("priorities"):
            self._warn("cgroup v2 has no net_cls or net_prio controller. Network class ID and priorities discarded.")
        for line in rdma_lines(r.get("rdma") or {}):
            self._set(d, "rdma.max", line, missing="Your kernel does not support rdma limits or the cgroup is not "
                                                   "mounted. RDMA limits discarded.")
        if r.get("unified"):
            self._unified(d, r["unified"])

    def _memory(self, d: str, mem: dict) -> None:
        limit = mem.get("limit") or 0
        swap = swap_max(mem.get("swap") or 0, limit)
        if swap:
            # without swap accounting, "no swap" and "unlimited swap" are what there is anyway
            self._set(d, "memory.swap.max", swap, missing="" if swap in ("max", "0") else _SWAP)
        if limit:
            self._set(d, "memory.max", "max" if limit == -1 else str(limit),
                      missing="Your kernel does not support memory limit capabilities or the cgroup is "
                              "not mounted. Limitation discarded.")
        if mem.get("reservation"):
            self._set(d, "memory.low", "max" if mem["reservation"] == -1 else str(mem["reservation"]),
                      missing="Your kernel does not support memory reservation or the cgroup is not mounted. "
                              "Reservation discarded.")
        if mem.get("kernel") or mem.get("kernelTCP"):
            self._warn("cgroup v2 has no kernel memory limits. Kernel memory limit discarded.")
        if mem.get("swappiness") not in (None, -1):
            self._warn("cgroup v2 has no per-cgroup swappiness. Memory swappiness discarded.")

    def _cpu(self, d: str, cpu: dict) -> None:
        idle = cpu.get("idle")
        if idle is not None:
            self._set(d, "cpu.idle", str(idle),
                      missing="Your kernel does not support CPU idle or the cgroup is not mounted. Idle discarded.")
        if cpu.get("shares") and not idle:  # an idle group has no weight: the kernel refuses one
            self._set(d, "cpu.weight", str(shares_to_weight(cpu["shares"])),
                      missing="Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.")
        writes = []
        if cpu.get("burst") is not None:
            writes.append(("cpu.max.burst", str(cpu["burst"]),
                           "Your kernel does not support CPU burst or the cgroup is not mounted. Burst discarded."))
        quota, period = cpu.get("quota") or 0, cpu.get("period") or 0
        if quota or period:
            value = str(quota) if quota > 0 else "max"
            if period:
                value += f" {period}"
            writes.append(("cpu.max", value, "Your kernel does not support CPU CFS scheduler or the cgroup is "
                                             "not mounted. Period/quota discarded."))
        self._set_all(d, writes)
        if cpu.get("realtimePeriod") or cpu.get("realtimeRuntime"):
            self._warn("cgroup v2 has no real-time group scheduling. Real-time period/runtime discarded.")

    def _io(self, d: str, blk: dict) -> None:
        bfq = (blk.get("weight") or blk.get("weightDevice")) and os.path.exists(f"{d}/io.bfq.weight")
        if blk.get("weight"):
            if not (bfq and self._set(d, "io.bfq.weight", str(blk["weight"]))):
                if not self._set(d, "io.weight", f"default {blkio_to_io_weight(blk['weight'])}"):
                    self._warn("Your kernel does not support Block I/O weight or the cgroup is "
                               "not mounted. Weight discarded.")
        for wd in blk.get("weightDevice") or []:
            if not wd.get("weight"):
                continue
            dev = f"{wd['major']}:{wd['minor']}"
            if not (bfq and self._set(d, "io.bfq.weight", f"{dev} {wd['weight']}")):
                if not self._set(d, "io.weight", f"{dev} {blkio_to_io_weight(wd['weight'])}"):
                    self._warn(f"Your kernel does not support Block I/O weight_device for {dev} or the cgroup "
                               "is not mounted. Weight-device discarded.")
        if blk.get("leafWeight") or any(wd.get("leafWeight") for wd in blk.get("weightDevice") or []):
            self._warn("cgroup v2 has no Block I/O leaf weights. Leaf weight discarded.")
        for key, field in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                           ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
            for dev in blk.get(key) or []:
                self._set(d, "io.max", f"{dev['major']}:{dev['minor']} {field}={dev['rate']}",
                          missing="Your kernel does not support Block I/O BPS limits or the cgroup is not "
                                  "mounted. Limit discarded.")

    def _unified(self, d: str, unified: dict) -> None:
        for key, value in unified.items():
            controller = check_unified_key(key)
            for line in str(value).splitlines() or [""]:
                if set_limit(d, key, line):
                    continue
                try:
                    available = read(f"{d}/cgroup.controllers").split()
                except OSError:
                    available = []
                if controller != "cgroup" and controller not in available:
                    raise InvalidArgument(f"unified resource {key!r} cannot be set: controller {controller!r} "
                                          "is not available")
                raise InvalidArgument(f"unified resource {key!r} cannot be set: no such file")

    def oom_killed(self, path: str) -> bool:
        return read_key(f"{self.root}/{clean_path(path)}/memory.events", "oom_kill") > 0

    # ---- reading: stats, processes, the freezer ---------------------------------------------

    def stats(self, path: str) -> dict:
        """Usage counters, in the managers' common shape (see protocol.CgroupManager.stats)."""
        d = f"{self.root}/{clean_path(path)}"
        out: dict = {}
        cpu = read_flat(f"{d}/cpu.stat")
        if "usage_usec" in cpu:
            out["cpu_usage_ns"] = cpu["usage_usec"] * 1000
        current = read_int(f"{d}/memory.current")
        if current is not None:
            out["memory_usage"] = current
            out["memory_limit"] = read_int(f"{d}/memory.max")  # None: "max"
            stat = read_flat(f"{d}/memory.stat")
            out["memory_stat"] = stat
            out["memory_cache"] = stat.get("inactive_file", 0)
        r = w = 0
        try:
            for line in read_all(f"{d}/io.stat").splitlines():
                for field in line.split()[1:]:
                    k, _, v = field.partition("=")
                    if k == "rbytes":
                        r += int(v)
                    elif k == "wbytes":
                        w += int(v)
            out["blkio_read"], out["blkio_write"] = r, w
        except (OSError, ValueError):
            pass
        pids = read_int(f"{d}/pids.current")
        if pids is not None:
            out["pids_current"] = pids
            out["pids_limit"] = read_int(f"{d}/pids.max")
        return out

    def pids(self, path: str) -> list[int]:
        """Every process in the cgroup and its sub-cgroups."""
        return sorted(set(procs_below(f"{self.root}/{clean_path(path)}")))

    def freeze(self, path: str, frozen: bool) -> None:
        """Freeze (pause) or thaw every process of the cgroup: cgroup.freeze, then wait
        for cgroup.events to say so."""
        from ..errors import KernelError

        d = f"{self.root}/{clean_path(path)}"
        try:
            write(f"{d}/cgroup.freeze", "1" if frozen else "0")
        except OSError as e:
            raise KernelError("write", f"{d}/cgroup.freeze", e.errno) from None
        if not wait_state(f"{d}/cgroup.events", f"frozen {int(frozen)}"):
            raise KernelError("write", f"{d}/cgroup.freeze", 16, "the cgroup did not change its frozen state")

    def frozen(self, path: str) -> bool:
        try:
            return "frozen 1" in read(f"{self.root}/{clean_path(path)}/cgroup.events").splitlines()
        except OSError:
            return False

    def destroy(self, path: str) -> None:
        path = clean_path(path)
        remove_dir(f"{self.root}/{path}")
        parent = path.rpartition("/")[0]
        if parent:
            try:
                os.rmdir(f"{self.root}/{parent}")
            except OSError:
                pass
