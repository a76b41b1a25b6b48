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


# ---- the whole of OCI linux.resources, on a fake kernel that records each write ----

import errno  # noqa: E402

from dockyard import cgroups  # noqa: E402
from dockyard.errors import InvalidArgument  # noqa: E402

V2_ALL = ("cgroup.procs", "cgroup.controllers", "cgroup.subtree_control", "memory.max", "memory.low",
          "memory.swap.max", "memory.events", "cpu.max", "cpu.max.burst", "cpu.weight", "cpu.idle",
          "cpuset.cpus", "cpuset.mems", "pids.max", "io.max", "io.weight", "hugetlb.2MB.max",
          "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max", "hugetlb.1GB.rsvd.max", "rdma.max", "memory.high")
V1_ALL = {"memory": ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
                     "memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes", "memory.swappiness",
                     "memory.oom_control"),
          "cpu": ("cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.rt_period_us",
                  "cpu.rt_runtime_us", "cpu.idle"),
          "cpuset": ("cpuset.cpus", "cpuset.mems"), "pids": ("pids.max",),
          "blkio": ("blkio.weight", "blkio.leaf_weight", "blkio.weight_device", "blkio.leaf_weight_device",
                    "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                    "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"),
          "net_cls,net_prio": ("net_cls.classid", "net_prio.ifpriomap"),
          "hugetlb": ("hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.rsvd.limit_in_bytes"),
          "rdma": ("rdma.max",)}

FULL = {
    "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20, "kernel": 16 << 20,
               "kernelTCP": 8 << 20, "swappiness": 10, "disableOOMKiller": True, "useHierarchy": True},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "realtimePeriod": 1000000,
            "realtimeRuntime": 950000, "cpus": "0", "mems": "0", "idle": 0},
    "blockIO": {"weight": 500, "leafWeight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 102400}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 204800}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 300}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 400}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 30}],
    "network": {"classID": 255, "priorities": [{"name": "lo", "priority": 10}, {"name": "eth0", "priority": 30}]},
    "pids": {"limit": 1000},
    "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {"hcaObjects": 20}},
}


class FakeKernel:
    """cgroup file writes as the kernel takes them: files that are not there are
    ENOENT, `refuse(path, value)` returns an errno to fail a write with, `keep`
    what the file then holds, and cgroup.subtree_control adds and removes the
    controllers its children have. Every write is logged."""

    def __init__(self, monkeypatch, root):
        self.root = str(root)
        self.log: list[tuple[str, str]] = []
        self.refuse = lambda path, value: 0
        self.keep = lambda path, value: value  # what the file then reads
        real = cgroups.write
        real_rmdir = os.rmdir

        def rmdir(path, *, dir_fd=None):  # a cgroup's interface files go with it
            if any(e.is_dir() for e in os.scandir(path)):
                raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), path)
            for e in os.scandir(path):
                os.unlink(e.path)
            real_rmdir(path)

        monkeypatch.setattr(os, "rmdir", rmdir)

        def write(path, value):
            e = self.refuse(path, value)
            if e:
                raise OSError(e, os.strerror(e), path)
            if path.endswith("/cgroup.subtree_control") and os.path.exists(path):
                now = _read(path).split()
                for tok in value.split():
                    if tok[0] == "+" and tok[1:] not in now:
                        now.append(tok[1:])
                    elif tok[0] == "-" and tok[1:] in now:
                        now.remove(tok[1:])
                value = " ".join(now)
                for e in os.scandir(os.path.dirname(path)):  # the children now have them
                    if e.is_dir():
                        real(f"{e.path}/cgroup.controllers", value)
            real(path, self.keep(path, value))
            self.log.append((os.path.relpath(path, self.root), value))

        monkeypatch.setattr(cgroups, "write", write)

    def writes(self, name):
        return [v for p, v in self.log if p.endswith("/" + name)]


@pytest.fixture
def hugepages(tmp_path, monkeypatch):
    d = tmp_path / "hugepages"
    for n in ("hugepages-2048kB", "hugepages-1048576kB"):
        (d / n).mkdir(parents=True)
    monkeypatch.setattr(cgroups, "HUGEPAGES", str(d))


