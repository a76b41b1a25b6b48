#!/usr/bin/env python3
"""oci_runtime.py - the OCI runtimes alone: `RUNTIME run --bundle B ID` of `true`
on one busybox bundle, for dockyard-runtime, runc and crun (those installed).

Round-robin, after a warm-up run each (a runtime whose warm-up fails is skipped,
with the reason); prints median, p10 and p90 wall time per runtime in ms.

    python3 bench/oci_runtime.py [--runs 30] [--runtimes dockyard-runtime,runc,crun]

Run as root on an idle machine. The bundle's config says ociVersion 1.0.2, which
every runtime here accepts (crun 1.8 refuses newer ones).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid


def make_bundle(base: str) -> str:
    busybox = next((p for p in ("/usr/bin/busybox", "/bin/busybox") if os.path.exists(p)), None)
    if busybox is None:
        sys.exit("needs a static busybox (apt-get install busybox-static)")
    bundle = os.path.join(base, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy(busybox, os.path.join(rootfs, "bin", "busybox"))
    for applet in ("sh", "true"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    subprocess.run(["dockyard-runtime", "spec", "--bundle", bundle], check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["ociVersion"] = "1.0.2"
    cfg["process"]["args"] = ["true"]
    with open(path, "w") as f:
        json.dump(cfg, f)
    return bundle


def run_once(runtime: str, root: str, bundle: str) -> float:
    cid = "bench-" + uuid.uuid4().hex[:10]
    start = time.perf_counter()
    p = subprocess.run([runtime, "--root", root, "run", "--bundle", bundle, cid],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        subprocess.run([runtime, "--root", root, "delete", "--force", cid], capture_output=True)
        raise RuntimeError(p.stderr.decode(errors="replace").strip().splitlines()[-1:] or f"exit {p.returncode}")
    return elapsed * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--runtimes", default="dockyard-runtime,runc,crun")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    runtimes = [r for r in args.runtimes.split(",") if shutil.which(r)]
    with tempfile.TemporaryDirectory(prefix="oci-bench-") as base:
        bundle = make_bundle(base)
        times: dict[str, list[float]] = {}
        for r in runtimes:
            try:
                run_once(r, os.path.join(base, f"state-{r}"), bundle)
                times[r] = []
            except Exception as e:  # noqa: BLE001 - report and go on without it
                print(f"{r}: skipped: {e}", file=sys.stderr)
        for _ in range(args.runs):
            for r in times:
                times[r].append(run_once(r, os.path.join(base, f"state-{r}"), bundle))
    print(f"{'runtime':<18}{'median':>9}{'p10':>9}{'p90':>9}   (ms, {args.runs} runs of `run` true)")
    for r, ts in times.items():
        ts.sort()
        p10, p90 = ts[len(ts) // 10], ts[(len(ts) * 9) // 10]
        print(f"{r:<18}{statistics.median(ts):>9.1f}{p10:>9.1f}{p90:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
