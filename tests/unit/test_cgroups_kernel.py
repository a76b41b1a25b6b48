"""The cgroup managers against this machine's real cgroup hierarchies: each OCI
`linux.resources` key is written, read back the way the OCI conformance suite
(runtime-tools validation/linux_cgroups_*) reads it, or else reported as a warning.

Needs root and a writable /sys/fs/cgroup; skips otherwise. Each test makes
`dockyard-test-<random>/...` and removes it again, even when it fails.
"""

import os
import secrets
import subprocess

import pytest

from dockyard import cgroups
from dockyard.errors import InvalidArgument

V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def _usable() -> str:
    if os.geteuid() != 0:
        return "needs root to make cgroups"
    try:
        m = cgroups.manager()
    except OSError as e:
        return f"no cgroup hierarchy: {e}"
    if m.version == 1 and not m.by_controller.get("memory"):
        return "no v1 memory hierarchy"
    probe = (m.root if m.version == 2 else m.by_controller["memory"]) + f"/dockyard-probe-{secrets.token_hex(4)}"
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as e:
        return f"cannot make cgroups here: {e}"
    return ""


pytestmark = pytest.mark.skipif(bool(_usable()), reason=_usable() or "usable")


@pytest.fixture
def cg():
    """A manager and a fresh top-level name; everything below it goes afterwards."""
    m = cgroups.manager()
    top = f"dockyard-test-{secrets.token_hex(4)}"
    roots = [m.root] if m.version == 2 else [mnt for mnt, _, _ in m.hierarchies]
    try:
        yield m, top
    finally:
        for r in roots:
            for d, subdirs, _ in os.walk(f"{r}/{top}", topdown=False):
                for s in subdirs:
                    cgroups.remove_dir(f"{d}/{s}")
            cgroups.remove_dir(f"{r}/{top}")
        assert not any(os.path.exists(f"{r}/{top}") for r in roots)


def _disk() -> tuple[int, int] | None:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram")):
            major, minor = open(f"/sys/block/{name}/dev").read().split(":")
            return int(major), int(minor)
    return None


def _resources() -> dict:
    r = {
        "memory": {"limit": 50593792, "reservation": 50593792, "swap": 50593792, "kernel": 50593792,
                   "kernelTCP": 50593792, "swappiness": 10, "disableOOMKiller": True},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "cpus": "0", "mems": "0",
                "idle": 0},
        "pids": {"limit": 1000},
        "network": {"classID": 255, "priorities": [{"name": "lo", "priority": 10}]},
        "hugepageLimits": [{"pageSize": s, "limit": 2 << 30} for s in cgroups.hugepage_sizes()],
    }
    dev = _disk()
    if dev:
        major, minor = dev
        r["blockIO"] = {"weight": 500, "leafWeight": 300,
                        "weightDevice": [{"major": major, "minor": minor, "weight": 500, "leafWeight": 300}]}
        for i, key in enumerate(("throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
                                 "throttleWriteIOPSDevice")):
            r["blockIO"][key] = [{"major": major, "minor": minor, "rate": 102400 + i}]
    return r


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


@pytest.mark.skipif(V2, reason="cgroup v1 layout")
def test_v1_every_key_reads_back_or_warns(cg):
    m, top = cg
    path = f"{top}/a/b"
    r = _resources()
    m.create(path, r)
    warned = "\n".join(m.warnings)

    def check(controller, name, want, warning):
        mnt = m.by_controller.get(controller)
        got = _read(f"{mnt}/{path}/{name}") if mnt else None
        if got == want:
            return
        assert warning in warned, f"{controller}/{name}: read {got!r}, want {want!r}; warnings: {m.warnings}"

    check("memory", "memory.limit_in_bytes", "50593792", "memory limit")
    check("memory", "memory.soft_limit_in_bytes", "50593792", "memory reservation")
    check("memory", "memory.memsw.limit_in_bytes", "50593792", "swap limit")
    check("memory", "memory.kmem.limit_in_bytes", "50593792", "kernel memory limits")
    check("memory", "memory.kmem.tcp.limit_in_bytes", "50593792", "kernel TCP memory limits")
    check("memory", "memory.swappiness", "10", "swappiness")
    oom = _read(f"{m.by_controller['memory']}/{path}/memory.oom_control")
    assert oom.splitlines()[0] == "oom_kill_disable 1"
    check("cpu", "cpu.shares", "1024", "CPU shares")
    check("cpu", "cpu.cfs_quota_us", "50000", "CFS")
    check("cpu", "cpu.cfs_period_us", "100000", "CFS")
    check("cpu", "cpu.cfs_burst_us", "1000", "CPU burst")
    check("cpu", "cpu.idle", "0", "CPU idle")
    check("cpuset", "cpuset.cpus", "0", "cpuset")
    check("cpuset", "cpuset.mems", "0", "cpuset")
    check("pids", "pids.max", "1000", "pids limit")
    check("net_cls", "net_cls.classid", "255", "net_cls")
    if m.by_controller.get("net_prio"):
        assert "lo 10" in _read(f"{m.by_controller['net_prio']}/{path}/net_prio.ifpriomap").splitlines()
    else:
        assert "net_prio" in warned
    for h in r["hugepageLimits"]:
        size = h["pageSize"]
        if m.by_controller.get("hugetlb"):
            got = _read(f"{m.by_controller['hugetlb']}/{path}/hugetlb.{size}.limit_in_bytes")
        else:  # the hybrid layout's cgroup2 mount
            got = _read(f"{m.unified}/{path}/hugetlb.{size}.max") if m.unified else None
        assert got == str(2 << 30) or f"hugetlb limits for {size}" in warned
    blk = r.get("blockIO")
    if blk:
        dev = f"{blk['weightDevice'][0]['major']}:{blk['weightDevice'][0]['minor']}"
        d = f"{m.by_controller['blkio']}/{path}"
        weight = "blkio.weight" if os.path.exists(f"{d}/blkio.weight") else "blkio.bfq.weight"
        assert _read(f"{d}/{weight}") in ("500", "default 500") or "Block I/O weight" in warned
        check("blkio", "blkio.leaf_weight", "300", "leaf weight")
        wd = _read(f"{d}/{weight}_device") or ""
        assert f"{dev} 500" in wd.splitlines() or "weight_device" in warned or "Block I/O weight for device" in warned
        for i, name in enumerate(("read_bps", "write_bps", "read_iops", "write_iops")):
            assert f"{dev} {102400 + i}" in (_read(f"{d}/blkio.throttle.{name}_device") or "").splitlines()
    # a process can join it in every hierarchy (the cgroup2 one included: no internal processes)
    p = subprocess.Popen(["sleep", "30"])
    try:
        for f in m.procs_files(path):
            cgroups.write(f, str(p.pid))
        lines = open(f"/proc/{p.pid}/cgroup").read().splitlines()
        assert all(line.endswith(f":/{path}") for line in lines), lines
    finally:
        p.kill()
        p.wait()
    m.destroy(path)
    assert not any(os.path.exists(f"{mnt}/{path}") or os.path.exists(f"{mnt}/{top}/a") for mnt, _, _ in m.hierarchies)


