#!/usr/bin/env python3
"""`ps -a` with many containers: Dockyard vs podman vs docker.

Listing is where a daemonless engine pays for having no daemon holding the
state in memory: every `ps` re-reads the store.  This script creates many
stopped containers (by default 1000 with Dockyard, `dockyard create busybox
true`, which is cheaper than run; 200 with podman and docker, `create
--network none busybox true`), then times `ps -a` (median, min and p90 of 10
runs, interleaved round-robin between engines) and prints the number of
containers each engine listed next to its time -- the counts differ between
engines by default, so compare per-container cost, not the raw times.  The
median time of one `create` is printed too (captured through a pipe, for
information only).

Dockyard uses a store of its own (default DOCKYARD_ROOT
/var/tmp/dockyard-bench/ps-root, DOCKYARD_RUNROOT /run/dockyard-bench-ps), so
that its count is exact; podman and docker use the peers' private stores, in
which other containers may exist (the listed count shows them).  Everything
created is removed afterwards with `rm -f ID...` in bulk, also on errors and
Ctrl-C; a Dockyard store that this script created is then deleted.

Re-executes itself inside `setup.sh ns` when podman is installed.  Exit
status: 0 when Dockyard (if asked for) was measured, 1 otherwise, 2 for usage
errors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys

import common
from common import BenchError, Engine


def parse_args() -> argparse.Namespace:
    p = common.parser(__doc__)
    p.add_argument("--dockyard-count", type=int, default=1000,
                   help="containers to create with Dockyard (default %(default)s)")
    p.add_argument("--peer-count", type=int, default=200,
                   help="containers to create with podman and docker (default %(default)s)")
    p.add_argument("--count", type=int, default=None,
                   help="the same count for every engine (overrides the two above)")
    p.add_argument("--runs", type=int, default=10, help="timed `ps -a` runs per engine (default %(default)s)")
    common.add_common_args(p, root="/var/tmp/dockyard-bench/ps-root",
                           runroot="/run/dockyard-bench-ps")
    args = p.parse_args()
    if args.count is not None:
        args.dockyard_count = args.peer_count = args.count
    if args.dockyard_count < 0 or args.peer_count < 0 or args.runs < 1:
        p.error("counts must be >= 0 and --runs >= 1")
    common.wanted_engines(args)
    return args


def create_many(e: Engine, n: int, image: str, created: list[str]) -> list[float]:
    """Create n containers; their ids go to `created` as they come. Returns create times."""
    argv = e.create_cmd(image, "true")
    times = []
    for i in range(n):
        try:
            t, out = common.timed_output(argv, e.env)
        except BenchError as err:
            # capture the reason with stderr, outside the timing
            try:
                common.run_checked(argv, e.env)
                why = str(err)
            except BenchError as err2:
                why = str(err2)
            raise BenchError(f"create {i + 1} of {n} failed: {why}") from None
        cid = out.strip().splitlines()[-1] if out.strip() else ""
        if not cid:
            raise BenchError(f"create {i + 1} printed no id")
        created.append(cid)
        times.append(t)
        if sys.stderr.isatty() and (i + 1) % 50 == 0:
            print(f"\r  {e.name}: created {i + 1}/{n}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty() and n >= 50:
        print(file=sys.stderr)
    return times


def mounted_under(path: str) -> list[str]:
    path = os.path.realpath(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if (mp + "/").startswith(path):
                found.append(mp)
    return found


def main() -> int:
    args = parse_args()
    common.enter_peers_namespace(args)
    engines = common.select_engines(args)
    fresh_store = not os.path.exists(args.root)
    fresh_runroot = not os.path.exists(args.runroot)
    for e in engines:
        if e.name == "dockyard":
            common.prepare_dockyard_store(e, args)
    common.print_context(engines, args)
    count = {e.name: args.dockyard_count if e.name == "dockyard" else args.peer_count for e in engines}

    created: dict[str, list[str]] = {e.name: [] for e in engines}
    create_ms: dict[str, str] = {}
    listed: dict[str, int] = {}
    notes = []
    times: dict[str, list[float]] = {}
    try:
        for e in common.active(engines):
            try:
                ct = create_many(e, count[e.name], args.image, created[e.name])
                if ct:
                    create_ms[e.name] = common.ms(statistics.median(ct))
                out = common.run_checked(e.cmd("ps", "-a", "-q", "--no-trunc"), e.env)
                listed[e.name] = len(out.split())
            except BenchError as err:
                e.skip(str(err))

        def ps_argv(e: Engine) -> list[str]:
            return e.cmd("ps", "-a")

        common.warm_up(engines, ps_argv, 1)
        times = common.measure_round_robin(engines, ps_argv, args.runs, "ps -a")
    finally:
        for e in engines:
            if created[e.name]:
                errors = common.rm_containers(e, created[e.name])
                if errors:
                    notes.append(f"clean-up of {e.name} failed, containers may be left: {'; '.join(errors)}")
        dy = next((e for e in engines if e.name == "dockyard"), None)
        if dy and not dy.skipped or (dy and created["dockyard"]):
            try:
                left = common.run_checked(dy.cmd("ps", "-a", "-q"), dy.env).split()
                if left:
                    notes.append(f"dockyard: {len(left)} containers still listed after rm")
            except BenchError as err:
                notes.append(f"dockyard ps after clean-up failed: {err}")
        for path, fresh in ((args.root, fresh_store), (args.runroot, fresh_runroot)):
            if fresh and os.path.exists(path):
                mounts = mounted_under(path)
                if mounts:
                    notes.append(f"not deleting {path}: still mounted there: {', '.join(mounts[:5])}")
                else:
                    shutil.rmtree(path, ignore_errors=True)

    rows = []
    for e in engines:
        ts = times.get(e.name)
        stats = common.stats_ms(ts) if ts else ("-", "-", "-")
        rows.append([e.name, len(created[e.name]), listed.get(e.name, "-"), *stats,
                     create_ms.get(e.name, "-")])
    common.print_table(["engine", "created", "listed", "ps -a median ms", "min ms", "p90 ms",
                        "create median ms"], rows,
                       title=f"== ps -a with many containers ({args.runs} runs, interleaved)")
    common.print_skipped(engines)
    med = {n: statistics.median(ts) / max(1, listed.get(n, 0)) for n, ts in times.items()}
    print("median / listed containers (ms, includes the fixed cost of one ps): "
          + "  ".join(f"{n} {v * 1000:.3f}" for n, v in med.items()))
    for n in notes:
        print(f"  {n}")
    return 1 if "dockyard" in common.wanted_engines(args) and "dockyard" not in times else 0


if __name__ == "__main__":
    common.run_main(main)
