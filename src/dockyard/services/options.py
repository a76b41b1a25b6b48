"""What a caller may ask of a new container, checked the way Docker checks it.

`CreateOptions` is the argument bundle of Engine.create / Engine.run; `Resources`
holds the cgroup limits. Both validate eagerly, so a bad value fails before
anything is written to the store. Values use Docker's units: bytes, nano-CPUs,
and (path, bytes per second) pairs for device limits.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024


class Resources:
    """cgroup limits, as Docker's HostConfig names them (0 / "" / [] = unset)."""

    __slots__ = ("memory", "memory_swap", "nano_cpus", "cpu_shares", "cpu_period", "cpu_quota",
                 "cpuset_cpus", "cpuset_mems", "pids_limit", "blkio_weight",
                 "device_read_bps", "device_write_bps")

    def __init__(self, *, memory: int = 0, memory_swap: int = 0, nano_cpus: int = 0,
                 cpu_shares: int = 0, cpu_period: int = 0, cpu_quota: int = 0,
                 cpuset_cpus: str = "", cpuset_mems: str = "", pids_limit: int = 0,
                 blkio_weight: int = 0, device_read_bps: list[tuple[str, int]] | None = None,
                 device_write_bps: list[tuple[str, int]] | None = None) -> None:
        self.memory = memory
        self.memory_swap = memory_swap
        self.nano_cpus = nano_cpus
        self.cpu_shares = cpu_shares
        self.cpu_period = cpu_period
        self.cpu_quota = cpu_quota
        self.cpuset_cpus = cpuset_cpus
        self.cpuset_mems = cpuset_mems
        self.pids_limit = pids_limit
        self.blkio_weight = blkio_weight
        self.device_read_bps = list(device_read_bps or [])
        self.device_write_bps = list(device_write_bps or [])

    def validate(self) -> None:
        if self.memory and self.memory < MIN_MEMORY:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        if self.memory_swap and self.memory_swap != -1:
            if not self.memory:
                raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
            if self.memory_swap < self.memory:
                raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
        if self.nano_cpus:
            ncpu = os.cpu_count() or 1
            if self.nano_cpus < 10_000_000 or self.nano_cpus > ncpu * 1_000_000_000:
                raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
            if self.cpu_period or self.cpu_quota:
                raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set")
        if self.cpu_shares < 0:
            raise InvalidArgument("invalid CPU shares: must be positive")
        if self.cpu_shares and not 2 <= self.cpu_shares <= 262144:
            self.cpu_shares = min(max(self.cpu_shares, 2), 262144)  # the kernel clamps; so does Docker
        if self.cpuset_cpus:
            _check_cpuset(self.cpuset_cpus, "/sys/devices/system/cpu/online", "CPUs")
        if self.cpuset_mems:
            _check_cpuset(self.cpuset_mems, "/sys/devices/system/node/online", "memory nodes")
        if self.blkio_weight and not 10 <= self.blkio_weight <= 1000:
            raise InvalidArgument("Range of blkio weight is from 10 to 1000")
        for flag, devs in (("--device-read-bps", self.device_read_bps), ("--device-write-bps", self.device_write_bps)):
            for path, rate in devs:
                device_numbers(path, flag)
                if rate < 0:
                    raise InvalidArgument(f"invalid rate for {flag}: {rate}")

    def to_host_config(self) -> dict:
        return {
            "Memory": self.memory, "MemorySwap": self.memory_swap, "NanoCpus": self.nano_cpus,
            "CpuShares": self.cpu_shares, "CpuPeriod": self.cpu_period, "CpuQuota": self.cpu_quota,
            "CpusetCpus": self.cpuset_cpus, "CpusetMems": self.cpuset_mems,
            "PidsLimit": self.pids_limit or None, "BlkioWeight": self.blkio_weight,
            "BlkioDeviceReadBps": [{"Path": p, "Rate": r} for p, r in self.device_read_bps],
            "BlkioDeviceWriteBps": [{"Path": p, "Rate": r} for p, r in self.device_write_bps],
        }

    @classmethod
    def from_host_config(cls, hc: dict) -> "Resources":
        return cls(memory=hc.get("Memory") or 0, memory_swap=hc.get("MemorySwap") or 0,
                   nano_cpus=hc.get("NanoCpus") or 0, cpu_shares=hc.get("CpuShares") or 0,
                   cpu_period=hc.get("CpuPeriod") or 0, cpu_quota=hc.get("CpuQuota") or 0,
                   cpuset_cpus=hc.get("CpusetCpus") or "", cpuset_mems=hc.get("CpusetMems") or "",
                   pids_limit=hc.get("PidsLimit") or 0, blkio_weight=hc.get("BlkioWeight") or 0,
                   device_read_bps=[(d["Path"], d["Rate"]) for d in hc.get("BlkioDeviceReadBps") or []],
                   device_write_bps=[(d["Path"], d["Rate"]) for d in hc.get("BlkioDeviceWriteBps") or []])

    def to_oci(self) -> dict:
        from ..oci.spec import resources

        return resources(
            memory=self.memory, memory_swap=self.memory_swap, nano_cpus=self.nano_cpus,
            cpu_shares=self.cpu_shares, cpu_period=self.cpu_period, cpu_quota=self.cpu_quota,
            cpuset_cpus=self.cpuset_cpus, cpuset_mems=self.cpuset_mems, pids_limit=self.pids_limit,
            blkio_weight=self.blkio_weight,
            read_bps=[(*device_numbers(p, "--device-read-bps"), r) for p, r in self.device_read_bps],
            write_bps=[(*device_numbers(p, "--device-write-bps"), r) for p, r in self.device_write_bps])


