"""`run`, `create` and `start`: the commands on the hot path, so this module imports
only what they need."""

from __future__ import annotations

import os
import sys

from ..flags import Command, Flag, UsageError, parse

CREATE_FLAGS = [
    Flag("--name", "str", "Assign a name to the container"),
    Flag("-e, --env", "list", "Set environment variables"),
    Flag("--env-file", "list", "Read in a file of environment variables"),
    Flag("-w, --workdir", "str", "Working directory inside the container"),
    Flag("-u, --user", "str", "Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("--entrypoint", "str", "Overwrite the default ENTRYPOINT of the image"),
    Flag("-i, --interactive", "bool", "Keep STDIN open even if not attached"),
    Flag("-t, --tty", "bool", "Allocate a pseudo-TTY"),
    Flag("-h, --hostname", "str", "Container host name"),
    Flag("--rm", "bool", "Automatically remove the container and its associated anonymous volumes when it exits"),
    Flag("-l, --label", "list", "Set meta data on a container"),
    Flag("--stop-signal", "str", "Signal to stop the container"),
    Flag("--runtime", "str", "Runtime to use for this container (native, runc, crun)"),
    Flag("--pull", "str", 'Pull image before running ("always", "missing", "never")', default="missing"),
    Flag("--cap-add", "list", "Add Linux capabilities"),
    Flag("--cap-drop", "list", "Drop Linux capabilities"),
    Flag("--privileged", "bool", "Give extended privileges to this container"),
    Flag("--security-opt", "list", "Security Options"),
    Flag("--read-only", "bool", "Mount the container's root filesystem as read only"),
    Flag("--tmpfs", "list", "Mount a tmpfs directory"),
    Flag("--group-add", "list", "Add additional groups to join"),
    Flag("--ulimit", "list", "Ulimit options"),
    Flag("--device", "list", "Add a host device to the container"),
    Flag("--sysctl", "list", "Sysctl options"),
    Flag("--userns", "str", "User namespace to use (host, auto)"),
    Flag("--userns-remap", "str", "Map root to the subordinate ids of USER[:GROUP] in /etc/subuid and /etc/subgid"),
    Flag("--platform", "str", "Set platform if server is multi-platform capable"),
    Flag("-m, --memory", "str", "Memory limit", metavar="bytes"),
    Flag("--memory-swap", "str", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", metavar="bytes"),
    Flag("--cpus", "str", "Number of CPUs", metavar="decimal"),
    Flag("-c, --cpu-shares", "int", "CPU shares (relative weight)"),
    Flag("--cpu-period", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
    Flag("--cpu-quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    Flag("--cpuset-cpus", "str", "CPUs in which to allow execution (0-3, 0,1)"),
    Flag("--cpuset-mems", "str", "MEMs in which to allow execution (0-3, 0,1)"),
    Flag("--pids-limit", "int", "Tune container pids limit (set -1 for unlimited)"),
    Flag("--blkio-weight", "int", "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)", metavar="uint16"),
    Flag("--device-read-bps", "list", "Limit read rate (bytes per second) from a device"),
    Flag("--device-write-bps", "list", "Limit write rate (bytes per second) to a device"),
    Flag("--health-cmd", "str", "Command to run to check health"),
    Flag("--health-interval", "str", "Time between running the check (ms|s|m|h) (default 0s)", metavar="duration"),
    Flag("--health-retries", "int", "Consecutive failures needed to report unhealthy"),
    Flag("--health-start-interval", "str", "Time between running the check during the start period (ms|s|m|h) (default 0s)", metavar="duration"),
    Flag("--health-start-period", "str", "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)", metavar="duration"),
    Flag("--health-timeout", "str", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)", metavar="duration"),
    Flag("--no-healthcheck", "bool", "Disable any container-specified HEALTHCHECK"),
    Flag("--init", "bool", "Run an init inside the container that forwards signals and reaps processes"),
    Flag("--log-driver", "str", "Logging driver for the container (json-file, none)"),
    Flag("--log-opt", "list", "Log driver options"),
    Flag("--restart", "str", "Restart policy to apply when a container exits", default="no"),
]

RUN = Command("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image",
              [Flag("-d, --detach", "bool", "Run container in background and print container ID"),
               Flag("--detach-keys", "str", "Override the key sequence for detaching a container"),
               Flag("--sig-proxy", "bool", "Proxy received signals to the process", default=True),
               *CREATE_FLAGS],
              interspersed=False, min_args=1, aliases=("container run",))
CREATE = Command("create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", CREATE_FLAGS,
                 interspersed=False, min_args=1, aliases=("container create",))
START = Command("start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers",
                [Flag("-a, --attach", "bool", "Attach STDOUT/STDERR and forward signals"),
                 Flag("--detach-keys", "str", "Override the key sequence for detaching a container"),
                 Flag("-i, --interactive", "bool", "Attach container's STDIN")],
                min_args=1, aliases=("container start",))


def _size(value: str | None, flag: str, cmd: str, allow_minus_one: bool = False) -> int:
    if not value:
        return 0
    if allow_minus_one and value.strip() == "-1":
        return -1
    from ...core.units import parse_size

    try:
        return parse_size(value)
    except ValueError as e:
        raise UsageError(f'invalid argument "{value}" for "{flag}" flag: {e}', cmd) from None


def _device_rates(values: list[str] | None, flag: str, cmd: str) -> list[tuple[str, int]]:
    out = []
    for v in values or []:
        path, sep, rate = v.rpartition(":")
        if not sep or not path:
            raise UsageError(f'invalid argument "{v}" for "{flag}" flag: bad format: {v}', cmd)
        out.append((path, _size(rate, flag, cmd)))
    return out


def _options(o: dict, cmd: str):
    from ...services.options import CreateOptions, Resources, parse_env_file

    env: list[str] = []
    for path in o["env_file"] or []:
        env += parse_env_file(path)
    for e in o["env"] or []:
        if "=" in e:
            env.append(e)
        elif e in os.environ:  # `-e NAME`: the value of NAME here, as Docker does
            env.append(f"{e}={os.environ[e]}")
    nano = 0
    if o["cpus"]:
        from ...core.units import parse_cpus

        try:
            nano = parse_cpus(o["cpus"])
        except ValueError as e:
            raise UsageError(str(e), cmd) from None
    labels = {}
    for item in o["label"] or []:
        k, _, v = item.partition("=")
        labels[k] = v
    tmpfs = {}
    for item in o["tmpfs"] or []:
        dest, _, topts = item.partition(":")
        tmpfs[dest] = topts
    sysctls = {}
    for item in o["sysctl"] or []:
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise UsageError(f'invalid argument "{item}" for "--sysctl" flag: sysctl must be in the format KEY=VALUE', cmd)
        sysctls[k] = v
    userns = o["userns"] or ""
    if o["userns_remap"]:
        userns = "remap:" + o["userns_remap"]
    res = Resources(
        memory=_size(o["memory"], "-m, --memory", cmd),
        memory_swap=_size(o["memory_swap"], "--memory-swap", cmd, allow_minus_one=True),
        nano_cpus=nano, cpu_shares=o["cpu_shares"] or 0, cpu_period=o["cpu_period"] or 0,
        cpu_quota=o["cpu_quota"] or 0, cpuset_cpus=o["cpuset_cpus"] or "",
        cpuset_mems=o["cpuset_mems"] or "", pids_limit=o["pids_limit"] or 0,
        blkio_weight=o["blkio_weight"] or 0,
        device_read_bps=_device_rates(o["device_read_bps"], "--device-read-bps", cmd),
        device_write_bps=_device_rates(o["device_write_bps"], "--device-write-bps", cmd))
    return CreateOptions(
        name=o["name"], entrypoint=o["entrypoint"], env=env, workdir=o["workdir"], user=o["user"],
        hostname=o["hostname"], auto_remove=o["rm"], interactive=o["interactive"], tty=o["tty"],
        resources=res, runtime=o["runtime"] or "native", labels=labels, stop_signal=o["stop_signal"],
        pull=o["pull"], platform=o["platform"], cap_add=o["cap_add"], cap_drop=o["cap_drop"],
        privileged=o["privileged"], security_opt=o["security_opt"], read_only=o["read_only"],
        tmpfs=tmpfs, group_add=o["group_add"], ulimits=o["ulimit"], devices=o["device"],
        sysctls=sysctls, userns=userns, healthcheck=_healthcheck(o, cmd), init=o["init"] or None,
        log_driver=o["log_driver"] or "", log_opts=_log_opts(o["log_opt"], cmd),
        restart=o["restart"] or "no")


def _healthcheck(o: dict, cmd: str) -> dict | None:
    """Docker's HealthConfig from the --health-* flags (None: the image's applies)."""
    if not any(o[k] is not None and o[k] is not False for k in (
            "health_cmd", "health_interval", "health_timeout", "health_start_period",
            "health_start_interval", "health_retries", "no_healthcheck")):
        return None  # the common case: nothing more to import on the hot path
    from ...core.durations import parse_duration

    hc: dict = {}
    for key, flag in (("Interval", "health-interval"), ("Timeout", "health-timeout"),
                      ("StartPeriod", "health-start-period"), ("StartInterval", "health-start-interval")):
        text = o[flag.replace("-", "_")]
        if text is None:
            continue
        try:
            ns = parse_duration(text)
        except ValueError as e:
            raise UsageError(f'invalid argument "{text}" for "--{flag}" flag: {e}', cmd) from None
        if ns < 0:
            raise UsageError(f"--{flag} cannot be negative", cmd)
        if ns:
            hc[key] = ns
    if o["health_retries"]:
        if o["health_retries"] < 0:
            raise UsageError("--health-retries cannot be negative", cmd)
        hc["Retries"] = o["health_retries"]
    if o["health_cmd"]:
        hc = {"Test": ["CMD-SHELL", o["health_cmd"]], **hc}
    if o["no_healthcheck"]:
        if hc:
            raise UsageError("--no-healthcheck conflicts with --health-* options", cmd)
        return {"Test": ["NONE"]}
    return hc or None


def _log_opts(values: list[str] | None, cmd: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise UsageError(f'invalid argument "{item}" for "--log-opt" flag: invalid key value pair format: {item}', cmd)
        out[k] = v
    return out


def _progress():
    """Where `run`/`create` report an image they must fetch: stderr, as Docker does."""
    from ..progress import for_stream

    return for_stream(sys.stderr)


def _warnings(engine) -> None:
    for w in engine.warnings:
        sys.stderr.write(f"WARNING: {w}\n")
    engine.warnings.clear()


# what `--sig-proxy` passes on: every signal a process may catch, but those that are
# about this process itself (a child, a pipe, the window, stop/continue of the CLI)
_NOT_PROXIED = ("SIGCHLD", "SIGPIPE", "SIGWINCH", "SIGURG", "SIGKILL", "SIGSTOP", "SIGCONT",
                "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTTIN", "SIGTTOU", "SIGTSTP")


def proxied_signals() -> list[int]:
    import _signal

    skip = {getattr(_signal, n) for n in _NOT_PROXIED if hasattr(_signal, n)}
    return [s for s in range(1, _signal.NSIG) if s not in skip and s not in (32, 33)]  # glibc's own RT signals


class _SignalProxy:
    """`run`/`start -a` without -t: signals to us go to the container, as Docker does
    (all it may catch but those about this process itself: attach.proxied_signals).
    Installed before the start, so a signal sent the moment the container prints its
    first line is not lost: until the process is known, signals wait (but Ctrl-C,
    which still stops `run` itself, as during a pull)."""

    def __init__(self) -> None:
        import _signal

        self.pidfd = -1
        self.pending: list[int] = []
        self.saved = {}
        for s in proxied_signals():
            try:
                self.saved[s] = _signal.signal(s, self._caught)
            except (OSError, ValueError, RuntimeError):
                pass

    def _caught(self, signum, frame) -> None:
        import _signal

        if self.pidfd >= 0:
            try:
                _signal.pidfd_send_signal(self.pidfd, signum)
            except OSError:
                pass
        elif signum == _signal.SIGINT:
            raise KeyboardInterrupt
        else:
            self.pending.append(signum)

    def forward_to(self, pid: int) -> None:
        try:
            self.pidfd = os.pidfd_open(pid)  # never a later process that reuses the pid
        except OSError:
            return
        pending, self.pending = self.pending, []
        for s in pending:
            self._caught(s, None)

    def cancel(self) -> None:
        """Nothing started: our own dispositions back, and what came meanwhile acts on us."""
        import _signal

        for s, h in self.saved.items():
            try:
                _signal.signal(s, h)
            except (OSError, ValueError, RuntimeError):
                pass
        pending, self.pending = self.pending, []
        for s in pending:
            os.kill(os.getpid(), s)


def _terminal_session(handle, *, stdin: bool, keys: bytes) -> int:
    """`run -t` / `start -a` of a terminal container: the session over the monitor's
    socket; its exit code, or 0 when the user detached (the container runs on)."""
    from .attach import stream

    ended = stream(handle.conn, stdin=stdin, tty=True, keys=keys, sig_proxy=False)
    if ended.detached or ended.signum:
        handle.close()
        return 0 if ended.detached else 128 + ended.signum
    return handle.wait()


def _not_a_tty(tty: bool, stdin: bool) -> bool:
    """Docker refuses -it when our stdin is not a terminal (plain -t is allowed)."""
    if tty and stdin and not os.isatty(0):
        from .attach import NOT_A_TTY

        sys.stderr.write(NOT_A_TTY + "\n")
        return True
    return False


def run(ctx, argv: list[str]) -> int:
    o, args = parse(RUN, argv)
    if o["help"]:
        sys.stdout.write(RUN.help_text())
        return 0
    from ...services.start import run as run_container

    opts = _options(o, "run")
    attached_stdin = o["interactive"] and not o["detach"]
    keys = b""
    size = None
    if opts.tty and not o["detach"]:
        if _not_a_tty(True, attached_stdin):
            return 1
        from ..terminal import size as terminal_size
        from .attach import detach_keys

        keys = detach_keys(o["detach_keys"])
        size = terminal_size(1) or terminal_size(0)
    engine = ctx.engine()
    sys.stdout.flush()
    proxy = _SignalProxy() if o["sig_proxy"] and not o["detach"] and not opts.tty else None
    try:
        cid, handle = run_container(engine, args[0], args[1:], opts, detach=o["detach"],
                                    stdin=0 if attached_stdin else None, progress=_progress(),
                                    console_size=size)
    except BaseException:
        if proxy is not None:
            proxy.cancel()
        raise
    _warnings(engine)
    if handle is None:
        print(cid)
        return 0
    if handle.conn is not None:
        return _terminal_session(handle, stdin=attached_stdin, keys=keys)
    if proxy is not None:
        proxy.forward_to(handle.pid)
    return handle.wait()


def create(ctx, argv: list[str]) -> int:
    o, args = parse(CREATE, argv)
    if o["help"]:
        sys.stdout.write(CREATE.help_text())
        return 0
    engine = ctx.engine()
    c = engine.create(args[0], args[1:], _options(o, "create"), progress=_progress())
    print(c.id)
    return 0


def start(ctx, argv: list[str]) -> int:
    o, args = parse(START, argv)
    if o["help"]:
        sys.stdout.write(START.help_text())
        return 0
    engine = ctx.engine()
    if o["attach"] or o["interactive"]:
        if len(args) > 1:
            raise UsageError("you cannot start and attach multiple containers at once", "start")
        c = engine.container(args[0])
        tty = bool((c.config.get("Config") or {}).get("Tty"))
        keys = b""
        size = None
        if tty:
            if _not_a_tty(True, o["interactive"]):
                return 1
            from ..terminal import size as terminal_size
            from .attach import detach_keys

            keys = detach_keys(o["detach_keys"])
            size = terminal_size(1) or terminal_size(0)
        sys.stdout.flush()
        proxy = None if tty else _SignalProxy()
        try:
            handle = engine.start(args[0], attach=True, stdout=1, stderr=2,
                                  stdin=0 if o["interactive"] else None, console_size=size)
        except BaseException:
            if proxy is not None:
                proxy.cancel()
            raise
        _warnings(engine)
        if handle is None:
            if proxy is not None:
                proxy.cancel()
            return 0
        if handle.conn is not None:
            return _terminal_session(handle, stdin=bool(o["interactive"]), keys=keys)
        proxy.forward_to(handle.pid)
        return handle.wait()
    from ...errors import DockyardError

    failed = 0
    for ref in args:
        try:
            engine.start(ref)
            _warnings(engine)
            print(ref)
            sys.stdout.flush()
        except DockyardError as e:
            sys.stderr.write(f"Error: {e.message}\n")
            failed += 1
    return 1 if failed else 0
