#!/usr/bin/env python3
"""Memory of the per-container monitor process: dockyard-mon vs conmon vs containerd-shim.

Every engine here keeps one small process per running container that holds
its stdio, collects its exit status and outlives the CLI: Dockyard's
`dockyard-mon`, podman's `conmon`, docker's `containerd-shim(-runc-v2)`.  With
many containers their memory adds up, so this script starts N containers
(default 10) running `sleep 1000` detached with each engine

    dockyard run -d busybox sleep 1000
    podman run -d --network none busybox sleep 1000
    docker run -d --network none busybox sleep 1000

finds each container's monitor (the parent of the container's main process,
checked by /proc/PID/comm, so that other users' monitors are never counted),
and reads RSS and PSS from /proc/PID/smaps_rollup.  It prints the averages in
MiB ~2 s after the last container of an engine started, and again at ~5 s
(Dockyard's monitor may shed memory after start-up).  PSS splits pages shared
between processes (e.g. the interpreter's text between the N monitors), so it
is the fairer per-container cost; RSS counts shared pages in full.

Engines are measured one after the other (the numbers are per process, so
interleaving buys nothing here); every container started is removed with
`rm -f`, also on errors and Ctrl-C.  Re-executes itself inside `setup.sh ns`
when podman is installed.  Exit status: 0 when Dockyard (if asked for) was
measured, 1 otherwise, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import statistics
import time

import common
from common import BenchError, Engine

MONITOR_COMM = {"dockyard": "dockyard-mon", "podman": "conmon", "docker": "containerd-shim"}


def parse_args() -> argparse.Namespace:
    p = common.parser(__doc__)
    p.add_argument("--containers", type=int, default=10,
                   help="containers per engine (default %(default)s)")
    p.add_argument("--first", type=float, default=2.0,
                   help="seconds after the last start for the first measurement (default %(default)s)")
    p.add_argument("--second", type=float, default=5.0,
                   help="seconds after the last start for the second measurement (default %(default)s)")
    common.add_common_args(p)
    args = p.parse_args()
    if args.containers < 1 or args.second < args.first:
        p.error("--containers must be >= 1 and --second >= --first")
    common.wanted_engines(args)
    return args


def read_proc(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/{name}") as f:
        return f.read()


def ppid_of(pid: int) -> int:
    for line in read_proc(pid, "status").splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise BenchError(f"no PPid in /proc/{pid}/status")


def rss_pss_kib(pid: int) -> tuple[int, int]:
    rss = pss = None
    for line in read_proc(pid, "smaps_rollup").splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    if rss is None or pss is None:
        raise BenchError(f"no Rss/Pss in /proc/{pid}/smaps_rollup")
    return rss, pss


def monitor_of(e: Engine, cid: str) -> int:
    """PID of the monitor of container cid: the parent of its main process."""
    out = common.run_checked(e.cmd("inspect", "--format", "{{.State.Pid}}", cid), e.env).strip()
    try:
        pid = int(out)
    except ValueError:
        raise BenchError(f"{e.name} inspect gave State.Pid {out!r} for {cid[:12]}") from None
    if pid <= 0:
        raise BenchError(f"{e.name} container {cid[:12]} is not running (State.Pid {pid})")
    mon = ppid_of(pid)
    comm = read_proc(mon, "comm").strip()
    # comm is at most 15 characters: containerd-shim-runc-v2 shows as containerd-shim
    if not comm.startswith(MONITOR_COMM[e.name]):
        raise BenchError(f"parent of {e.name} container {cid[:12]}'s process {pid} is "
                         f"{mon} ({comm!r}), not {MONITOR_COMM[e.name]}")
    return mon


def measure(pids: list[int]) -> tuple[float, float, int]:
    """Average RSS and PSS in MiB over the monitors still alive, and how many."""
    vals = []
    for pid in pids:
        try:
            vals.append(rss_pss_kib(pid))
        except (OSError, BenchError):
            pass
    if not vals:
        return float("nan"), float("nan"), 0
    return (statistics.mean(v[0] for v in vals) / 1024,
            statistics.mean(v[1] for v in vals) / 1024, len(vals))


def run_engine(e: Engine, args: argparse.Namespace, started: list[str]) -> list[object] | None:
    argv = e.run_cmd("-d", args.image, "sleep", "1000")
    for i in range(args.containers):
        try:
            out = common.run_checked(argv, e.env)
        except BenchError as err:
            e.skip(f"{'first' if i == 0 else f'container {i + 1}'} `run -d` failed: {err}")
            return None
        cid = out.strip().splitlines()[-1] if out.strip() else ""
        if not cid:
            e.skip("`run -d` printed no container id")
            return None
        started.append(cid)
    t_last = time.monotonic()
    try:
        monitors = [monitor_of(e, cid) for cid in started]
    except (BenchError, OSError) as err:
        e.skip(f"could not find the monitors: {err}")
        return None
    if len(set(monitors)) != len(monitors):
        print(f"  note: {e.name}: {len(set(monitors))} distinct monitors for {len(monitors)} containers")
        monitors = sorted(set(monitors))
    results = []
    for at in (args.first, args.second):
        time.sleep(max(0.0, t_last + at - time.monotonic()))
        results.append(measure(monitors))
    (r1, p1, n1), (r2, p2, n2) = results
    n = f"{n1}" if n1 == n2 else f"{n1}/{n2}"
    return [e.name, MONITOR_COMM[e.name], n, f"{r1:.2f}", f"{p1:.2f}", f"{r2:.2f}", f"{p2:.2f}"]


def main() -> int:
    args = parse_args()
    engines = common.setup(args)

    rows = []
    leftovers = []
    for e in common.active(engines):
        started: list[str] = []
        try:
            row = run_engine(e, args, started)
        finally:
            errors = common.rm_containers(e, started)
            if errors:
                leftovers.append(f"{e.name}: {'; '.join(errors)}")
        if row:
            rows.append(row)
    for e in engines:
        if e.skipped:
            rows.append([e.name, MONITOR_COMM[e.name], 0, "-", "-", "-", "-"])
    common.print_table(
        ["engine", "monitor", "n", f"RSS MiB @{args.first:g}s", f"PSS MiB @{args.first:g}s",
         f"RSS MiB @{args.second:g}s", f"PSS MiB @{args.second:g}s"],
        rows, title=f"== per-container monitor memory, average over {args.containers} "
                    f"containers running `sleep 1000` (n = monitors found)")
    common.print_skipped(engines)
    for line in leftovers:
        print(f"  clean-up failed, containers may be left: {line}")
    measured = {r[0] for r in rows if r[2]}
    return 1 if "dockyard" in common.wanted_engines(args) and "dockyard" not in measured else 0


if __name__ == "__main__":
    common.run_main(main)
