"""cgroup limits: what the container's own cgroup shows, and what the kernel enforces."""

import os

import pytest

V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def _read(dy, v1: str, v2: str, *flags: str) -> str:
    path = f"/sys/fs/cgroup/{v2}" if V2 else f"/sys/fs/cgroup/{v1}"
    return dy.ok("run", "--rm", *flags, "busybox", "cat", path).strip()


def test_memory_hog_is_oom_killed_with_137(dy):
    p = dy("run", "--name", "hog", "-m", "32m", "busybox", "sh", "-c", "tail /dev/zero")
    assert p.returncode == 137
    assert dy.ok("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog").strip() == "true 137"
    assert "Exited (137)" in dy.ok("ps", "-a")
    dy.ok("rm", "hog")


def test_memory_limits_are_set(dy):
    assert _read(dy, "memory/memory.limit_in_bytes", "memory.max", "-m", "64m") == str(64 << 20)
    if V2:
        assert _read(dy, "", "memory.swap.max", "-m", "64m", "--memory-swap", "96m") == str(32 << 20)
    elif os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):
        assert _read(dy, "memory/memory.memsw.limit_in_bytes", "", "-m", "64m", "--memory-swap", "96m") == str(96 << 20)


def test_fork_bomb_is_contained_by_pids_limit(dy):
    p = dy("run", "--rm", "--pids-limit", "20", "busybox", "sh", "-c",
           "for i in $(seq 1 60); do (sleep 3 &) 2>/dev/null; done; "
           "cat /sys/fs/cgroup/pids/pids.current 2>/dev/null || cat /sys/fs/cgroup/pids.current")
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.split()[-1]) <= 20
    assert _read(dy, "pids/pids.max", "pids.max", "--pids-limit", "20") == "20"


def test_cpus_show_up_as_quota(dy):
    if V2:
        assert _read(dy, "", "cpu.max", "--cpus", "0.5") == "50000 100000"
    else:
        assert _read(dy, "cpu/cpu.cfs_quota_us", "", "--cpus", "0.5") == "50000"
        assert _read(dy, "cpu/cpu.cfs_period_us", "", "--cpus", "0.5") == "100000"


def test_cpu_shares_and_cpuset(dy):
    if V2:
        assert _read(dy, "", "cpu.weight", "--cpu-shares", "512") == "20"
    else:
        assert _read(dy, "cpu/cpu.shares", "", "--cpu-shares", "512") == "512"
    assert _read(dy, "cpuset/cpuset.cpus", "cpuset.cpus", "--cpuset-cpus", "0") == "0"


def test_device_read_bps(dy):
    dev = next((d for d in ("/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/xvda") if os.path.exists(d)), None)
    if dev is None:
        pytest.skip("no block device to limit")
    st = os.stat(dev)
    out = _read(dy, "blkio/blkio.throttle.read_bps_device", "io.max", "--device-read-bps", f"{dev}:1mb")
    assert f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" in out and ("1048576" in out)


@pytest.mark.parametrize("flags,message", [
    (["-m", "1m"], "Minimum memory limit allowed is 6MB"),
    (["--memory-swap", "64m"], "You should always set the Memory limit when using Memoryswap limit"),
    (["-m", "64m", "--memory-swap", "32m"], "Minimum memoryswap limit should be larger than memory limit"),
    (["--cpus", "99"], "Range of CPUs is from 0.01 to"),
    (["--cpuset-cpus", "0-99"], "Requested CPUs are not available"),
    (["--blkio-weight", "5"], "Range of blkio weight is from 10 to 1000"),
    (["-m", "lots"], 'invalid argument "lots" for "-m, --memory" flag'),
    (["--device-read-bps", "/dev/null:1mb"], "is not a block device"),
])
def test_bad_limits_are_refused_before_anything_runs(dy, flags, message):
    before = dy.container_ids()
    p = dy("run", "--rm", *flags, "busybox", "true")
    assert p.returncode == 125 and message in p.stderr and p.stderr.count("\n") == 1
    assert dy.container_ids() == before


def test_limits_in_inspect(dy):
    cid = dy.ok("create", "-m", "64m", "--cpus", "1.5", "--pids-limit", "50", "busybox", "true").strip()
    out = dy.ok("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", cid)
    assert out.split() == [str(64 << 20), "1500000000", "50"]
    dy.ok("rm", cid)


def test_cgroup_v2_layout_end_to_end(dy):
    """On a v1 or hybrid host, a private mount namespace with cgroup2 mounted at
    /sys/fs/cgroup makes Dockyard take its v2 path with the real kernel: the
    container joins its own cgroup, sees a cgroup2 file system rooted there, and
    the cgroup is gone afterwards. (On a v2 host every other test covers this.)"""
    import shutil
    import subprocess

    if V2:
        pytest.skip("the host is cgroup v2: the other tests already run this path")
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1)")
    script = ('mount -t cgroup2 none /sys/fs/cgroup || exit 77; '
              '"$@" run --rm busybox sh -c "cat /proc/self/cgroup; mount | grep cgroup2; ls /sys/fs/cgroup/cgroup.procs"; '
              'echo "exit=$?"; ls /sys/fs/cgroup/dockyard 2>/dev/null | wc -l')
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *dy.cmd], capture_output=True, text=True,
                       env=dy.env, timeout=120)
    if p.returncode == 77:
        pytest.skip("cgroup2 cannot be mounted here")
    out = p.stdout
    assert "0::/\n" in out and "cgroup2 on /sys/fs/cgroup type cgroup2 (ro" in out, p.stderr
    assert "/sys/fs/cgroup/cgroup.procs" in out and "exit=0" in out
    assert out.strip().endswith("0"), out  # the container's cgroup was removed
