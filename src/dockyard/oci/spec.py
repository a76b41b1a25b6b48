"""The OCI runtime spec (config.json) for a container, built from plain values.

The engine writes this into the container's bundle and hands the bundle to a
runtime: Dockyard's native runtime reads the same dict (in memory, without
re-parsing), runc and crun read the file. Keeping both on one document is what
keeps the runtimes interchangeable.

Dockyard-specific knobs that the spec has no field for travel as annotations
(`org.dockyard.*`), as the spec intends.
"""

from __future__ import annotations

OCI_VERSION = "1.0.2"

# Annotations understood by the native runtime.
ANNOTATION_ROOTFS_MOUNT = "org.dockyard.rootfs.mount"  # "type:source:options" mounted at root.path
ANNOTATION_ROOTFS_CHDIR = "org.dockyard.rootfs.chdir"  # relative overlay lowerdirs resolve here
# HostConfig.LogConfig for the monitor's log writer (monitor/logfile.py: open_log)
ANNOTATION_LOG_DRIVER = "org.dockyard.log.driver"  # "none"; absent: json-file
ANNOTATION_LOG_MAX_SIZE = "org.dockyard.log.max-size"  # bytes, -1: no limit
ANNOTATION_LOG_MAX_FILE = "org.dockyard.log.max-file"  # files kept, the current one included

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")

# Docker's defaults: hidden (masked) and read-only parts of /proc and /sys
MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def default_mounts(etc_files: dict[str, str], privileged: bool = False) -> list[dict]:
    """Docker's default mounts; `etc_files` maps /etc/hostname etc. to files in the bundle.
    A privileged container gets /sys and /sys/fs/cgroup writable."""
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["rw" if privileged else "ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
    ]
    for dest, src in etc_files.items():
        mounts.append({"destination": dest, "type": "bind", "source": src,
                       "options": ["rbind", "rprivate"]})
    return mounts


def resources(*, memory: int = 0, memory_swap: int = 0, nano_cpus: int = 0,
              cpu_shares: int = 0, cpu_period: int = 0, cpu_quota: int = 0,
              cpuset_cpus: str = "", cpuset_mems: str = "", pids_limit: int = 0,
              blkio_weight: int = 0, read_bps: list[tuple[int, int, int]] = (),
              write_bps: list[tuple[int, int, int]] = ()) -> dict:
    """linux.resources from Docker's HostConfig values (0 / empty = not set).

    `memory_swap` is Docker's memory+swap total (-1 unlimited); `nano_cpus` becomes a
    CFS quota over a 100 ms period, as Docker converts `--cpus`.
    """
    r: dict = {}
    mem: dict = {}
    if memory > 0:
        mem["limit"] = memory
        if memory_swap == 0:
            mem["swap"] = memory * 2  # Docker's default: as much swap as memory
        else:
            mem["swap"] = memory_swap  # -1: unlimited
    if mem:
        r["memory"] = mem
    cpu: dict = {}
    if cpu_shares:
        cpu["shares"] = cpu_shares
    if nano_cpus:
        cpu["period"] = 100000
        cpu["quota"] = nano_cpus * 100000 // 1_000_000_000
    else:
        if cpu_period:
            cpu["period"] = cpu_period
        if cpu_quota:
            cpu["quota"] = cpu_quota
    if cpuset_cpus:
        cpu["cpus"] = cpuset_cpus
    if cpuset_mems:
        cpu["mems"] = cpuset_mems
    if cpu:
        r["cpu"] = cpu
    if pids_limit:
        r["pids"] = {"limit": pids_limit if pids_limit > 0 else -1}
    blk: dict = {}
    if blkio_weight:
        blk["weight"] = blkio_weight
    if read_bps:
        blk["throttleReadBpsDevice"] = [{"major": a, "minor": b, "rate": c} for a, b, c in read_bps]
    if write_bps:
        blk["throttleWriteBpsDevice"] = [{"major": a, "minor": b, "rate": c} for a, b, c in write_bps]
    if blk:
        r["blockIO"] = blk
    return r


def runtime_spec(*, args: list[str], env: list[str], cwd: str, uid: int, gid: int,
                 additional_gids: list[int], hostname: str, rootfs: str,
                 mounts: list[dict], cgroups_path: str, resources: dict,
                 readonly: bool = False, terminal: bool = False,
                 annotations: dict[str, str] | None = None, capabilities: list[str] | None = None,
                 no_new_privileges: bool = False, rlimits: list[dict] | None = None,
                 seccomp: dict | None = None, masked_paths: tuple[str, ...] = (),
                 readonly_paths: tuple[str, ...] = (), devices: list[dict] | None = None,
                 sysctl: dict[str, str] | None = None,
                 id_mappings: tuple[list[dict], list[dict]] | None = None) -> dict:
    """The whole config.json for one container."""
    user: dict = {"uid": uid, "gid": gid}
    if additional_gids:
        user["additionalGids"] = additional_gids
    spec = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": user,
            "args": args,
            "env": env,
            "cwd": cwd,
            "noNewPrivileges": no_new_privileges,
        },
        "root": {"path": rootfs, "readonly": readonly},
        "hostname": hostname,
        "mounts": mounts,
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": resources,
            "namespaces": [{"type": t} for t in NAMESPACES],
        },
    }
    if capabilities is not None:
        spec["process"]["capabilities"] = {
            "bounding": list(capabilities), "effective": list(capabilities),
            "permitted": list(capabilities),
            # inheritable and ambient stay empty (Docker since CVE-2022-24769): a
            # non-root user, or a program exec'd by root, gets no capabilities by inheritance
            "inheritable": [], "ambient": [],
        }
    if rlimits:
        spec["process"]["rlimits"] = rlimits
    linux = spec["linux"]
    if seccomp is not None:
        linux["seccomp"] = seccomp
    if masked_paths:
        linux["maskedPaths"] = list(masked_paths)
    if readonly_paths:
        linux["readonlyPaths"] = list(readonly_paths)
    if devices:
        linux["devices"] = devices
    if sysctl:
        linux["sysctl"] = sysctl
    if id_mappings:
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"], linux["gidMappings"] = id_mappings
    if annotations:
        spec["annotations"] = annotations
    return spec
