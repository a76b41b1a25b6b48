"""Shared helpers for the Dockyard benchmark scripts in this directory.

The scripts measure Dockyard side by side with its peers (podman+crun and
docker = dockerd+containerd+runc), interleaved in one process, so that the
machine's load at any moment weighs on every engine alike.  This module holds
what they share:

* locating the engines and describing how each one is invoked
  (:class:`Engine`, :func:`select_engines`);
* the re-exec into the private namespace that the peers' setup script
  prepares for crun/podman (:func:`enter_peers_namespace`);
* a private Dockyard store for benchmarks, with the busybox image imported
  into it (:func:`prepare_dockyard_store`);
* the timing loop: warm-up runs (a failed first run skips that engine, with
  the reason) and round-robin measured runs (:func:`warm_up`,
  :func:`measure_round_robin`);
* statistics and a plain-text table printer.

Standard library only; Python 3.11.  Not a test helper: nothing here asserts,
it measures and prints.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

SETUP_SH = os.environ.get("PEERS_SETUP", "/work/shared/peers/setup.sh")
PEERS_WORK = os.environ.get("PEERS_WORK", "/tmp/peers-work")
BUSYBOX_TAR = os.path.join(PEERS_WORK, "busybox.tar")
ROOTFS = os.path.join(PEERS_WORK, "rootfs")
BUNDLES = os.path.join(PEERS_WORK, "bundles")

DEFAULT_ROOT = "/var/tmp/dockyard-bench/root"
DEFAULT_RUNROOT = "/run/dockyard-bench"

# Set in the environment of the re-executed script: "we are inside setup.sh ns".
NS_MARKER = "DOCKYARD_BENCH_IN_NS"

ENGINE_NAMES = ("dockyard", "podman", "docker")
CMD_TIMEOUT = 120.0  # seconds; a hung engine must not hang the benchmark


class BenchError(Exception):
    """A command the benchmark depends on failed; the message says which and why."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# engines


@dataclass
class Engine:
    """How to invoke one engine: argv prefix, extra `run`/`create` flags, env."""

    name: str
    argv: list[str]                       # e.g. ["/usr/local/bin/dockyard"]
    run_flags: list[str] = field(default_factory=list)  # e.g. ["--network", "none"]
    env: dict[str, str] | None = None     # full environment for subprocess, or None
    skipped: str | None = None            # reason, once the engine is skipped

    def cmd(self, *args: str) -> list[str]:
        return [*self.argv, *args]

    def run_cmd(self, *args: str) -> list[str]:
        """`ENGINE run FLAGS ARGS` (args start with the run options, e.g. --rm)."""
        return [*self.argv, "run", *self.run_flags, *args]

    def create_cmd(self, *args: str) -> list[str]:
        return [*self.argv, "create", *self.run_flags, *args]

    def skip(self, reason: str) -> None:
        self.skipped = reason
        print(f"skipped {self.name}: {reason}", flush=True)


def parser(doc: str) -> argparse.ArgumentParser:
    """A script's argument parser: the first paragraph of its docstring as the
    description, the rest kept as written."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog="Run `bash /work/shared/peers/setup.sh` first for the peers.")


def latency_args(doc: str, runs: int, warmup: int, extra=None) -> argparse.Namespace:
    """The arguments of the scripts that time one command per engine: --runs,
    --warmup, the script's own (`extra(parser)` adds them) and the common ones."""
    p = parser(doc)
    p.add_argument("--runs", type=int, default=runs, help="measured runs per engine and workload (default %(default)s)")
    p.add_argument("--warmup", type=int, default=warmup, help="unmeasured runs first (default %(default)s, >= 1)")
    if extra is not None:
        extra(p)
    add_common_args(p)
    args = p.parse_args()
    if args.runs < 1 or args.warmup < 1:
        p.error("--runs and --warmup must be >= 1")
    wanted_engines(args)
    return args


