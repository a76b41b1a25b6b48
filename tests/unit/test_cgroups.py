"""What the cgroup managers write for each limit, on a fake cgroup file system
(the real kernel is exercised by tests/integration/test_resources.py)."""

import os

import pytest

from dockyard.cgroups import v1, v2
from dockyard.oci.spec import resources

V2_FILES = ("cgroup.procs", "cgroup.controllers", "cgroup.subtree_control", "memory.max",
            "memory.swap.max", "memory.events", "cpu.max", "cpu.weight", "cpuset.cpus",
            "cpuset.mems", "pids.max", "io.max", "io.weight")
V1_FILES = {"memory": ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.oom_control"),
            "cpu": ("cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"),
            "cpuset": ("cpuset.cpus", "cpuset.mems"), "pids": ("pids.max",),
            "blkio": ("blkio.weight", "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device")}


def _fake_mkdir(files, real_mkdir=os.mkdir):
    """mkdir that also creates a cgroup's interface files, as the kernel does."""
    def mkdir(path, mode=0o777, *, dir_fd=None):
        real_mkdir(path, mode)
        for f in files(path):
            with open(os.path.join(path, f), "w") as fh:
                fh.write("0-1\n" if f.startswith("cpuset.") else "")
    return mkdir


def _read(p):
    with open(p) as f:
        return f.read()


@pytest.fixture
def fake_v2(tmp_path, monkeypatch):
    root = tmp_path / "cg2"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    monkeypatch.setattr(v2.os, "mkdir", _fake_mkdir(lambda p: [f for f in V2_FILES if f != "cgroup.controllers"]
                                                    + ["cgroup.controllers"]))
    return str(root)


def test_v2_limits(fake_v2):
    m = v2.V2Manager(fake_v2)
    r = resources(memory=64 << 20, memory_swap=96 << 20, nano_cpus=500_000_000, cpu_shares=512,
                  cpuset_cpus="1", pids_limit=20, blkio_weight=500, read_bps=[(8, 0, 1048576)])
    m.create("dockyard/c1", r)
    d = f"{fake_v2}/dockyard/c1"
    assert _read(f"{d}/memory.max") == str(64 << 20)
    assert _read(f"{d}/memory.swap.max") == str(32 << 20)  # v2 counts swap apart from memory
    assert _read(f"{d}/cpu.max") == "50000 100000"
    assert _read(f"{d}/cpu.weight") == str(v2.shares_to_weight(512)) == "20"
    assert _read(f"{d}/cpuset.cpus") == "1"
    assert _read(f"{d}/pids.max") == "20"
    assert _read(f"{d}/io.weight") == "default 4950"  # runc: 1 + (w - 10) * 9999 / 990
    assert _read(f"{d}/io.max") == "8:0 rbps=1048576"
    assert m.procs_files("dockyard/c1") == [f"{d}/cgroup.procs"]
    assert m.mounts() == [("", "cgroup2", "")]
    assert m.warnings == []


def test_v2_unlimited_swap_and_pids(fake_v2):
    m = v2.V2Manager(fake_v2)
    m.create("dockyard/c2", resources(memory=64 << 20, memory_swap=-1, pids_limit=-1))
    d = f"{fake_v2}/dockyard/c2"
    assert _read(f"{d}/memory.swap.max") == "max" and _read(f"{d}/pids.max") == "max"


def test_v2_enables_controllers_for_children(fake_v2):
    v2.V2Manager(fake_v2).create("dockyard/c3", {})
    assert _read(f"{fake_v2}/cgroup.subtree_control") == "+cpuset +cpu +io +memory +pids"


def test_v2_oom_counter(fake_v2):
    m = v2.V2Manager(fake_v2)
    m.create("dockyard/c4", {})
    assert not m.oom_killed("dockyard/c4")
    with open(f"{fake_v2}/dockyard/c4/memory.events", "w") as f:
        f.write("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert m.oom_killed("dockyard/c4")


def test_v2_missing_controller_warns(fake_v2, monkeypatch):
    monkeypatch.setattr(v2.os, "mkdir", _fake_mkdir(lambda p: ["cgroup.procs", "cgroup.controllers",
                                                               "cgroup.subtree_control"]))
    m = v2.V2Manager(fake_v2)
    m.create("dockyard/c5", resources(memory=64 << 20, pids_limit=5))
    assert any("memory limit" in w for w in m.warnings) and any("pids limit" in w for w in m.warnings)


def test_shares_to_weight_matches_runc():
    assert v2.shares_to_weight(2) == 1 and v2.shares_to_weight(1024) == 39
    assert v2.shares_to_weight(262144) == 10000


@pytest.fixture
def fake_v1(tmp_path, monkeypatch):
    hier = []
    for c in ("memory", "cpu", "cpuset", "pids", "blkio"):
        d = tmp_path / c
        d.mkdir()
        (d / "cpuset.cpus").write_text("0-1\n")
        (d / "cpuset.mems").write_text("0\n")
        hier.append((str(d), "cgroup", f"rw,{c}"))
    by_path = {h[0]: h[2].split(",")[1] for h in hier}

    def files(path):
        top = next(p for p in by_path if path.startswith(p + "/"))
        return ("cgroup.procs",) + V1_FILES[by_path[top]]

    monkeypatch.setattr(v1.os, "mkdir", _fake_mkdir(files))
    return v1.V1Manager(hier), tmp_path


def test_v1_limits(fake_v1):
    m, root = fake_v1
    m.create("dockyard/c1", resources(memory=64 << 20, nano_cpus=1_500_000_000, cpu_shares=512,
                                      cpuset_cpus="0", pids_limit=20, blkio_weight=300,
                                      write_bps=[(8, 0, 2048)]))
    assert _read(root / "memory/dockyard/c1/memory.limit_in_bytes") == str(64 << 20)
    assert _read(root / "memory/dockyard/c1/memory.memsw.limit_in_bytes") == str(128 << 20)  # Docker: 2x
    assert _read(root / "cpu/dockyard/c1/cpu.cfs_quota_us") == "150000"
    assert _read(root / "cpu/dockyard/c1/cpu.cfs_period_us") == "100000"
    assert _read(root / "cpu/dockyard/c1/cpu.shares") == "512"
    assert _read(root / "cpuset/dockyard/c1/cpuset.cpus") == "0"
    assert _read(root / "cpuset/dockyard/cpuset.cpus") == "0-1"  # the parent inherits the root's cpus
    assert _read(root / "pids/dockyard/c1/pids.max") == "20"
    assert _read(root / "blkio/dockyard/c1/blkio.weight") == "300"
    assert _read(root / "blkio/dockyard/c1/blkio.throttle.write_bps_device") == "8:0 2048"
    assert sorted(m.procs_files("dockyard/c1")) == sorted(
        str(root / c / "dockyard/c1/cgroup.procs") for c in ("memory", "cpu", "cpuset", "pids", "blkio"))


def test_v1_describe_round_trip(fake_v1):
    from dockyard.cgroups import from_description

    m, _ = fake_v1
    again = from_description(m.describe())
    assert again.hierarchies == m.hierarchies and again.by_controller == m.by_controller
