#!/usr/bin/env python3
"""Pull and push of a ~100 MB image with 5 layers against a local registry, Dockyard
side by side with `skopeo copy` (to and from an OCI directory) in the same run.

A registry (Debian's docker-registry) is started on 127.0.0.1 for each measured
push, so every push uploads everything; Dockyard pulls into its store after
removing the image (`rmi`: blobs and layers go), skopeo into a fresh OCI
directory. Dockyard's pull also decompresses, hashes (DiffIDs) and unpacks the
layers, ready to run; skopeo's copy only stores the blobs. Each pull starts after
a sync, so neither side pays for writing back the previous run's files. Dockyard's first push gzips the image's
uncompressed layers once (kept in its store); it is reported on its own line.

Besides wall time, each row gives the median CPU time of the command and its
processes (user + system, what the 2-core budget is spent on) and, for pulls, the
registry's own CPU while serving it: on a loaded machine the CPU figures are the
steadier comparison. The pulls run in pairs, one of each side back to back (in
turn which goes first), so besides the ratio of the medians the script prints the
median of the pairs' ratios, which a slow spell of the machine moves less.

Run as root: `python3 bench/registry_pull_push.py [--runs 15] [--layer-mb 20]`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

REGISTRY = shutil.which("docker-registry") or shutil.which("registry")


def make_archive(path: str, layers: int, layer_mb: int) -> None:
    """A docker-archive whose layers are part random (incompressible), part text."""
    blobs = []
    for i in range(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            text_len = layer_mb * 424 * 1024
            line = f"layer {i}: a line of text, compressible\n"
            for name, data in ((f"data/{i}/random.bin", os.urandom(layer_mb * 600 * 1024)),
                               (f"data/{i}/text.txt", (line * (text_len // len(line) + 1))[:text_len].encode())):
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode = len(data), 0o644
                tf.addfile(ti, io.BytesIO(data))
        blobs.append(buf.getvalue())
    cfg = json.dumps({"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64", "os": "linux",
                      "created": "2026-01-01T00:00:00Z", "config": {"Cmd": ["true"]},
                      "rootfs": {"type": "layers",
                                 "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]}}).encode()
    with tarfile.open(path, "w") as tf:
        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        for i, b in enumerate(blobs):
            add(f"{i}/layer.tar", b)
        add("config.json", cfg)
        add("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["bench/big:1"],
                                          "Layers": [f"{i}/layer.tar" for i in range(layers)]}]).encode())


def timed(argv: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and every process it waited for)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = common.time_once(argv, env, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


class Registry:
    def __init__(self, base: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        os.makedirs(base, exist_ok=True)
        cfg = os.path.join(base, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {base}/data\n"
                    f"http:\n  addr: {self.host}\n")
        self.base = base
        self.proc = subprocess.Popen([REGISTRY, "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise common.BenchError("docker-registry did not start")

    def cpu(self) -> float:
        """CPU seconds the registry has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--layer-mb", type=int, default=20)
    p.add_argument("--dockyard", default=shutil.which("dockyard") or "/usr/local/bin/dockyard")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    if REGISTRY is None:
        print("docker-registry is not installed (apt-get install docker-registry)", file=sys.stderr)
        return 1
    skopeo = shutil.which("skopeo")
    work = tempfile.mkdtemp(prefix="dockyard-bench-registry-", dir="/var/tmp")
    store = os.path.join(work, "store")
    env = dict(os.environ, DOCKYARD_ROOT=os.path.join(store, "root"), DOCKYARD_RUNROOT=os.path.join(store, "run"),
               DOCKYARD_OFFLINE="1")
    try:
        archive = os.path.join(work, "big.tar")
        make_archive(archive, args.layers, args.layer_mb)
        size_mb = os.path.getsize(archive) / 1e6
        print(f"# image: {args.layers} layers, {size_mb:.0f} MB uncompressed; loadavg "
              f"{' '.join(open('/proc/loadavg').read().split()[:3])}; skopeo: {skopeo or 'not installed'}")
        common.run_checked([args.dockyard, "load", "-i", archive], env)
        push_times = {"dockyard": [], "skopeo": []}
        cpu = {("push", "dockyard"): [], ("push", "skopeo"): [], ("pull", "dockyard"): [], ("pull", "skopeo"): []}
        served = {"dockyard": [], "skopeo": []}  # the registry's CPU per pull
        first_push = None
        for i in range(args.runs):
            for engine in ("dockyard", "skopeo") if i % 2 == 0 else ("skopeo", "dockyard"):
                if engine == "skopeo" and not skopeo:
                    continue
                reg = Registry(os.path.join(work, f"reg-{engine}-{i}"))
                try:
                    ref = f"{reg.host}/bench/big:1"
                    if engine == "dockyard":
                        common.run_checked([args.dockyard, "tag", "bench/big:1", ref], env)
                        t, c = timed([args.dockyard, "push", "-q", ref], env)
                        if first_push is None:
                            first_push = t
                        else:
                            push_times[engine].append(t)
                            cpu["push", engine].append(c)
                        common.run_checked([args.dockyard, "rmi", ref], env)
                    else:
                        t, c = timed([skopeo, "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}",
                                      f"docker://{ref}"])
                        push_times[engine].append(t)
                        cpu["push", engine].append(c)
                finally:
                    reg.stop()
        reg = Registry(os.path.join(work, "reg-pull"))
        pull_times = {"dockyard": [], "skopeo": []}
        try:
            ref = f"{reg.host}/bench/big:1"
            common.run_checked([args.dockyard, "tag", "bench/big:1", ref], env)
            common.run_checked([args.dockyard, "push", "-q", ref], env)
            for i in range(args.runs):
                for engine in ("dockyard", "skopeo") if i % 2 == 0 else ("skopeo", "dockyard"):
                    if engine == "skopeo" and not skopeo:
                        continue
                    fresh = os.path.join(work, f"pull-{engine}-{i}")
                    if engine == "dockyard":
                        penv = dict(env, DOCKYARD_ROOT=os.path.join(work, "pull-store", "root"),
                                    DOCKYARD_RUNROOT=os.path.join(work, "pull-store", "run"))
                        subprocess.run([args.dockyard, "rmi", "-f", ref], env=penv, capture_output=True)
                        argv, e = [args.dockyard, "pull", "-q", ref], penv
                    else:
                        argv, e = [skopeo, "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
                                   f"oci:{fresh}:big"], None
                    os.sync()  # the last run's dirty pages are written back now, not during this one
                    before = reg.cpu()
                    t, c = timed(argv, e)
                    served[engine].append(reg.cpu() - before)
                    pull_times[engine].append(t)
                    cpu["pull", engine].append(c)
                    shutil.rmtree(fresh, ignore_errors=True)
        finally:
            reg.stop()
        rows = []
        for what, times in (("push", push_times), ("pull", pull_times)):
            for engine, ts in times.items():
                if ts:
                    reg_cpu = f"{statistics.median(served[engine]) * 1000:.0f}" if what == "pull" else "-"
                    rows.append([f"{what} {engine}", len(ts), f"{statistics.median(ts) * 1000:.0f}",
                                 f"{min(ts) * 1000:.0f}", f"{size_mb / statistics.median(ts):.0f}",
                                 f"{statistics.median(cpu[what, engine]) * 1000:.0f}", reg_cpu])
        if first_push is not None:
            rows.append(["push dockyard (first: gzips the layers once)", 1, f"{first_push * 1000:.0f}",
                         f"{first_push * 1000:.0f}", f"{size_mb / first_push:.0f}", "-", "-"])
        common.print_table(["operation", "runs", "median ms", "min ms", "MB/s", "cpu ms", "registry cpu ms"], rows,
                           title=f"== pull and push of a {size_mb:.0f} MB, {args.layers}-layer image (local registry)")
        if pull_times["skopeo"] and pull_times["dockyard"]:
            print(f"ratio of medians: dockyard pull / skopeo pull = "
                  f"{statistics.median(pull_times['dockyard']) / statistics.median(pull_times['skopeo']):.2f}"
                  f"   (target <= 1.00); loadavg now {' '.join(open('/proc/loadavg').read().split()[:3])}")
            pairs = [d / k for d, k in zip(pull_times["dockyard"], pull_times["skopeo"])]
            print(f"median of the {len(pairs)} pairs' ratios (dockyard / skopeo, pulled back to back) = "
                  f"{statistics.median(pairs):.2f}; {sum(r <= 1 for r in pairs)} of {len(pairs)} pairs <= 1.00")
        return 0
    except common.BenchError as err:
        print(f"registry_pull_push: {err}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