def add_common_args(p: argparse.ArgumentParser, *, root: str = DEFAULT_ROOT,
                    runroot: str = DEFAULT_RUNROOT) -> None:
    g = p.add_argument_group("engines and stores")
    g.add_argument("--engines", default=",".join(ENGINE_NAMES),
                   help="comma-separated subset of %(default)s to measure")
    g.add_argument("--dockyard", default=None,
                   help="dockyard executable (default: dockyard on PATH, else /usr/local/bin/dockyard)")
    g.add_argument("--root", default=root,
                   help="DOCKYARD_ROOT of the private benchmark store (default %(default)s)")
    g.add_argument("--runroot", default=runroot,
                   help="DOCKYARD_RUNROOT of the private benchmark store (default %(default)s)")
    g.add_argument("--image", default="busybox", help="image to run (default %(default)s)")
    g.add_argument("--busybox-tar", default=BUSYBOX_TAR,
                   help="tarball imported into the private Dockyard store when the image is "
                        "missing (default %(default)s; built from /usr/bin/busybox if absent)")
    g.add_argument("--setup", default=SETUP_SH,
                   help="the peers' setup script (default %(default)s)")
    g.add_argument("--no-ns", action="store_true",
                   help="do not re-exec inside `setup.sh ns` (podman/crun then usually fail and are skipped)")


def wanted_engines(args: argparse.Namespace) -> list[str]:
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    bad = [n for n in names if n not in ENGINE_NAMES]
    if bad:
        log(f"error: unknown engine(s) {', '.join(bad)}; choose from {', '.join(ENGINE_NAMES)}")
        sys.exit(2)  # a usage error, like argparse's
    return names


