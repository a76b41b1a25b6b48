#!/usr/bin/env python3
"""Image builds: Dockyard vs podman build (buildah) vs docker build, on a 10-step
Dockerfile over busybox.

Two workloads, timed from the shell's point of view (process start to exit),
interleaved round-robin in one process so that load weighs on every engine alike:

- cold:   `ENGINE build --no-cache -q -t bench-build:cold CTX` (every RUN runs,
          every COPY is written: containers, layer tars, commits);
- cached: `ENGINE build -q -t bench-build:cached CTX` after one priming build
          (every step a cache hit: what a developer waits for when nothing changed).

The Dockerfile (FROM + 10 instructions: 3 RUN, 2 COPY, WORKDIR, 2 ENV, LABEL, CMD)
is written to a temporary context with two small files. Each engine uses its own
busybox (the same binary: setup.sh imports it everywhere). Targets (issue 6): cold
no slower than podman, cached at most 1/3 of podman's.

Images and cache made by the runs are removed afterwards: Dockyard's private
store gets `builder prune`; podman's and docker's images that appeared during the
benchmark are removed by id (their stores are shared, nothing else is touched).

When podman is installed the script re-executes itself inside `setup.sh ns`
(podman needs that namespace; the others work there too). Run as root.
Exit status: 0 when Dockyard was measured on both workloads, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile

import common

DOCKERFILE = """FROM {image}
ENV APP_HOME=/app
WORKDIR /app
COPY a.txt ./
RUN echo one > one.txt && cat a.txt >> one.txt
COPY b.txt ./
RUN cat a.txt b.txt > ab.txt
RUN mkdir -p data && echo two > data/two.txt
ENV MODE=bench
LABEL org.example.bench=build
CMD ["cat", "/app/ab.txt"]
"""


def parse_args() -> argparse.Namespace:
    return common.latency_args(__doc__, runs=7, warmup=1)


def build_cmd(e: common.Engine, ctx: str, tag: str, no_cache: bool) -> list[str]:
    argv = e.cmd("build", "-q", "-t", tag)
    if no_cache:
        argv.append("--no-cache")
    if e.name == "podman":
        argv += ["--network", "none"]
    return argv + [ctx]


def image_ids(e: common.Engine) -> set[str]:
    if e.name == "dockyard":
        return set()
    try:
        out = common.run_checked(e.cmd("images", "-a", "-q", "--no-trunc"), e.env)
    except common.BenchError:
        return set()
    return set(out.split())


def cleanup(e: common.Engine, before: set[str]) -> list[str]:
    notes = []
    if e.name == "dockyard":
        for argv in (e.cmd("rmi", "-f", "bench-build:cold", "bench-build:cached"), e.cmd("builder", "prune", "-f")):
            try:
                common.run_checked(argv, e.env)
            except common.BenchError as err:
                notes.append(f"clean-up of dockyard: {err}")
        return notes
    for tag in ("bench-build:cold", "bench-build:cached"):
        subprocess.run(e.cmd("rmi", "-f", tag), env=e.env, capture_output=True)
    new = sorted(image_ids(e) - before)
    if new:
        r = subprocess.run(e.cmd("rmi", "-f", *new), env=e.env, capture_output=True, text=True)
        if r.returncode != 0 and image_ids(e) - before:
            notes.append(f"clean-up of {e.name}: {common.last_line(r.stderr)}")
    return notes


def main() -> int:
    args = parse_args()
    engines = common.setup(args)
    ctx = tempfile.mkdtemp(prefix="dockyard-bench-build-")
    notes: list[str] = []
    before = {e.name: image_ids(e) for e in common.active(engines)}
    results: list[tuple[str, dict[str, list[float]]]] = []
    try:
        with open(os.path.join(ctx, "a.txt"), "w") as f:
            f.write("a\n" * 100)
        with open(os.path.join(ctx, "b.txt"), "w") as f:
            f.write("b\n" * 100)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE.format(image=args.image))
        common.warm_up(engines, lambda e: build_cmd(e, ctx, "bench-build:cold", True), count=args.warmup)
        results.append(("cold (--no-cache)", common.measure_round_robin(
            engines, lambda e: build_cmd(e, ctx, "bench-build:cold", True), args.runs, "cold")))
        common.warm_up(engines, lambda e: build_cmd(e, ctx, "bench-build:cached", False), count=args.warmup)
        results.append(("cached rebuild", common.measure_round_robin(
            engines, lambda e: build_cmd(e, ctx, "bench-build:cached", False), args.runs, "cached")))
    finally:
        for e in engines:
            if e.name in before or e.name == "dockyard":
                notes += cleanup(e, before.get(e.name, set()))
        shutil.rmtree(ctx, ignore_errors=True)

    ok = True
    targets = {"cold (--no-cache)": "<= 1.00", "cached rebuild": "<= 0.33"}
    for label, times in results:
        ok &= common.report_latency(engines, times, f"== build, {label}  ({args.runs} runs, interleaved)",
                                    targets[label], args)
    if len(results) < 2 and "dockyard" in common.wanted_engines(args):
        ok = False
    common.print_skipped(engines, notes)
    return 0 if ok else 1


if __name__ == "__main__":
    common.run_main(main)
