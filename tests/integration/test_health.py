"""Healthchecks as Docker runs them: --health-* flags and the image's HEALTHCHECK,
probes inside the container, State.Health, ps, health_status events."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time


def _health(dy, cid: str) -> dict | None:
    return json.loads(dy.ok("inspect", "-f", "{{json .State}}", cid)).get("Health")


def _wait_for(dy, cid: str, cond, limit: float = 10.0) -> dict:
    end = time.monotonic() + limit
    h = None
    while time.monotonic() < end:
        h = _health(dy, cid)
        if h and cond(h):
            return h
        time.sleep(0.1)
    raise AssertionError(f"health never got there: {h}")


def test_healthy_then_unhealthy_with_events(dy):
    cid = dy.ok("run", "-d", "--health-cmd", "cat /tmp/ok", "--health-interval", "200ms",
                "--health-retries", "2", "busybox", "sh", "-c",
                "echo fine > /tmp/ok; sleep 1.5; rm /tmp/ok; sleep 30").strip()
    cfg = json.loads(dy.ok("inspect", "-f", "{{json .Config.Healthcheck}}", cid))
    assert cfg == {"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 200_000_000, "Retries": 2}
    h = _wait_for(dy, cid, lambda h: h["Status"] == "healthy")
    assert h["FailingStreak"] == 0 and h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n"
    assert "(healthy)" in next(l for l in dy.ok("ps").splitlines() if l.startswith(cid[:12]))
    h = _wait_for(dy, cid, lambda h: h["Status"] == "unhealthy")
    assert h["FailingStreak"] >= 2
    assert "No such file or directory" in h["Log"][-1]["Output"] and h["Log"][-1]["ExitCode"] == 1
    h = _wait_for(dy, cid, lambda h: h["FailingStreak"] >= 7)
    assert len(h["Log"]) == 5
    assert "(unhealthy)" in next(l for l in dy.ok("ps").splitlines() if l.startswith(cid[:12]))
    events = dy.ok("events", "--since", "1m", "--until", "0s", "--filter", f"container={cid}",
                   "--format", "{{.Action}}")
    assert [e for e in events.split("\n") if e.startswith("health_status")] == [
        "health_status: healthy", "health_status: unhealthy"]
    dy.ok("rm", "-f", cid)


def test_probe_runs_inside_the_container(dy):
    cid = dy.ok("run", "-d", "-h", "probe-host", "-u", "1234", "-e", "WHO=me", "--health-cmd",
                'test "$(hostname) $(id -u) $WHO" = "probe-host 1234 me" && test -e /proc/1/cmdline',
                "--health-interval", "100ms", "busybox", "sleep", "30").strip()
    _wait_for(dy, cid, lambda h: h["Status"] == "healthy")
    dy.ok("rm", "-f", cid)


def test_timeout_kills_the_probe(dy):
    cid = dy.ok("run", "-d", "--health-cmd", "sleep 10", "--health-interval", "100ms",
                "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "30").strip()
    h = _wait_for(dy, cid, lambda h: h["Status"] == "unhealthy")
    entry = h["Log"][0]
    assert entry["ExitCode"] == -1 and entry["Output"] == "Health check exceeded timeout (300ms)"
    dy.ok("rm", "-f", cid)


def test_start_period_failures_do_not_count(dy):
    cid = dy.ok("run", "-d", "--health-cmd", "exit 1", "--health-interval", "100ms",
                "--health-start-period", "30s", "--health-start-interval", "100ms",
                "--health-retries", "1", "busybox", "sleep", "30").strip()
    h = _wait_for(dy, cid, lambda h: len(h["Log"]) >= 3)
    assert h["Status"] == "starting" and h["FailingStreak"] == 0
    assert "(health: starting)" in next(l for l in dy.ok("ps").splitlines() if l.startswith(cid[:12]))
    dy.ok("rm", "-f", cid)


def test_no_healthcheck_and_bad_flags(dy):
    cid = dy.ok("create", "--no-healthcheck", "busybox", "true").strip()
    assert json.loads(dy.ok("inspect", "-f", "{{json .Config.Healthcheck}}", cid)) == {"Test": ["NONE"]}
    dy.ok("rm", cid)
    p = dy("create", "--no-healthcheck", "--health-cmd", "true", "busybox", "true")
    assert p.returncode == 125 and "--no-healthcheck conflicts with --health-* options" in p.stderr
    p = dy("create", "--health-interval", "often", "busybox", "true")
    assert p.returncode == 125
    assert 'invalid argument "often" for "--health-interval" flag: time: invalid duration "often"' in p.stderr
    p = dy("create", "--health-timeout", "500us", "--health-cmd", "true", "busybox", "true")
    assert p.returncode == 125 and "Timeout in Healthcheck cannot be less than 1ms" in p.stderr


def _image_with_healthcheck(dy, tag: str, healthcheck: dict) -> None:
    """busybox's layers under a config that has a HEALTHCHECK, loaded as `tag`."""
    saved = tarfile.open(fileobj=io.BytesIO(dy("save", "busybox", text=False).stdout))
    manifest = json.load(saved.extractfile("manifest.json"))[0]
    config = json.load(saved.extractfile(manifest["Config"]))
    config["config"]["Healthcheck"] = healthcheck
    raw = json.dumps(config).encode()
    name = hashlib.sha256(raw).hexdigest() + ".json"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as out:
        def add(n: str, data: bytes) -> None:
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            out.addfile(ti, io.BytesIO(data))
        for layer in manifest["Layers"]:
            add(layer, saved.extractfile(layer).read())
        add(name, raw)
        add("manifest.json", json.dumps([{"Config": name, "RepoTags": [tag], "Layers": manifest["Layers"]}]).encode())
    p = dy("load", input=buf.getvalue())
    assert p.returncode == 0, p.stderr


def test_image_healthcheck_and_merging_flags(dy):
    tag = "health-image:test"
    _image_with_healthcheck(dy, tag, {"Test": ["CMD", "test", "-e", "/etc/passwd"], "Interval": 100_000_000,
                                      "Retries": 4})
    try:
        cid = dy.ok("run", "-d", tag, "sleep", "30").strip()
        cfg = json.loads(dy.ok("inspect", "-f", "{{json .Config.Healthcheck}}", cid))
        assert cfg == {"Test": ["CMD", "test", "-e", "/etc/passwd"], "Interval": 100_000_000, "Retries": 4}
        _wait_for(dy, cid, lambda h: h["Status"] == "healthy")
        # a flag replaces its own field only
        cid2 = dy.ok("create", "--health-retries", "2", tag, "true").strip()
        cfg = json.loads(dy.ok("inspect", "-f", "{{json .Config.Healthcheck}}", cid2))
        assert cfg == {"Test": ["CMD", "test", "-e", "/etc/passwd"], "Interval": 100_000_000, "Retries": 2}
        cid3 = dy.ok("run", "-d", "--no-healthcheck", tag, "sleep", "30").strip()
        time.sleep(0.4)
        assert _health(dy, cid3) is None
        dy.ok("rm", "-f", cid, cid2, cid3)
    finally:
        dy("rmi", "-f", tag)


def test_probes_stop_with_the_container(dy):
    cid = dy.ok("run", "-d", "--health-cmd", "sleep 5", "--health-interval", "100ms",
                "busybox", "sleep", "30").strip()
    time.sleep(0.5)
    dy.ok("stop", "-t", "1", cid)

    def probes():
        out = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read() == b"/bin/sh\0-c\0sleep 5\0":
                        out.append(pid)
            except OSError:
                pass
        return out

    assert probes() == []
    dy.ok("rm", cid)