def peer_env(setup: str) -> dict[str, str]:
    """The variables `setup.sh env` exports (DOCKER_HOST, CONTAINERS_CONF, ...)."""
    if not os.path.isfile(setup):
        return {}
    try:
        out = subprocess.run(["bash", setup, "env"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return {}
    env = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            env[k] = v.strip("'\"")
    return env


def enter_peers_namespace(args: argparse.Namespace) -> None:
    """Re-exec this script inside `setup.sh ns` when podman is installed.

    crun (under podman or bare) only works in the private mount namespace that
    setup.sh prepares (plain cgroup v1 view, private /run/crun).  Docker's
    client reaches its daemon through a unix socket and Dockyard needs nothing
    special, so inside that namespace all three engines can be measured by one
    process.  Returns normally (without re-exec) when already inside, when
    podman is absent or not wanted, or when the namespace cannot be made: then
    the reason is printed and podman will be skipped at its warm-up.
    """
    if in_peers_namespace():
        return
    if args.no_ns or "podman" not in wanted_engines(args) or not shutil.which("podman"):
        return
    why = None
    if os.geteuid() != 0:
        why = "not root"
    elif not os.path.isfile(args.setup):
        why = f"{args.setup} not found"
    else:
        try:
            r = subprocess.run(["bash", args.setup, "ns", "true"], capture_output=True,
                               text=True, timeout=60)
            if r.returncode != 0:
                why = f"`setup.sh ns true` exited {r.returncode}: {last_line(r.stderr)}"
        except (subprocess.SubprocessError, OSError) as e:
            why = f"`setup.sh ns true` failed: {e}"
    if why:
        log(f"note: not entering the peers' namespace ({why}); running here")
        return
    os.environ[NS_MARKER] = "1"
    argv = ["bash", args.setup, "ns", sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("bash", argv)


def in_peers_namespace() -> bool:
    """True when re-executed by enter_peers_namespace, or started by hand with
    `setup.sh ns` (a private mount namespace with the peers' env set)."""
    if os.environ.get(NS_MARKER) == "1":
        return True
    try:
        private = os.readlink("/proc/self/ns/mnt") != os.readlink("/proc/1/ns/mnt")
    except OSError:
        return False
    return private and "CONTAINERS_CONF" in os.environ


def find_dockyard(path: str | None) -> str | None:
    if path:
        return path if os.access(path, os.X_OK) else None
    found = shutil.which("dockyard")
    if found:
        return found
    return "/usr/local/bin/dockyard" if os.access("/usr/local/bin/dockyard", os.X_OK) else None


def select_engines(args: argparse.Namespace) -> list[Engine]:
    """Engines in the order dockyard, podman, docker; absent ones come back skipped."""
    names = wanted_engines(args)
    penv = peer_env(args.setup)
    engines = []
    for name in ENGINE_NAMES:
        if name not in names:
            continue
        if name == "dockyard":
            exe = find_dockyard(args.dockyard)
            env = dict(os.environ, DOCKYARD_ROOT=args.root, DOCKYARD_RUNROOT=args.runroot)
            e = Engine("dockyard", [exe or "dockyard"], [], env)
            if not exe:
                e.skip("dockyard executable not found")
        elif name == "podman":
            exe = shutil.which("podman")
            env = dict(os.environ)
            if not in_peers_namespace():
                # outside the namespace at least use the peers' private config
                env.update({k: v for k, v in penv.items() if k.startswith("CONTAINERS_")})
            e = Engine("podman", [exe or "podman"], ["--network", "none"], env)
            if not exe:
                e.skip("podman not installed")
        else:
            exe = shutil.which("docker")
            env = dict(os.environ)
            if "DOCKER_HOST" in penv:
                env["DOCKER_HOST"] = penv["DOCKER_HOST"]
            e = Engine("docker", [exe or "docker"], ["--network", "none"], env)
            if not exe:
                e.skip("docker not installed")
        engines.append(e)
    return engines


def active(engines: Iterable[Engine]) -> list[Engine]:
    return [e for e in engines if not e.skipped]


# --------------------------------------------------------------------------
# running commands


def last_line(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


def run_checked(argv: Sequence[str], env: dict[str, str] | None = None, *,
                timeout: float = CMD_TIMEOUT, stdin=subprocess.DEVNULL) -> str:
    """Run argv, return its stdout; raise BenchError with stderr's last line on failure."""
    try:
        r = subprocess.run(argv, env=env, stdin=stdin, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"`{' '.join(argv)}` timed out after {timeout:g} s") from None
    except OSError as e:
        raise BenchError(f"`{' '.join(argv)}`: {e}") from None
    if r.returncode != 0:
        raise BenchError(f"`{' '.join(argv)}` exited {r.returncode}: {last_line(r.stderr or r.stdout)}")
    return r.stdout


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm()


def _timed(argv: Sequence[str], env: dict[str, str] | None, timeout: float,
           capture: bool) -> tuple[float, str]:
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    p = None
    out = ""
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, text=capture or None)
        if capture:
            out = p.communicate()[0]
        rc = p.wait()
        t = time.perf_counter() - t0
    except _Alarm:
        if p is not None:
            p.kill()
            p.wait()
        raise BenchError(f"`{' '.join(argv)}` timed out after {timeout:g} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if rc != 0:
        raise BenchError(f"`{' '.join(argv)}` exited {rc}")
    return t, out


def time_once(argv: Sequence[str], env: dict[str, str] | None = None, *,
              timeout: float = CMD_TIMEOUT) -> float:
    """Wall seconds of one run of argv, stdio to /dev/null; BenchError if it fails.

    The wait is a plain blocking waitpid: subprocess.run(timeout=...) would
    poll with sleeps of up to 50 ms and quantize every measurement to that.
    The timeout is a SIGALRM watchdog instead, which costs nothing while idle.
    """
    return _timed(argv, env, timeout, False)[0]


def timed_output(argv: Sequence[str], env: dict[str, str] | None = None, *,
                 timeout: float = CMD_TIMEOUT) -> tuple[float, str]:
    """Like time_once, but stdout is captured (through a pipe) and returned too."""
    return _timed(argv, env, timeout, True)


def warm_up(engines: Iterable[Engine], argv_for: Callable[[Engine], Sequence[str]],
            count: int = 2, expect: str | None = None) -> None:
    """Run each engine's command `count` times unmeasured (page cache, image
    stores, daemons' lazy init).  An engine whose first run fails, or prints
    something else than `expect` (when given), is skipped with the reason
    printed; the others carry on."""
    for e in active(engines):
        try:
            out = run_checked(argv_for(e), e.env)  # first run: capture output for the reason
            if expect is not None and out.strip() != expect:
                raise BenchError(f"printed {out.strip()[:80]!r}, expected {expect!r}")
            for _ in range(count - 1):
                time_once(argv_for(e), e.env)
        except BenchError as err:
            e.skip(f"warm-up failed: {err}")


def measure_round_robin(engines: Sequence[Engine],
                        argv_for: Callable[[Engine], Sequence[str]],
                        runs: int, label: str = "") -> dict[str, list[float]]:
    """Time argv_for(engine) `runs` times per engine, round-robin: run 1 of every
    engine, then run 2 of every engine, ...  The starting engine rotates from one
    round to the next so that no engine always follows the same one (docker's
    daemon, for one, finishes some clean-up after its client returns).  An
    engine whose run fails is dropped from later rounds and marked skipped."""
    times: dict[str, list[float]] = {e.name: [] for e in active(engines)}
    order = active(engines)
    for i in range(runs):
        k = i % len(order) if order else 0
        for e in order[k:] + order[:k]:
            if e.skipped:
                continue
            try:
                times[e.name].append(time_once(argv_for(e), e.env))
            except BenchError as err:
                e.skip(f"run {i + 1}{' of ' + label if label else ''} failed: {err}")
        if label and sys.stderr.isatty():
            print(f"\r  {label}: round {i + 1}/{runs}", end="", file=sys.stderr, flush=True)
    if label and sys.stderr.isatty():
        print(file=sys.stderr)
    return {name: ts for name, ts in times.items() if ts}


# --------------------------------------------------------------------------
# the private Dockyard store


def _busybox_tar(path: str) -> tuple[str, bool]:
    """Path of a busybox rootfs tarball; (path, is_temporary)."""
    if os.path.isfile(path):
        return path, False
    bb = shutil.which("busybox") or "/usr/bin/busybox"
    if not os.path.isfile(bb):
        raise BenchError(f"no {path} and no busybox binary to build one from")
    applets = subprocess.run([bb, "--list"], capture_output=True, text=True, check=True).stdout.split()
    fd, tmp = tempfile.mkstemp(prefix="dockyard-bench-busybox-", suffix=".tar")
    os.close(fd)
    with tarfile.open(tmp, "w") as tf:
        for d, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("proc", 0o755),
                        ("sys", 0o755), ("dev", 0o755), ("root", 0o700)):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, mode
            tf.addfile(ti)
        tf.add(bb, "bin/busybox")
        for a in applets:
            if a != "busybox":
                ti = tarfile.TarInfo(f"bin/{a}")
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, "busybox", 0o777
                tf.addfile(ti)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                           ("etc/group", "root:x:0:\n")):
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
    return tmp, True


def prepare_dockyard_store(e: Engine, args: argparse.Namespace) -> None:
    """Make sure the private store has the image; import the busybox tarball if not.
    Skips the engine (with the reason) when that fails."""
    if e.skipped:
        return
    os.makedirs(args.root, exist_ok=True)
    r = subprocess.run(e.cmd("image", "inspect", args.image), env=e.env, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=CMD_TIMEOUT)
    if r.returncode == 0:
        return
    try:
        tar, temporary = _busybox_tar(args.busybox_tar)
        try:
            log(f"importing {tar} into {args.root} as {args.image}")
            run_checked(e.cmd("import", "--change", 'CMD ["sh"]', tar, args.image), e.env)
        finally:
            if temporary:
                os.unlink(tar)
    except (BenchError, OSError, subprocess.SubprocessError) as err:
        e.skip(f"could not import the image into {args.root}: {err}")


# --------------------------------------------------------------------------
# statistics and output


def setup(args: argparse.Namespace, *, context: bool = True) -> list[Engine]:
    """What every script does first: enter the peers' namespace, pick the engines,
    prepare Dockyard's private store, print the header line."""
    enter_peers_namespace(args)
    engines = select_engines(args)
    for e in engines:
        if e.name == "dockyard":
            prepare_dockyard_store(e, args)
    if context:
        print_context(engines, args)
    return engines


def p90(xs: Sequence[float]) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def stats_ms(xs: Sequence[float]) -> tuple[str, str, str]:
    """(median, min, p90) in milliseconds, formatted."""
    return ms(statistics.median(xs)), ms(min(xs)), ms(p90(xs))


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]],
                title: str | None = None) -> None:
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    sys.stdout.flush()