@pytest.mark.skipif(not V2, reason="cgroup v2 layout")
def test_v2_every_key_reads_back_or_warns(cg):
    m, top = cg
    path = f"{top}/a/b"
    r = _resources()
    m.create(path, r)
    d = f"{m.root}/{path}"
    warned = "\n".join(m.warnings)
    for name, want in (("memory.max", "50593792"), ("memory.low", "50593792"), ("memory.swap.max", "0"),
                       ("cpu.weight", "39"), ("cpu.max", "50000 100000"), ("cpu.max.burst", "1000"),
                       ("cpu.idle", "0"), ("cpuset.cpus", "0"), ("cpuset.mems", "0"), ("pids.max", "1000")):
        got = _read(f"{d}/{name}")
        assert got == want or (got is None and warned), (name, got, want, m.warnings)
    for h in r["hugepageLimits"]:
        assert _read(f"{d}/hugetlb.{h['pageSize']}.max") in (str(2 << 30), None)
    m.destroy(path)
    assert not os.path.exists(d)


def test_existing_cgroup_is_reused(cg):
    m, top = cg
    m.create(f"{top}/c", {"pids": {"limit": 10}})
    m.create(f"/{top}/c/", {"pids": {"limit": 20}})
    pids = m.root if m.version == 2 else m.by_controller.get("pids")
    if pids:
        assert _read(f"{pids}/{top}/c/pids.max") == "20"
    with pytest.raises(InvalidArgument):
        m.create(f"{top}/c", {"cpu": {"cpus": "0-4095"}})
    assert os.path.isdir(f"{pids or m.hierarchies[0][0]}/{top}/c")  # there before: kept


def test_updates_in_either_direction(cg):
    m, top = cg
    path = f"{top}/c"
    m.create(path, {"memory": {"limit": 64 << 20, "swap": 128 << 20}, "cpu": {"quota": 1000, "period": 100000}})
    for limit, swap in ((512 << 20, 1 << 30), (32 << 20, 48 << 20), (256 << 20, -1), (16 << 20, 16 << 20)):
        m.apply(path, {"memory": {"limit": limit, "swap": swap}})
    for quota, burst in ((50000, 20000), (10000, 5000), (80000, 70000)):
        m.apply(path, {"cpu": {"quota": quota, "period": 100000, "burst": burst}})
    if m.version == 1:
        mem, cpu = f"{m.by_controller['memory']}/{path}", f"{m.by_controller['cpu']}/{path}"
        assert _read(f"{mem}/memory.limit_in_bytes") == str(16 << 20)
        assert _read(f"{mem}/memory.memsw.limit_in_bytes") in (str(16 << 20), None)
        assert _read(f"{cpu}/cpu.cfs_quota_us") == "80000"
        assert _read(f"{cpu}/cpu.cfs_burst_us") in ("70000", None)
    else:
        assert _read(f"{m.root}/{path}/memory.max") == str(16 << 20)
        assert _read(f"{m.root}/{path}/cpu.max") == "80000 100000"


@pytest.mark.parametrize("resources,message", [
    ({"hugepageLimits": [{"pageSize": "3MB", "limit": 1 << 20}]}, "hugepage size '3MB'"),
    ({"memory": {"swappiness": 101}}, "swappiness"),
    ({"cpu": {"cpus": "0-4095"}}, "cpuset.cpus"),
    ({"pids": {"limit": 10}, "unified": {"nosuch.max": "1"}}, "nosuch.max"),
])
def test_values_the_kernel_refuses_raise(cg, resources, message):
    m, top = cg
    if "hugepageLimits" in resources and not cgroups.hugepage_sizes():
        pytest.skip("no huge pages on this machine")
    with pytest.raises(InvalidArgument, match=message):
        m.create(f"{top}/c", resources)
    roots = [m.root] if m.version == 2 else [mnt for mnt, _, _ in m.hierarchies]
    assert not any(os.path.exists(f"{r}/{top}/c") for r in roots)  # made for this call: removed again
