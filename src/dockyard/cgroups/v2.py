"""cgroup v2: one unified hierarchy; controllers are enabled for children through
`cgroup.subtree_control` of each ancestor, and limits use the v2 file names."""

from __future__ import annotations

import errno
import os

from ..errors import InvalidArgument, KernelError
from . import read, read_key, remove_dir, write

WANTED = ("cpuset", "cpu", "io", "memory", "pids", "hugetlb")


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) -> cpu.weight (1..10000), the conversion runc and crun use."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


class V2Manager:
    version = 2

    def __init__(self, root: str) -> None:
        self.root = root
        self.warnings: list[str] = []

    def describe(self) -> tuple:
        return (2, self.root)

    def procs_files(self, path: str) -> list[str]:
        return [f"{self.root}/{path}/cgroup.procs"]

    def mounts(self) -> list[tuple[str, str, str]]:
        return [("", "cgroup2", "")]

    def _enable(self, parent: str) -> set[str]:
        """Enable the controllers we use for the children of `parent`; returns them."""
        available = set(read(f"{parent}/cgroup.controllers").split())
        enabled = set(read(f"{parent}/cgroup.subtree_control").split())
        want = [c for c in WANTED if c in available and c not in enabled]
        if want:
            try:
                write(f"{parent}/cgroup.subtree_control", " ".join("+" + c for c in want))
            except OSError:
                for c in want:  # one at a time: a controller may be refused alone
                    try:
                        write(f"{parent}/cgroup.subtree_control", "+" + c)
                    except OSError:
                        pass
            enabled = set(read(f"{parent}/cgroup.subtree_control").split())
        return enabled

    def create(self, path: str, resources: dict) -> None:
        parent = f"{self.root}/{path.rpartition('/')[0]}"
        self._enable(self.root)
        try:
            os.mkdir(parent, 0o755)
        except FileExistsError:
            pass
        self._enable(parent)
        try:
            os.mkdir(f"{self.root}/{path}", 0o755)
        except FileNotFoundError:
            os.makedirs(f"{self.root}/{path}", 0o755)
            self._enable(parent)
        try:
            self.apply(path, resources)
        except BaseException:
            self.destroy(path)
            raise

    def _set(self, d: str, name: str, value: str, missing: str = "") -> bool:
        f = f"{d}/{name}"
        if not os.path.exists(f):
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
        self._apply_dir(f"{self.root}/{path}", r)

    def _apply_dir(self, d: str, r: dict) -> None:
        if r.get("devices") is not None:
            from .devices import attach_v2

            attach_v2(d, r["devices"])
        cpu = r.get("cpu") or {}
        if cpu.get("cpus"):
            self._set(d, "cpuset.cpus", cpu["cpus"], missing="cpuset controller unavailable: cpus discarded")
        if cpu.get("mems"):
            self._set(d, "cpuset.mems", cpu["mems"], missing="cpuset controller unavailable: mems discarded")
        mem = r.get("memory") or {}
        if "limit" in mem:
            self._set(d, "memory.max", str(mem["limit"]),
                      missing="Your kernel does not support memory limit capabilities or the cgroup is "
                              "not mounted. Limitation discarded.")
            swap = mem.get("swap")
            if swap is not None:
                value = "max" if swap < 0 else str(max(swap - mem["limit"], 0))
                self._set(d, "memory.swap.max", value,
                          missing="Your kernel does not support swap limit capabilities or the cgroup "
                                  "is not mounted. Memory limited without swap.")
        if "shares" in cpu:
            self._set(d, "cpu.weight", str(shares_to_weight(cpu["shares"])),
                      missing="Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.")
        if "quota" in cpu or "period" in cpu:
            quota = cpu.get("quota", -1)
            period = cpu.get("period", 100000)
            self._set(d, "cpu.max", f"{'max' if quota <= 0 else quota} {period}",
                      missing="Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. "
                              "Period/quota discarded.")
        pids = r.get("pids") or {}
        if "limit" in pids:
            limit = pids["limit"]
            self._set(d, "pids.max", "max" if limit <= 0 else str(limit),
                      missing="Your kernel does not support pids limit capabilities or the cgroup is not "
                              "mounted. PIDs limit discarded.")
        blk = r.get("blockIO") or {}
        if "weight" in blk:
            # io.weight takes 1..10000; blkio weights are 10..1000
            w = 1 + (blk["weight"] - 10) * 9999 // 990
            if not (os.path.exists(f"{d}/io.bfq.weight") and self._set(d, "io.bfq.weight", str(blk["weight"]))):
                if not self._set(d, "io.weight", f"default {w}"):
                    self.warnings.append("Your kernel does not support Block I/O weight or the cgroup is "
                                         "not mounted. Weight discarded.")
        for key, field in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps")):
            for dev in blk.get(key) or []:
                self._set(d, "io.max", f"{dev['major']}:{dev['minor']} {field}={dev['rate']}",
                          missing="Your kernel does not support Block I/O BPS limits or the cgroup is not "
                                  "mounted. Limit discarded.")

    def oom_killed(self, path: str) -> bool:
        return read_key(f"{self.root}/{path}/memory.events", "oom_kill") > 0

    def destroy(self, path: str) -> None:
        remove_dir(f"{self.root}/{path}")
        parent = path.rpartition("/")[0]
        if parent:
            try:
                os.rmdir(f"{self.root}/{parent}")
            except OSError:
                pass
