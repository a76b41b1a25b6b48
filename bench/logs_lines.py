#!/usr/bin/env python3
"""`logs` of a container that printed many lines: Dockyard vs podman vs docker.

Reading back a container's log is parsing work proportional to its size
(json-file for docker, k8s-file for podman, Dockyard's own format), so a slow
per-line path shows up here and nowhere else.  Per engine the script runs one
container to completion (detached, then `wait`; not --rm)

    dockyard run -d busybox seq 1 100000
    podman run -d --network none busybox seq 1 100000
    docker run -d --network none busybox seq 1 100000

checks once that `logs ID` prints exactly that many lines, ending with the
last number (the count is printed), and then times `logs ID > /dev/null`
(median, min and p90 of 10 runs, interleaved round-robin between engines).
The containers are removed afterwards with `rm -f`, also on errors and Ctrl-C.

Re-executes itself inside `setup.sh ns` when podman is installed.  Exit
status: 0 when Dockyard (if asked for) was measured and its line count was
right, 1 otherwise, 2 for usage errors.
"""

from __future__ import annotations

import argparse

import common
from common import BenchError, Engine


def parse_args() -> argparse.Namespace:
    p = common.parser(__doc__)
    p.add_argument("--lines", type=int, default=100_000, help="lines the container prints (default %(default)s)")
    p.add_argument("--runs", type=int, default=10, help="timed `logs` runs per engine (default %(default)s)")
    common.add_common_args(p)
    args = p.parse_args()
    if args.lines < 1 or args.runs < 1:
        p.error("--lines and --runs must be >= 1")
    common.wanted_engines(args)
    return args


def produce(e: Engine, args: argparse.Namespace, started: dict[str, str]) -> None:
    out = common.run_checked(e.run_cmd("-d", args.image, "seq", "1", str(args.lines)), e.env)
    cid = out.strip().splitlines()[-1] if out.strip() else ""
    if not cid:
        raise BenchError("`run -d` printed no container id")
    started[e.name] = cid
    code = common.run_checked(e.cmd("wait", cid), e.env, timeout=300).strip()
    if code.splitlines()[-1:] != ["0"]:
        raise BenchError(f"container exited {code!r}, expected 0")


def count_lines(e: Engine, cid: str, lines: int) -> tuple[int, bool]:
    out = common.run_checked(e.cmd("logs", cid), e.env, timeout=300)
    got = out.splitlines()
    ok = len(got) == lines and got[-1:] == [str(lines)] and got[:1] == ["1"]
    return len(got), ok


def main() -> int:
    args = parse_args()
    engines = common.setup(args)

    started: dict[str, str] = {}
    counted: dict[str, tuple[int, bool]] = {}
    times: dict[str, list[float]] = {}
    notes = []
    try:
        for e in common.active(engines):
            try:
                produce(e, args, started)
                counted[e.name] = count_lines(e, started[e.name], args.lines)
            except BenchError as err:
                e.skip(str(err))

        def logs_argv(e: Engine) -> list[str]:
            return e.cmd("logs", started[e.name])

        common.warm_up(engines, logs_argv, 1)
        times = common.measure_round_robin(engines, logs_argv, args.runs, "logs")
    finally:
        for e in engines:
            if e.name in started:
                errors = common.rm_containers(e, [started[e.name]])
                if errors:
                    notes.append(f"clean-up of {e.name} failed: {'; '.join(errors)}")

    rows = []
    for e in engines:
        ts = times.get(e.name)
        stats = common.stats_ms(ts) if ts else ("-", "-", "-")
        n, ok = counted.get(e.name, (None, False))
        check = "-" if n is None else f"{n} {'ok' if ok else 'WRONG'}"
        rows.append([e.name, check, *stats])
    common.print_table(["engine", "lines in logs", "logs median ms", "min ms", "p90 ms"], rows,
                       title=f"== logs of a container that printed {args.lines} lines "
                             f"({args.runs} runs, interleaved)")
    common.print_skipped(engines, notes)
    if "dockyard" in common.wanted_engines(args):
        if "dockyard" not in times or not counted.get("dockyard", (0, False))[1]:
            return 1
    return 0


if __name__ == "__main__":
    common.run_main(main)