@pytest.fixture
def kernel_v2(tmp_path, monkeypatch, hugepages):
    root = tmp_path / "cg2"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids hugetlb rdma misc\n")
    (root / "cgroup.subtree_control").write_text("")

    def mkdir(path, mode=0o777, *, dir_fd=None):
        real_mkdir(path, mode)
        parent = os.path.dirname(path)
        for f in V2_ALL:
            with open(os.path.join(path, f), "w") as fh:
                if f == "cgroup.controllers":  # what the parent enabled for its children
                    fh.write(_read(os.path.join(parent, "cgroup.subtree_control")))

    real_mkdir = os.mkdir
    monkeypatch.setattr(v2.os, "mkdir", mkdir)
    return FakeKernel(monkeypatch, root), v2.V2Manager(str(root))


def test_v2_every_resource_key(kernel_v2):
    k, m = kernel_v2
    r = dict(FULL, unified={"memory.high": "max", "io.max": "8:0 rbps=1\n8:16 wbps=2"})
    m.create("/testdir/cgrouptest/container/", r)
    d = f"{k.root}/testdir/cgrouptest/container"
    got = {f: _read(f"{d}/{f}") for f in ("memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max",
                                          "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max",
                                          "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "memory.high")}
    assert got == {"memory.max": str(64 << 20), "memory.low": str(32 << 20), "memory.swap.max": str(32 << 20),
                   "cpu.weight": "39", "cpu.max": "50000 100000", "cpu.max.burst": "1000", "cpu.idle": "0",
                   "cpuset.cpus": "0", "cpuset.mems": "0", "pids.max": "1000",
                   "hugetlb.2MB.max": str(2 << 30), "hugetlb.2MB.rsvd.max": str(2 << 30), "memory.high": "max"}
    assert k.writes("io.weight") == ["default 4950", "8:0 4950"]  # no io.bfq.weight here: io.weight's scale
    assert k.writes("io.max") == ["8:0 rbps=102400", "8:0 wbps=204800", "8:0 riops=300", "8:16 wiops=400",
                                  "8:0 rbps=1", "8:16 wbps=2"]  # then `unified`, line by line, last
    assert k.writes("rdma.max") == ["mlx5_1 hca_handle=3 hca_object=10000", "mlx4_0 hca_object=20"]
    # every ancestor enables the controllers for its children
    for a in ("", "/testdir", "/testdir/cgrouptest"):
        assert _read(f"{k.root}{a}/cgroup.subtree_control") == "cpuset cpu io memory pids hugetlb rdma"
    assert sorted(m.warnings) == sorted([
        "cgroup v2 has no kernel memory limits. Kernel memory limit discarded.",
        "cgroup v2 has no per-cgroup swappiness. Memory swappiness discarded.",
        "cgroup v2 has no real-time group scheduling. Real-time period/runtime discarded.",
        "cgroup v2 has no Block I/O leaf weights. Leaf weight discarded.",
        "cgroup v2 has no net_cls or net_prio controller. Network class ID and priorities discarded."])
    m.destroy("testdir/cgrouptest/container")
    assert not os.path.exists(d) and not os.path.exists(f"{k.root}/testdir/cgrouptest")
    assert os.path.exists(f"{k.root}/testdir")  # only the immediate parent goes, as for dockyard/<id>


def test_v2_bfq_weights(kernel_v2):
    k, m = kernel_v2
    m.create("c", {})
    open(f"{k.root}/c/io.bfq.weight", "w").close()
    m.apply("c", {"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 200}]}})
    assert k.writes("io.bfq.weight") == ["300", "8:0 200"] and k.writes("io.weight") == []


def test_v2_existing_cgroup_is_reused_and_kept(kernel_v2):
    k, m = kernel_v2
    m.create("a/b", {"pids": {"limit": 5}})
    m.create("a/b", {"pids": {"limit": 6}})
    assert _read(f"{k.root}/a/b/pids.max") == "6"
    k.refuse = lambda path, value: errno.EINVAL if path.endswith("pids.max") else 0
    with pytest.raises(InvalidArgument, match=r"pids.max to '7'"):
        m.create("a/b", {"pids": {"limit": 7}})
    assert os.path.isdir(f"{k.root}/a/b")  # not ours to remove: it was there before
    with pytest.raises(InvalidArgument):
        m.create("a/new", {"pids": {"limit": 7}})
    assert not os.path.exists(f"{k.root}/a/new")  # ours: removed again


def test_v2_swap_follows_runc(kernel_v2):
    k, m = kernel_v2
    m.create("c", {"memory": {"limit": -1}})
    assert _read(f"{k.root}/c/memory.max") == "max" and _read(f"{k.root}/c/memory.swap.max") == "max"
    m.apply("c", {"memory": {"limit": 64 << 20, "swap": 64 << 20}})
    assert _read(f"{k.root}/c/memory.swap.max") == "0"
    with pytest.raises(InvalidArgument, match="should be >= memory limit"):
        m.apply("c", {"memory": {"limit": 64 << 20, "swap": 32 << 20}})
    with pytest.raises(InvalidArgument, match="without a memory limit"):
        m.apply("c", {"memory": {"swap": 32 << 20}})


def test_v2_burst_is_written_after_a_quota_that_allows_it(kernel_v2):
    k, m = kernel_v2
    m.create("c", {"cpu": {"quota": 1000, "period": 100000}})

    def refuse(path, value):  # the kernel keeps burst <= quota
        quota = _read(f"{k.root}/c/cpu.max").split()[0]
        return errno.EINVAL if path.endswith("cpu.max.burst") and quota != "max" and int(value) > int(quota) else 0

    k.refuse = refuse
    m.apply("c", {"cpu": {"quota": 50000, "period": 100000, "burst": 20000}})
    assert _read(f"{k.root}/c/cpu.max.burst") == "20000" and _read(f"{k.root}/c/cpu.max") == "50000 100000"
    m.apply("c", {"cpu": {"quota": 60000}})
    assert _read(f"{k.root}/c/cpu.max") == "60000"  # the kernel keeps the period
    with pytest.raises(InvalidArgument, match="cpu.max.burst to '90000'"):
        m.apply("c", {"cpu": {"burst": 90000}})


def test_v2_idle_group_gets_no_weight(kernel_v2):
    k, m = kernel_v2
    m.create("c", {"cpu": {"idle": 1, "shares": 512}})
    assert _read(f"{k.root}/c/cpu.idle") == "1" and k.writes("cpu.weight") == []


def test_v2_hugepage_size_must_exist(kernel_v2):
    _, m = kernel_v2
    with pytest.raises(InvalidArgument, match="hugepage size '3MB'"):
        m.create("c", {"hugepageLimits": [{"pageSize": "3MB", "limit": 1 << 20}]})


def test_v2_unified_errors(kernel_v2):
    _, m = kernel_v2
    m.create("c", {})
    with pytest.raises(InvalidArgument, match="controller 'nosuch' is not available"):
        m.apply("c", {"unified": {"nosuch.max": "1"}})
    with pytest.raises(InvalidArgument, match="no such file"):
        m.apply("c", {"unified": {"memory.nosuch": "1"}})
    with pytest.raises(InvalidArgument, match="CONTROLLER.PARAMETER"):
        m.apply("c", {"unified": {"../memory.max": "1"}})


def test_v2_missing_knobs_warn_and_refused_values_raise(kernel_v2):
    k, m = kernel_v2
    m.create("c", {})
    for f in ("cpu.max.burst", "cpu.idle", "memory.low", "rdma.max"):
        os.unlink(f"{k.root}/c/{f}")
    m.apply("c", {"cpu": {"burst": 10, "idle": 0}, "memory": {"reservation": 1 << 20},
                  "rdma": {"mlx5_1": {"hcaHandles": 1}}})
    assert len(m.warnings) == 4 and all("not mounted" in w for w in m.warnings)
    k.refuse = lambda path, value: errno.ERANGE if path.endswith("memory.max") else 0
    with pytest.raises(InvalidArgument, match=r"cannot set memory.max to '4096'"):
        m.apply("c", {"memory": {"limit": 4096}})


@pytest.mark.parametrize("bad", ["", "/", "a/../b", "a//b", "./a"])
def test_bad_cgroup_paths_are_refused(kernel_v2, bad):
    with pytest.raises(InvalidArgument):
        kernel_v2[1].create(bad, {})


def test_hugepage_sizes_as_the_spec_names_them(hugepages):
    assert sorted(cgroups.hugepage_sizes()) == ["1GB", "2MB"]


@pytest.fixture
def kernel_v1(tmp_path, monkeypatch, hugepages):
    """v1 hierarchies, plus a hybrid cgroup2 mount offering hugetlb."""
    hier = []
    for c in V1_ALL:
        d = tmp_path / c
        d.mkdir()
        (d / "cpuset.cpus").write_text("0-1\n")
        (d / "cpuset.mems").write_text("0\n")
        hier.append((str(d), "cgroup", f"rw,{c}"))
    uni = tmp_path / "unified"
    uni.mkdir()
    (uni / "cgroup.controllers").write_text("hugetlb\n")
    (uni / "cgroup.subtree_control").write_text("")
    hier.append((str(uni), "cgroup2", "rw"))
    by_path = {h[0]: h[2].partition(",")[2] for h in hier}
    real_mkdir = os.mkdir

    def mkdir(path, mode=0o777, *, dir_fd=None):
        real_mkdir(path, mode)
        top = next(p for p in by_path if path.startswith(p + "/"))
        parent = os.path.dirname(path)
        if by_path[top] == "":
            files = {"cgroup.procs": "", "cgroup.subtree_control": "",
                     "cgroup.controllers": _read(f"{parent}/cgroup.subtree_control"),
                     "hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max"}
        else:
            files = {f: "" for f in ("cgroup.procs",) + V1_ALL[by_path[top]]}
        if by_path[top] == "memory":
            files["memory.limit_in_bytes"] = files["memory.memsw.limit_in_bytes"] = str(1 << 62)
        for f, text in files.items():
            with open(os.path.join(path, f), "w") as fh:
                fh.write(text)

    monkeypatch.setattr(v1.os, "mkdir", mkdir)

    def drop(controller):  # a machine without that hierarchy
        hier[:] = [h for h in hier if by_path[h[0]] != controller]

    return FakeKernel(monkeypatch, tmp_path), hier, drop


def test_v1_every_resource_key(kernel_v1):
    k, hier, _ = kernel_v1
    m = v1.V1Manager(hier)
    m.create("testdir/cgrouptest/container", FULL)
    p = "testdir/cgrouptest/container"

    def f(c, name):
        return _read(f"{k.root}/{c}/{p}/{name}")

    assert f("memory", "memory.limit_in_bytes") == str(64 << 20)
    assert f("memory", "memory.memsw.limit_in_bytes") == str(96 << 20)
    assert f("memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert f("memory", "memory.kmem.limit_in_bytes") == str(16 << 20)
    assert f("memory", "memory.kmem.tcp.limit_in_bytes") == str(8 << 20)
    assert f("memory", "memory.swappiness") == "10" and f("memory", "memory.oom_control") == "1"
    assert [f("cpu", n) for n in ("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.cfs_burst_us",
                                  "cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.idle")] == \
        ["1024", "50000", "100000", "1000", "1000000", "950000", "0"]
    assert f("cpuset", "cpuset.cpus") == "0" and f("cpuset", "cpuset.mems") == "0"
    for a in ("testdir", "testdir/cgrouptest"):  # each new ancestor took its parent's cpuset
        assert _read(f"{k.root}/cpuset/{a}/cpuset.cpus") == "0-1" and _read(f"{k.root}/cpuset/{a}/cpuset.mems") == "0"
    assert f("blkio", "blkio.weight") == "500" and f("blkio", "blkio.leaf_weight") == "300"
    assert f("blkio", "blkio.weight_device") == "8:0 500" and f("blkio", "blkio.leaf_weight_device") == "8:0 300"
    assert f("blkio", "blkio.throttle.read_bps_device") == "8:0 102400"
    assert f("blkio", "blkio.throttle.write_bps_device") == "8:0 204800"
    assert f("blkio", "blkio.throttle.read_iops_device") == "8:0 300"
    assert f("blkio", "blkio.throttle.write_iops_device") == "8:16 400"
    assert f("hugetlb", "hugetlb.2MB.limit_in_bytes") == str(2 << 30)
    assert f("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes") == str(2 << 30)
    assert f("net_cls,net_prio", "net_cls.classid") == "255"
    assert k.writes("net_prio.ifpriomap") == ["lo 10", "eth0 30"]
    assert k.writes("rdma.max") == ["mlx5_1 hca_handle=3 hca_object=10000", "mlx4_0 hca_object=20"]
    assert f("pids", "pids.max") == "1000"
    assert m.warnings == []
    assert len(m.procs_files(p)) == len(hier)
    m.destroy(p)
    assert all(not os.path.exists(f"{mnt}/{p}") and not os.path.exists(f"{mnt}/testdir/cgrouptest")
               for mnt, _, _ in hier)


def test_v1_hybrid_hugetlb_and_unified_in_the_cgroup2_mount(kernel_v1):
    k, hier, drop = kernel_v1
    drop("hugetlb")
    m = v1.V1Manager(hier)
    m.create("dockyard/c1", {"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 30}]})
    u = f"{k.root}/unified"
    assert _read(f"{u}/dockyard/c1/hugetlb.2MB.max") == str(1 << 30)
    assert _read(f"{u}/dockyard/c1/hugetlb.2MB.rsvd.max") == str(1 << 30)
    assert _read(f"{u}/cgroup.subtree_control") == "hugetlb" == _read(f"{u}/dockyard/cgroup.subtree_control")
    m.apply("dockyard/c1", {"unified": {"hugetlb.2MB.max": "4096"}})
    assert _read(f"{u}/dockyard/c1/hugetlb.2MB.max") == "4096"
    with pytest.raises(InvalidArgument, match="needs cgroup v2.*no memory controller"):
        m.apply("dockyard/c1", {"unified": {"memory.high": "1"}})
    # 1GB pages exist on the machine, but not in this hierarchy
    m.apply("dockyard/c1", {"hugepageLimits": [{"pageSize": "1GB", "limit": 1 << 30}]})
    assert m.warnings == ["Your kernel does not support hugetlb limits for 1GB pages or the cgroup is not "
                          "mounted. Hugepage limit discarded."]
    m.destroy("dockyard/c1")
    assert not os.path.exists(f"{u}/dockyard")


def test_v1_unified_refused_without_cgroup2(kernel_v1):
    _, hier, drop = kernel_v1
    drop("")
    m = v1.V1Manager(hier)
    with pytest.raises(InvalidArgument, match="unified resource 'hugetlb.2MB.max' needs cgroup v2"):
        m.create("c", {"unified": {"hugetlb.2MB.max": "1"}})


def test_v1_memory_and_swap_are_written_in_an_order_the_kernel_takes(kernel_v1):
    k, hier, _ = kernel_v1
    m = v1.V1Manager(hier)
    mem = f"{k.root}/memory/c"

    def refuse(path, value):  # memsw >= limit at every moment
        def num(text):
            return (1 << 62) if text == "-1" else int(text)

        limit, memsw = num(_read(f"{mem}/memory.limit_in_bytes")), num(_read(f"{mem}/memory.memsw.limit_in_bytes"))
        value = num(value)
        if path.endswith("memory.limit_in_bytes") and value > memsw:
            return errno.EINVAL
        if path.endswith("memory.memsw.limit_in_bytes") and value < limit:
            return errno.EINVAL
        return 0

    m.create("c", {"memory": {"limit": 64 << 20, "swap": 128 << 20}})
    k.refuse = refuse
    for limit, swap in ((512 << 20, 1 << 30), (32 << 20, 48 << 20), (1 << 30, -1)):
        m.apply("c", {"memory": {"limit": limit, "swap": swap}})
        assert _read(f"{mem}/memory.limit_in_bytes") == str(limit)
        assert _read(f"{mem}/memory.memsw.limit_in_bytes") == str(swap)
    m.apply("c", {"memory": {"limit": 64 << 20, "swap": 64 << 20}})
    m.apply("c", {"memory": {"limit": -1}})  # unlimited memory takes the swap limit with it
    assert _read(f"{mem}/memory.limit_in_bytes") == "-1" == _read(f"{mem}/memory.memsw.limit_in_bytes")
    with pytest.raises(InvalidArgument, match="memory.memsw.limit_in_bytes"):
        m.apply("c", {"memory": {"limit": 64 << 20, "swap": 32 << 20}})


def test_v1_ignored_or_missing_knobs_warn(kernel_v1):
    k, hier, drop = kernel_v1
    drop("net_cls,net_prio")
    drop("rdma")
    m = v1.V1Manager(hier)
    m.create("c", {})
    for f in ("memory/c/memory.kmem.tcp.limit_in_bytes", "memory/c/memory.swappiness", "cpu/c/cpu.cfs_burst_us",
              "blkio/c/blkio.weight", "blkio/c/blkio.leaf_weight"):
        os.unlink(f"{k.root}/{f}")
    open(f"{k.root}/blkio/c/blkio.bfq.weight", "w").close()
    open(f"{k.root}/blkio/c/blkio.bfq.weight_device", "w").close()
    # kernels since 5.16 take a kmem limit and keep none; BFQ has no weights for a
    # device it does not schedule
    k.keep = lambda path, value: str(1 << 62) if path.endswith("memory.kmem.limit_in_bytes") else value
    k.refuse = lambda path, value: errno.EOPNOTSUPP if path.endswith("bfq.weight_device") else 0
    m.apply("c", {"memory": {"kernel": 1 << 20, "kernelTCP": 1 << 20, "swappiness": 5},
                  "cpu": {"burst": 5, "quota": 1000},
                  "blockIO": {"weight": 200, "leafWeight": 100,
                              "weightDevice": [{"major": 8, "minor": 0, "weight": 300}]},
                  "network": {"classID": 1, "priorities": [{"name": "lo", "priority": 1}]},
                  "rdma": {"mlx5_1": {"hcaHandles": 1}}})
    assert _read(f"{k.root}/blkio/c/blkio.bfq.weight") == "200"  # BFQ's file where CFQ's is gone
    assert _read(f"{k.root}/cpu/c/cpu.cfs_quota_us") == "1000"
    assert [w.split(" or ")[0].split(".")[0] for w in m.warnings] == [
        "Your kernel does not support kernel memory limits",
        "Your kernel does not support kernel TCP memory limits",
        "Your kernel does not support memory swappiness capabilities",
        "Your kernel does not support CPU burst",
        "Your kernel does not support Block I/O leaf weight",
        "Block I/O weight for device 8:0 needs the bfq I/O scheduler on that device",
        "Your kernel does not support net_cls",
        "Your kernel does not support net_prio",
        "Your kernel does not support rdma limits"]


def test_v1_existing_cgroup_with_empty_cpuset_is_filled(kernel_v1):
    k, hier, _ = kernel_v1
    os.makedirs(f"{k.root}/cpuset/pre/c")
    for d in ("pre", "pre/c"):
        for n in ("cpuset.cpus", "cpuset.mems"):
            open(f"{k.root}/cpuset/{d}/{n}", "w").close()
    v1.V1Manager(hier).create("pre/c", {})
    assert _read(f"{k.root}/cpuset/pre/c/cpuset.cpus") == "0-1" == _read(f"{k.root}/cpuset/pre/cpuset.cpus")


def test_make_dirs_makes_again_a_parent_removed_meanwhile(tmp_path, monkeypatch):
    real_mkdir, calls = os.mkdir, []

    def mkdir(path, mode=0o777, *, dir_fd=None):
        calls.append(os.path.relpath(path, tmp_path))
        if calls == ["p", "p/c"]:  # the last other container removes the parent just now
            os.rmdir(tmp_path / "p")
        real_mkdir(path, mode)

    monkeypatch.setattr(os, "mkdir", mkdir)
    assert cgroups.make_dirs(str(tmp_path), "p/c", made=lambda d: None)
    assert calls[-2:] == ["p", "p/c"] and (tmp_path / "p/c").is_dir()
    assert not cgroups.make_dirs(str(tmp_path), "p/c")


def test_v2_stats_freeze_and_pids(fake_v2):
    m = v2.V2Manager(fake_v2)
    m.create("dockyard/s1", {})
    d = f"{fake_v2}/dockyard/s1"
    files = {"cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
             "memory.current": "104857600\n", "memory.max": "max\n",
             "memory.stat": "anon 50000000\nfile 54857600\ninactive_file 4857600\n",
             "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
                        "8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n",
             "pids.current": "3\n", "pids.max": "20\n", "cgroup.procs": "11\n12\n",
             "cgroup.events": "populated 1\nfrozen 1\n", "cgroup.freeze": "0\n"}
    for name, text in files.items():
        with open(f"{d}/{name}", "w") as f:
            f.write(text)
    os.mkdir(f"{d}/sub")  # a cgroup the container made itself
    with open(f"{d}/sub/cgroup.procs", "w") as f:
        f.write("13\n")
    st = m.stats("dockyard/s1")
    assert st["cpu_usage_ns"] == 1_500_000
    assert (st["memory_usage"], st["memory_limit"], st["memory_cache"]) == (104857600, None, 4857600)
    assert (st["blkio_read"], st["blkio_write"]) == (4097, 8194)
    assert (st["pids_current"], st["pids_limit"]) == (3, 20)
    assert m.pids("dockyard/s1") == [11, 12, 13]
    m.freeze("dockyard/s1", True)
    assert _read(f"{d}/cgroup.freeze") == "1" and m.frozen("dockyard/s1")


def test_v1_stats(tmp_path):
    hier = []
    for ctl in ("cpuacct", "memory", "blkio", "pids", "freezer"):
        d = tmp_path / ctl / "dockyard" / "c"
        d.mkdir(parents=True)
        hier.append((str(tmp_path / ctl), "cgroup", f"rw,{ctl}"))
    base = {c: tmp_path / c / "dockyard" / "c" for c in ("cpuacct", "memory", "blkio", "pids", "freezer")}
    (base["cpuacct"] / "cpuacct.usage").write_text("123456789\n")
    (base["memory"] / "memory.usage_in_bytes").write_text("2000000\n")
    (base["memory"] / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (base["memory"] / "memory.stat").write_text("cache 1000\ntotal_inactive_file 500000\n")
    (base["blkio"] / "blkio.throttle.io_service_bytes_recursive").write_text(
        "8:0 Read 100\n8:0 Write 200\n8:0 Sync 300\n8:0 Total 300\nTotal 300\n")
    (base["pids"] / "pids.current").write_text("2\n")
    (base["pids"] / "pids.max").write_text("max\n")
    (base["freezer"] / "freezer.state").write_text("THAWED\n")
    m = v1.V1Manager(hier)
    st = m.stats("dockyard/c")
    assert st["cpu_usage_ns"] == 123456789
    assert (st["memory_usage"], st["memory_limit"], st["memory_cache"]) == (2000000, None, 500000)
    assert (st["blkio_read"], st["blkio_write"]) == (100, 200)
    assert (st["pids_current"], st["pids_limit"]) == (2, None)
    m.freeze("dockyard/c", True)  # a plain file says what was written: FROZEN at once
    assert m.frozen("dockyard/c")
