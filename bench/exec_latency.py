#!/usr/bin/env python3
"""Latency of `exec ID true` into a running container: Dockyard vs podman vs docker.

Per engine the script starts one long-running container (detached, not --rm)

    dockyard run -d busybox sleep 100000
    podman run -d --network none busybox sleep 100000
    docker run -d --network none busybox sleep 100000

and times, from the shell's point of view (process start to exit), the commands

    dockyard exec ID true
    dockyard exec ID echo hi there

and the same with podman and docker, interleaved round-robin (run 1 of each
engine, run 2 of each, ...; the first engine of a round rotates), after two
unmeasured runs each.  Prints median, min and p90 (ms) per engine and the ratios
of the medians dockyard/podman (the target: <= 0.33) and dockyard/docker.  The
containers are removed with `rm -f` afterwards, also on errors and Ctrl-C.

Re-executes itself inside `setup.sh ns` when podman is installed.  Exit status: 0
when Dockyard (if asked for) was measured on every workload, 1 otherwise, 2 for
usage errors.
"""

from __future__ import annotations

import argparse

import common
from common import BenchError, Engine

WORKLOADS = (("true", ["true"], ""), ("echo hi there", ["echo", "hi", "there"], "hi there"))


def parse_args() -> argparse.Namespace:
    return common.latency_args(__doc__, runs=20, warmup=2)


def start_container(e: Engine, args: argparse.Namespace) -> str:
    out = common.run_checked(e.run_cmd("-d", args.image, "sleep", "100000"), e.env)
    cid = out.strip().splitlines()[-1] if out.strip() else ""
    if not cid:
        raise BenchError("`run -d` printed no container id")
    return cid


def main() -> int:
    args = parse_args()
    engines = common.setup(args)

    started: dict[str, str] = {}
    results: list[tuple[str, dict[str, list[float]]]] = []
    notes = []
    try:
        for e in common.active(engines):
            try:
                started[e.name] = start_container(e, args)
            except BenchError as err:
                e.skip(f"could not start a container: {err}")

        for label, cmd, expect in WORKLOADS:
            def argv_for(e: Engine, cmd=cmd) -> list[str]:
                return e.cmd("exec", started[e.name], *cmd)

            common.warm_up(engines, argv_for, args.warmup, expect)
            results.append((label, common.measure_round_robin(engines, argv_for, args.runs, f"exec {label}")))
    finally:
        for e in engines:
            if e.name in started:
                errors = common.rm_containers(e, [started[e.name]])
                if errors:
                    notes.append(f"clean-up of {e.name} failed: {'; '.join(errors)}")

    ok = True
    for label, times in results:
        ok &= common.report_latency(engines, times, f"== exec ID {label}  ({args.runs} runs, interleaved)",
                                    "<= 0.33", args)
    if not results and "dockyard" in common.wanted_engines(args):
        ok = False
    common.print_skipped(engines, notes)
    return 0 if ok else 1


if __name__ == "__main__":
    common.run_main(main)
