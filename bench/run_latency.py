#!/usr/bin/env python3
"""Latency of a whole short container run: Dockyard vs podman+crun vs docker.

The headline number of Dockyard.  Times, from the shell's point of view (one
process start to its exit), the two commands

    dockyard run --rm busybox true
    dockyard run --rm busybox echo hi there

against `podman run --rm --network none busybox ...` and
`docker run --rm --network none busybox ...`, all in one process and
interleaved round-robin (run 1 of each engine, run 2 of each, ...; the first
engine of a round rotates), so that a burst of load on the machine weighs on
every engine alike.  Each command is run twice unmeasured first (warm-up); an
engine that is missing or whose first run fails is reported as skipped and the
others carry on.

As floors it also times, when available, bare `crun run --bundle DIR ID` on
the bundles that /work/shared/peers/setup.sh prepares, and
`unshare --pid --mount --uts --ipc --net --fork chroot ROOTFS CMD` (the kernel
work of a container with no image store, no cgroup and no bookkeeping).

Prints median, min and p90 (ms) per engine and the ratios of the medians
dockyard/podman and dockyard/docker (the target in PERF-BUDGET.md is
dockyard/podman <= 0.33).

When podman is installed, the script re-executes itself inside
`setup.sh ns` (crun needs that namespace; docker and Dockyard work there too).
Run as root on an idle machine.  Exit status: 0 when Dockyard (if asked for)
was measured on every workload, 1 otherwise, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil

import common
from common import Engine

WORKLOADS = (("true", ["true"], ""), ("echo hi there", ["echo", "hi", "there"], "hi there"))
FLOOR_CMD = {"true": ["/bin/true"], "echo hi there": ["/bin/echo", "hi", "there"]}
BUNDLE = {"true": "true", "echo hi there": "echo"}


def parse_args() -> argparse.Namespace:
    return common.latency_args(__doc__, runs=20, warmup=2, extra=lambda p: p.add_argument(
        "--no-floors", action="store_true", help="do not time bare crun and unshare+chroot"))


def floor_engines(args: argparse.Namespace) -> list[Engine]:
    floors = []
    crun = shutil.which("crun")
    e = Engine("crun run (floor)", [crun or "crun"])
    if not crun:
        e.skip("crun not installed")
    elif not os.path.isdir(common.BUNDLES):
        e.skip(f"no bundles in {common.BUNDLES} (run setup.sh)")
    floors.append(e)
    unshare, chroot = shutil.which("unshare"), shutil.which("chroot")
    e = Engine("unshare+chroot (floor)", [unshare or "unshare"])
    if not (unshare and chroot):
        e.skip("unshare or chroot not installed")
    elif not os.path.isfile(os.path.join(common.ROOTFS, "bin", "busybox")):
        e.skip(f"no rootfs at {common.ROOTFS} (run setup.sh)")
    floors.append(e)
    return floors


def main() -> int:
    args = parse_args()
    engines = common.setup(args, context=False)
    floors = [] if args.no_floors else floor_engines(args)
    everyone = engines + floors
    common.print_context(everyone, args)

    ids = itertools.count()
    ok = True

    for label, cmd, expect in WORKLOADS:
        def argv_for(e: Engine, cmd=cmd, label=label) -> list[str]:
            if e.name.startswith("crun"):
                return e.cmd("run", "--bundle", os.path.join(common.BUNDLES, BUNDLE[label]),
                             f"dockyard-bench-{os.getpid()}-{next(ids)}")
            if e.name.startswith("unshare"):
                return e.cmd("--pid", "--mount", "--uts", "--ipc", "--net", "--fork",
                             "chroot", common.ROOTFS, *FLOOR_CMD[label])
            return e.run_cmd("--rm", args.image, *cmd)

        common.warm_up(everyone, argv_for, args.warmup, expect)
        times = common.measure_round_robin(everyone, argv_for, args.runs, label)

        ok &= common.report_latency(everyone, times,
                                    f"== run --rm {args.image} {label}  ({args.runs} runs, interleaved)",
                                    "<= 0.33", args)
        common.print_skipped(everyone)
    return 0 if ok else 1


if __name__ == "__main__":
    common.run_main(main)