def report_latency(engines: Iterable[Engine], times: dict[str, list[float]], title: str, target: str,
                   args: argparse.Namespace) -> bool:
    """One workload's table (median, min, p90 per engine) and its ratios of medians
    against podman and docker; False if dockyard was wanted and has no times."""
    rows = []
    for e in engines:
        ts = times.get(e.name)
        rows.append([e.name, len(ts), *stats_ms(ts)] if ts else [e.name, 0, "-", "-", "-"])
    print_table(["engine", "runs", "median ms", "min ms", "p90 ms"], rows, title=title)
    med = {n: statistics.median(ts) for n, ts in times.items()}
    print(f"ratio of medians: dockyard/podman = {ratio(med.get('dockyard'), med.get('podman'))}"
          f"  dockyard/docker = {ratio(med.get('dockyard'), med.get('docker'))}"
          f"   (target dockyard/podman {target})")
    return "dockyard" not in wanted_engines(args) or "dockyard" in times


def print_skipped(engines: Iterable[Engine], notes: Iterable[str] = ()) -> None:
    """The engines left out and why, then the run's notes, under the table."""
    for e in engines:
        if e.skipped:
            print(f"  ({e.name} skipped: {e.skipped})")
    for n in notes:
        print(f"  {n}")


def print_context(engines: Sequence[Engine], args: argparse.Namespace) -> None:
    """One header block: where we run, load, which engines, which store."""
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "?"
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}  cpus={os.cpu_count()}  loadavg={load}  "
          f"peers-namespace={'yes' if in_peers_namespace() else 'no'}")
    for e in engines:
        state = f"skipped ({e.skipped})" if e.skipped else " ".join(e.argv)
        extra = f"  DOCKYARD_ROOT={args.root} DOCKYARD_RUNROOT={args.runroot}" if e.name == "dockyard" else ""
        print(f"#   {e.name:9} {state}{extra}")
    sys.stdout.flush()


def rm_containers(e: Engine, ids: Sequence[str], chunk: int = 200) -> list[str]:
    """`ENGINE rm -f ID...` in chunks; returns error lines (empty when all went)."""
    errors = []
    ids = [i for i in ids if i]
    for k in range(0, len(ids), chunk):
        argv = e.cmd("rm", "-f", *ids[k:k + chunk])
        if e.name == "podman":
            argv = e.cmd("rm", "-f", "-t", "0", *ids[k:k + chunk])
        try:
            run_checked(argv, e.env, timeout=max(CMD_TIMEOUT, 2.0 * chunk))
        except BenchError as err:
            errors.append(str(err))
    return errors


def run_main(main: Callable[[], int]) -> None:
    """sys.exit(main()), with Ctrl-C -> 130 and a closed stdout (`| head`) -> 1."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
