"""Log drivers, rotation and `logs` options: --log-driver json-file|none,
--log-opt max-size/max-file, logs --since/--until/-t/--tail/-f."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z")


def _log_files(dy, cid: str) -> list[str]:
    home = f"{dy.root}/containers/{cid}"
    return sorted(n for n in os.listdir(home) if n.startswith(f"{cid}-json.log"))


def _numbers(text: str) -> list[int]:
    return [int(x) for x in text.split()]


def test_rotation_by_default_in_inspect(dy):
    cid = dy.ok("create", "busybox", "true").strip()
    cfg = json.loads(dy.ok("inspect", "-f", "{{json .HostConfig.LogConfig}}", cid))
    assert cfg == {"Type": "json-file", "Config": {"max-size": "20m", "max-file": "5"}}
    cid2 = dy.ok("create", "--log-opt", "max-size=10m", "--log-opt", "max-file=3", "busybox", "true").strip()
    cfg = json.loads(dy.ok("inspect", "-f", "{{json .HostConfig.LogConfig}}", cid2))
    assert cfg == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    dy.ok("rm", cid, cid2)


def test_rotation_loses_no_line_and_reads_in_order(dy):
    cid = dy.ok("run", "-d", "--log-opt", "max-size=64k", "--log-opt", "max-file=1000",
                "busybox", "seq", "1", "100000").strip()
    assert dy.ok("wait", cid) == "0\n"
    files = _log_files(dy, cid)
    assert len(files) > 20
    home = f"{dy.root}/containers/{cid}"
    assert all(os.path.getsize(f"{home}/{n}") <= 64 * 1024 for n in files)
    assert _numbers(dy.ok("logs", cid)) == list(range(1, 100001))
    assert dy.ok("logs", "--tail", "3", cid) == "99998\n99999\n100000\n"
    dy.ok("rm", cid)


def test_max_file_limits_what_is_kept(dy):
    cid = dy.ok("run", "-d", "--log-opt", "max-size=16k", "--log-opt", "max-file=3",
                "busybox", "seq", "1", "20000").strip()
    assert dy.ok("wait", cid) == "0\n"
    assert _log_files(dy, cid) == [f"{cid}-json.log", f"{cid}-json.log.1", f"{cid}-json.log.2"]
    got = _numbers(dy.ok("logs", cid))
    assert got[-1] == 20000 and got == list(range(got[0], 20001)) and len(got) < 1000
    dy.ok("rm", cid)


def test_rotation_survives_the_monitor_shedding(dy):
    """The monitor re-executes itself after a second (monitor._shed): its writer
    goes on rotating with the same limits."""
    cid = dy.ok("run", "-d", "--log-opt", "max-size=8k", "--log-opt", "max-file=1000", "busybox", "sh", "-c",
                "seq 1 3000; sleep 1.5; seq 3001 6000").strip()
    assert dy.ok("wait", cid) == "0\n"
    home = f"{dy.root}/containers/{cid}"
    assert all(os.path.getsize(f"{home}/{n}") <= 8 * 1024 for n in _log_files(dy, cid))
    assert _numbers(dy.ok("logs", cid)) == list(range(1, 6001))
    dy.ok("rm", cid)


def test_log_driver_none(dy):
    p = dy("run", "--name", "nolog", "--log-driver", "none", "busybox", "echo", "hi")
    assert (p.returncode, p.stdout) == (0, "hi\n")  # attached output still arrives
    cid = dy.ok("inspect", "-f", "{{.Id}}", "nolog").strip()
    assert _log_files(dy, cid) == []
    assert json.loads(dy.ok("inspect", "-f", "{{json .HostConfig.LogConfig}}", cid))["Type"] == "none"
    p = dy("logs", "nolog")
    assert p.returncode == 1
    assert p.stderr.strip() == "Error: configured logging driver does not support reading"
    dy.ok("rm", "nolog")


def test_unknown_log_driver_and_opt(dy):
    before = dy.container_ids()
    p = dy("run", "--rm", "--log-driver", "syslog", "busybox", "true")
    assert p.returncode == 125 and "logger: no log driver named 'syslog' is registered" in p.stderr
    p = dy("run", "--rm", "--log-opt", "colour=red", "busybox", "true")
    assert p.returncode == 125 and "unknown log opt 'colour' for json-file log driver" in p.stderr
    p = dy("run", "--rm", "--log-opt", "max-file=0", "busybox", "true")
    assert p.returncode == 125 and "max-file cannot be less than 1" in p.stderr
    assert dy.container_ids() == before  # refused before anything was made


def test_timestamps_are_rfc3339nano(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", "echo a; echo b >&2").strip()
    dy.ok("wait", cid)
    p = dy("logs", "-t", cid)
    ts, text = p.stdout.split(" ", 1)
    assert TS.fullmatch(ts) and text == "a\n"
    assert TS.fullmatch(p.stderr.split(" ", 1)[0])
    dy.ok("rm", cid)


def test_since_and_until(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", "echo early; sleep 1.2; echo late").strip()
    dy.ok("wait", cid)
    lines = dy.ok("logs", "-t", cid).splitlines()
    (t_early, _), (t_late, _) = (l.split(" ", 1) for l in lines)
    assert dy.ok("logs", "--since", t_late, cid) == "late\n"
    assert dy.ok("logs", "--until", t_early, cid) == "early\n"
    assert dy.ok("logs", "--since", t_early, "--until", t_early, cid) == "early\n"
    assert dy.ok("logs", "--since", "10m", cid) == "early\nlate\n"
    assert dy.ok("logs", "--since", "1h30m", "--until", "0s", cid) == "early\nlate\n"
    assert dy.ok("logs", "--until", "1h", cid) == ""
    # Unix timestamps, as `date +%s` gives them
    from dockyard.core.clock import parse_rfc3339

    late_ns = parse_rfc3339(t_late)
    unix = f"{late_ns // 10**9}.{late_ns % 10**9:09d}"
    assert dy.ok("logs", "--since", unix, cid) == "late\n"
    assert dy.ok("logs", "--tail", "1", "--since", "1h", cid) == "late\n"
    p = dy("logs", "--since", "yesterday", cid)
    assert p.returncode == 1 and 'invalid value for "since"' in p.stderr
    dy.ok("rm", cid)


def test_follow_racing_a_fast_writer_loses_no_line(dy):
    cid = dy.ok("run", "-d", "busybox", "seq", "1", "100000").strip()
    out = dy.ok("logs", "-f", cid, timeout=60)
    assert _numbers(out) == list(range(1, 100001))
    dy.ok("rm", cid)


def test_follow_across_rotations_loses_no_line(dy):
    cid = dy.ok("run", "-d", "--log-opt", "max-size=32k", "--log-opt", "max-file=100000", "busybox", "sh", "-c",
                "sleep 0.3; seq 1 30000; sleep 1.2; seq 30001 60000").strip()
    out = dy.ok("logs", "-f", cid, timeout=60)
    assert _numbers(out) == list(range(1, 60001))
    assert len(_log_files(dy, cid)) > 20
    dy.ok("rm", cid)


def test_follow_tail_and_end_when_the_container_exits(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", "seq 1 5; sleep 1; echo more; sleep 0.5; echo end").strip()
    time.sleep(0.4)
    t = time.monotonic()
    proc = subprocess.run([*dy.cmd, "logs", "-f", "--tail", "2", cid], env=dy.env, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == "4\n5\nmore\nend\n"
    assert time.monotonic() - t < 5
    dy.ok("rm", cid)


def test_follow_stops_at_until(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", "echo first; sleep 30").strip()
    time.sleep(0.3)
    until = time.time() + 1.0
    t = time.monotonic()
    out = dy.ok("logs", "-f", "--until", f"{until:.3f}", cid, timeout=30)
    assert out == "first\n" and time.monotonic() - t < 5
    dy.ok("rm", "-f", cid)