def parse_cpuset(text: str) -> set[int]:
    """`0-2,4` -> {0, 1, 2, 4}."""
    out: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise InvalidArgument(f"invalid format: {text}")
        a, b = int(lo), int(hi) if dash else int(lo)
        if b < a:
            raise InvalidArgument(f"invalid range format: {part}")
        out.update(range(a, b + 1))
    return out


def _check_cpuset(value: str, online_file: str, what: str) -> None:
    wanted = parse_cpuset(value)
    try:
        with open(online_file) as f:
            online_text = f.read().strip()
        online = parse_cpuset(online_text)
    except OSError:
        return
    if not wanted <= online:
        if what == "CPUs":
            raise InvalidArgument(f"Requested CPUs are not available - requested {value}, available: {online_text}")
        raise InvalidArgument(f"Requested memory nodes are not available - requested {value}, available: {online_text}")


def device_numbers(path: str, flag: str) -> tuple[int, int]:
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidArgument(f"invalid argument for {flag}: {path}: {e.strerror}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidArgument(f"invalid argument for {flag}: {path} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


class CreateOptions:
    """Everything `create`/`run` accept beyond the image and command."""

    __slots__ = ("name", "entrypoint", "env", "workdir", "user", "hostname", "auto_remove",
                 "interactive", "tty", "resources", "runtime", "labels", "stop_signal", "pull", "platform",
                 "cap_add", "cap_drop", "privileged", "security_opt", "read_only", "tmpfs", "group_add",
                 "ulimits", "devices", "sysctls", "userns",
                 "healthcheck", "init", "log_driver", "log_opts", "restart", "detach")

    def __init__(self, *, name: str | None = None, entrypoint: str | None = None,
                 env: list[str] | None = None, workdir: str | None = None, user: str | None = None,
                 hostname: str | None = None, auto_remove: bool = False, interactive: bool = False,
                 tty: bool = False, resources: Resources | None = None, runtime: str = "native",
                 labels: dict[str, str] | None = None, stop_signal: str | None = None,
                 pull: str = "missing", platform: str | None = None,
                 cap_add: list[str] | None = None, cap_drop: list[str] | None = None,
                 privileged: bool = False, security_opt: list[str] | None = None,
                 read_only: bool = False, tmpfs: dict[str, str] | None = None,
                 group_add: list[str] | None = None, ulimits: list[str] | None = None,
                 devices: list[str] | None = None, sysctls: dict[str, str] | None = None,
                 userns: str = "", healthcheck: dict | None = None, init: bool | None = None,
                 log_driver: str = "", log_opts: dict[str, str] | None = None,
                 restart: str = "no", detach: bool = False) -> None:
        self.name = name
        self.entrypoint = entrypoint
        self.env = list(env or [])
        self.workdir = workdir
        self.user = user
        self.hostname = hostname
        self.auto_remove = auto_remove
        self.interactive = interactive
        self.tty = tty
        # `run -d`: nothing attaches at the start, so Config says AttachStdin/Stdout/Stderr
        # and StdinOnce false, as the docker CLI sends them (stdin stays open for `attach`)
        self.detach = detach
        self.resources = resources or Resources()
        self.runtime = runtime or "native"
        self.labels = dict(labels or {})
        self.stop_signal = stop_signal
        self.pull = pull
        self.platform = platform
        self.cap_add = list(cap_add or [])
        self.cap_drop = list(cap_drop or [])
        self.privileged = privileged
        self.security_opt = list(security_opt or [])
        self.read_only = read_only
        self.tmpfs = dict(tmpfs or {})
        self.group_add = list(group_add or [])
        self.ulimits = list(ulimits or [])
        self.devices = list(devices or [])
        self.sysctls = dict(sysctls or {})
        self.userns = userns or ""
        # Docker's HealthConfig (durations in ns); None: the image's HEALTHCHECK applies
        self.healthcheck = dict(healthcheck) if healthcheck is not None else None
        self.init = init  # --init: a tiny init as PID 1 (None: not asked for)
        self.log_driver = log_driver or ""  # "": json-file
        self.log_opts = dict(log_opts or {})
        self.restart = restart or "no"  # --restart: no | on-failure[:N] | always | unless-stopped

    def validate(self) -> None:
        from ..core.ids import valid_name

        if self.name is not None:
            self.name = self.name[1:] if self.name.startswith("/") else self.name
            if not valid_name(self.name):
                raise InvalidArgument(
                    f'Invalid container name ({self.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
        for e in self.env:
            if not e or e.startswith("="):
                raise InvalidArgument(f"invalid environment variable: {e!r}")
            if "\0" in e:
                raise InvalidArgument("environment variables may not contain NUL bytes")
        if self.workdir is not None and self.workdir and not self.workdir.startswith("/"):
            raise InvalidArgument(f"the working directory '{self.workdir}' is invalid, it needs to be an absolute path")
        if self.hostname is not None and self.hostname:
            if len(self.hostname) > 64 or not all(c.isascii() and (c.isalnum() or c in "-.") for c in self.hostname):
                raise InvalidArgument(f"invalid hostname format: {self.hostname}")
        if self.pull not in ("missing", "always", "never"):
            raise InvalidArgument(f'invalid pull option: "{self.pull}": must be one of "missing", "always", or "never"')
        from ..oci.capabilities import normalize

        for c in (*self.cap_add, *self.cap_drop):
            normalize(c)
        if self.userns not in ("", "host") and not self.userns.startswith(("auto", "remap:")):
            raise InvalidArgument(f"invalid --userns: {self.userns!r} (host, auto, or use --userns-remap)")
        name, _ = self.restart_policy()
        if self.auto_remove and name != "no":
            raise InvalidArgument("Conflicting options: --restart and --rm")
        self.resources.validate()
        if self.healthcheck is not None:
            validate_healthcheck(self.healthcheck)
        log_config(self.log_driver, self.log_opts)


    def restart_policy(self) -> tuple[str, int]:
        """(Name, MaximumRetryCount) of --restart, checked as Docker checks it."""
        if self.restart == "no":
            return "no", 0  # the common case, without an import on `run`'s path
        from ..monitor.restart import PolicyError, parse

        try:
            return parse(self.restart)
        except PolicyError as e:
            raise InvalidArgument(str(e)) from None


HEALTH_KEYS = ("Interval", "Timeout", "StartPeriod", "StartInterval")
MIN_DURATION = 1_000_000  # 1ms: Docker's container.MinimumDuration


def validate_healthcheck(hc: dict) -> None:
    """Docker's checks of a HealthConfig (Test, durations in ns, Retries)."""
    test = hc.get("Test") or []
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise InvalidArgument(f"invalid healthcheck type {test[0]!r}: must be NONE, CMD or CMD-SHELL")
    if test and test[0] == "CMD-SHELL" and len(test) != 2:
        raise InvalidArgument("a CMD-SHELL healthcheck takes exactly one command string")
    if test and test[0] == "CMD" and len(test) < 2:
        raise InvalidArgument("a CMD healthcheck needs a command")
    for key in HEALTH_KEYS:
        v = hc.get(key) or 0
        if v and v < MIN_DURATION:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    if (hc.get("Retries") or 0) < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")


LOG_DRIVERS = ("json-file", "none")
# what json-file keeps when the caller does not say: Docker's `local` driver's limits
# (20 MB x 5 files), so a chatty container cannot fill the disk
DEFAULT_LOG_OPTS = {"max-size": "20m", "max-file": "5"}


def log_config(driver: str, opts: dict[str, str]) -> dict:
    """HostConfig.LogConfig for `--log-driver` and `--log-opt`s, checked as Docker
    checks them, with the rotation defaults filled in."""
    driver = driver or "json-file"
    if driver not in LOG_DRIVERS:
        raise InvalidArgument(f"logger: no log driver named '{driver}' is registered")
    if driver == "none":
        return {"Type": "none", "Config": dict(opts)}
    for key in opts:
        if key not in ("max-size", "max-file"):
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")
    config = {**DEFAULT_LOG_OPTS, **opts}
    log_limits(config)
    return {"Type": driver, "Config": config}


def log_limits(config: dict[str, str]) -> tuple[int, int]:
    """(max-size in bytes, -1 = unlimited; max-file) of a json-file LogConfig.Config."""
    if config == DEFAULT_LOG_OPTS:
        return 20 * 1024 * 1024, 5  # the common case: no parsing, no import on the hot path
    from ..core.units import parse_size

    size_text = config.get("max-size") or "-1"
    try:
        max_size = -1 if size_text.strip() == "-1" else parse_size(size_text)
    except ValueError as e:
        raise InvalidArgument(f"invalid max-size {size_text!r}: {e}") from None
    if max_size == 0:
        raise InvalidArgument("max-size must be a positive size (or -1 for no limit)")
    file_text = config.get("max-file") or "1"
    try:
        max_file = int(file_text)
    except ValueError:
        raise InvalidArgument(f'strconv.Atoi: parsing "{file_text}": invalid syntax') from None
    if max_file < 1:
        raise InvalidArgument("max-file cannot be less than 1")
    return max_size, max_file


def parse_env_file(path: str) -> list[str]:
    """Docker's --env-file: KEY=VALUE lines, `#` comments, a bare KEY takes the
    caller's value (and is dropped when unset)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InvalidArgument(f"open {path}: {e.strerror}") from None
    out = []
    for n, raw in enumerate(lines, 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not key or any(c.isspace() for c in key):
            raise InvalidArgument(f"{path}:{n}: variable '{key}' contains whitespaces")
        if eq:
            out.append(f"{key}={value}")
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out
