"""What a user sees of containers' status: ps filters and formats, stop/kill/restart/
pause/unpause/rename/top/port, stats, events, inspect --format."""

import json
import os
import re
import select
import signal
import subprocess
import time


def _names(out: str) -> list[str]:
    return out.split()


def test_ps_filters_and_formats(dy):
    dy.ok("run", "-d", "--name", "st-up", "-l", "tier=web", "-l", "team=a", "busybox", "sleep", "60")
    assert dy("run", "--name", "st-three", "-l", "tier=db", "busybox", "sh", "-c", "exit 3").returncode == 3
    dy.ok("create", "--name", "st-new", "busybox", "true")
    fmt = ["--format", "{{.Names}}"]
    assert _names(dy.ok("ps", *fmt)) == ["st-up"] or "st-three" not in dy.ok("ps", *fmt)
    assert _names(dy.ok("ps", "--filter", "status=exited", "--filter", "name=st-", *fmt)) == ["st-three"]
    assert _names(dy.ok("ps", "-a", "--filter", "status=created", "--filter", "name=^st-", *fmt)) == ["st-new"]
    assert sorted(_names(dy.ok("ps", "-a", "-f", "status=created", "-f", "status=exited", "-f", "name=st-", *fmt))) \
        == ["st-new", "st-three"]  # OR within a key, AND across keys
    assert _names(dy.ok("ps", "-a", "--filter", "label=tier=web", *fmt)) == ["st-up"]
    assert sorted(_names(dy.ok("ps", "-a", "--filter", "label=tier", "--filter", "name=st-", *fmt))) == ["st-three", "st-up"]
    assert _names(dy.ok("ps", "-a", "--filter", "label=tier", "--filter", "label=team=a", *fmt)) == ["st-up"]
    assert _names(dy.ok("ps", "-a", "--filter", "exited=3", *fmt)) == ["st-three"]
    assert _names(dy.ok("ps", "-a", "--filter", "name=st-.p$", *fmt)) == ["st-up"]  # names are regular expressions
    cid = dy.ok("ps", "-aq", "--no-trunc", "--filter", "name=st-new").strip()
    assert _names(dy.ok("ps", "-a", "--filter", f"id={cid[:10]}", *fmt)) == ["st-new"]
    assert _names(dy.ok("ps", "-a", "--filter", "before=st-new", "--filter", "name=st-", *fmt)) == ["st-three", "st-up"]
    assert _names(dy.ok("ps", "-a", "--filter", "since=st-up", "--filter", "name=st-", *fmt)) == ["st-new", "st-three"]
    assert _names(dy.ok("ps", "-n", "2", *fmt)) == ["st-new", "st-three"]
    assert _names(dy.ok("ps", "-l", *fmt)) == ["st-new"]
    assert "st-up" in _names(dy.ok("ps", "--filter", "health=none", *fmt))
    assert "st-up" in _names(dy.ok("ps", "-a", "--filter", "ancestor=busybox", *fmt))
    p = dy("ps", "--filter", "status=sleeping")
    assert p.returncode == 1 and "invalid filter 'status=sleeping'" in p.stderr
    p = dy("ps", "--filter", "colour=red")
    assert (p.returncode, p.stderr) == (1, "Error: invalid filter 'colour'\n")

    out = dy.ok("ps", "--filter", "name=st-up", "--format", "table {{.ID}}\\t{{.Names}}\\t{{.Label \"tier\"}}")
    lines = out.splitlines()
    assert re.fullmatch(r"CONTAINER ID\s+NAMES\s+", lines[0] + " ") and lines[0].startswith("CONTAINER ID   NAMES")
    assert re.fullmatch(r"[0-9a-f]{12}   st-up     web", lines[1])
    row = json.loads(dy.ok("ps", "--filter", "name=st-up", "--format", "json"))
    assert row["Names"] == "st-up" and row["State"] == "running" and row["Labels"] == "team=a,tier=web"
    assert row["Command"] == '"sleep 60"' and len(row["ID"]) == 12
    out = dy.ok("ps", "-s", "--filter", "name=st-up")
    assert out.splitlines()[0].endswith("NAMES     SIZE") and re.search(r"\dB \(virtual \d[\d.]*[kM]?B\)", out)
    p = dy("ps", "--format", "{{.Nope}}")
    assert p.returncode == 1 and p.stderr.startswith('template parsing error: template: :1:2: executing "" at <.Nope>')
    p = dy("ps", "--format", "{{.Names")
    assert (p.returncode, p.stderr) == (1, "template parsing error: template: :1: unclosed action\n")


def test_stop_restart_kill_and_their_events(dy):
    cid = dy.ok("run", "-d", "--name", "st-life", "busybox", "sleep", "60").strip()
    t0 = time.time()
    assert dy.ok("stop", "-t", "1", "st-life") == "st-life\n"  # sleep ignores SIGTERM as PID 1: killed after 1 s
    assert 0.9 < time.time() - t0 < 8
    assert re.search(r"Exited \(137\)", dy.ok("ps", "-a", "--filter", "name=st-life"))
    assert dy.ok("restart", "-t", "1", "st-life") == "st-life\n"
    assert dy.ok("inspect", "-f", "{{.State.Status}}", "st-life") == "running\n"
    assert dy.ok("kill", "-s", "SIGUSR1", "st-life") == "st-life\n"  # ignored by PID 1: still up
    assert dy.ok("inspect", "-f", "{{.State.Running}}", "st-life") == "true\n"
    assert dy.ok("kill", "st-life") == "st-life\n"
    assert dy.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "st-life") == "exited 137\n"
    p = dy("kill", "st-life", "no-such-ctr")
    assert p.returncode == 1 and "is not running" in p.stderr and "No such container: no-such-ctr" in p.stderr
    p = dy("kill", "-s", "NOPE", "st-life")
    assert p.returncode == 125 and "Invalid signal: NOPE" in p.stderr
    out = dy.ok("events", "--since", "2m", "--until", "0s", "--filter", f"container={cid[:12]}",
                "--format", "{{.Action}}{{with .Actor.Attributes.signal}}:{{.}}{{end}}")
    assert out.split() == ["create", "start", "kill:15", "kill:9", "die", "stop", "start", "restart",
                           "kill:10", "kill:9", "die"]
    # a stop signal the process acts on: Exited (143)
    dy.ok("run", "-d", "--name", "st-term", "busybox", "sh", "-c", "trap 'exit 143' TERM; while :; do sleep 0.1; done")
    t0 = time.time()
    dy.ok("stop", "st-term")
    assert time.time() - t0 < 5
    assert dy.ok("inspect", "-f", "{{.State.ExitCode}}", "st-term") == "143\n"


def test_pause_unpause_rename_top_port(dy):
    cid = dy.ok("run", "-d", "--name", "st-pause", "busybox", "sh", "-c", "while :; do echo x >> /tick; sleep 0.05; done").strip()
    assert dy.ok("pause", "st-pause") == "st-pause\n"
    assert re.search(r"Up .* \(Paused\)", dy.ok("ps", "--filter", "status=paused"))
    assert dy.ok("inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", cid) == "paused true true\n"
    p = dy("pause", "st-pause")
    assert p.returncode == 1 and "is already paused" in p.stderr
    top = dy.ok("top", "st-pause")
    assert re.match(r"UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n", top) and "sh -c while" in top
    assert dy.ok("unpause", "st-pause") == "st-pause\n"
    p = dy("unpause", "st-pause")
    assert p.returncode == 1 and "is not paused" in p.stderr
    assert "USER" in dy.ok("top", "st-pause", "aux").splitlines()[0]
    dy.ok("rename", "st-pause", "st-renamed")
    assert dy.ok("inspect", "-f", "{{.Name}}", cid) == "/st-renamed\n"
    dy.ok("create", "--name", "st-other", "busybox", "true")
    p = dy("rename", "st-renamed", "st-other")
    assert p.returncode == 1 and 'The container name "/st-other" is already in use' in p.stderr
    assert dy.ok("port", "st-renamed") == ""
    p = dy("port", "st-renamed", "80")
    assert (p.returncode, p.stderr) == (1, "Error: No public port '80/tcp' published for st-renamed\n")
    out = dy.ok("events", "--since", "2m", "--until", "0s", "--filter", f"container={cid}", "--filter", "event=rename",
                "--format", "{{json .}}")
    ev = json.loads(out)
    assert ev["Actor"]["Attributes"] == {"image": "busybox", "name": "st-renamed", "oldName": "/st-pause"}
    assert ev["status"] == "rename" and ev["id"] == cid and ev["from"] == "busybox" and ev["scope"] == "local"
    assert ev["timeNano"] // 10**9 == ev["time"]
    actions = dy.ok("events", "--since", "2m", "--until", "0s", "--filter", f"container={cid}",
                    "--format", "{{.Action}}").split()
    assert "pause" in actions and "unpause" in actions and "top" in actions
    dy.ok("rm", "-f", "st-renamed")  # a paused-then-running container goes cleanly


def test_rm_f_of_a_paused_container(dy):
    dy.ok("run", "-d", "--name", "st-frozen", "busybox", "sleep", "60")
    dy.ok("pause", "st-frozen")
    p = dy("rm", "st-frozen")
    assert p.returncode == 1
    dy.ok("rm", "-f", "st-frozen")
    assert "st-frozen" not in dy.ok("ps", "-a")


def test_stats_no_stream_cpu_memory_pids(dy):
    dy.ok("run", "-d", "--name", "st-burn", "busybox", "sh", "-c", "while :; do :; done")
    dy.ok("run", "-d", "--name", "st-mem", "busybox", "sh", "-c",
          "head -c 50m /dev/zero > /dev/shm/fill; sleep 1 & sleep 1 & sleep 60")
    time.sleep(0.5)
    out = dy.ok("stats", "--no-stream", "st-burn", "st-mem")
    lines = out.splitlines()
    assert re.fullmatch(r"CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+NET I/O\s+BLOCK I/O\s+PIDS", lines[0])
    burn = next(l for l in lines if "st-burn" in l).split()
    # one busy thread reads ~100% on an idle machine; the CPUs here are shared with other work
    assert float(burn[2].rstrip("%")) > 5, burn
    mem = next(l for l in lines if "st-mem" in l).split()
    usage = mem[3]
    assert usage.endswith("MiB") and 45 <= float(usage[:-3]) <= 70, mem
    assert mem[-1] in ("2", "3", "4")  # sh and its sleeps
    rows = [json.loads(l) for l in dy.ok("stats", "--no-stream", "--format", "{{json .}}", "st-mem").splitlines()]
    assert rows[0]["Name"] == "st-mem" and rows[0]["NetIO"] == "0B / 0B" and rows[0]["Container"] == "st-mem"
    assert dy.ok("stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}}", "st-burn") == "st-burn: 1\n"
    p = dy("stats", "--no-stream", "no-such-ctr")
    assert p.returncode == 1 and "No such container: no-such-ctr" in p.stderr


def test_stats_streams_tables(dy):
    dy.ok("run", "-d", "--name", "st-stream", "busybox", "sleep", "60")
    proc = subprocess.Popen([*dy.cmd, "stats", "st-stream"], stdout=subprocess.PIPE, text=True, env=dy.env)
    try:
        time.sleep(2.6)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out.count("CONTAINER ID") >= 2 and out.count("st-stream") >= 2 and "\033[" not in out


def test_events_follow_and_filters(dy):
    proc = subprocess.Popen([*dy.cmd, "events", "--filter", "type=container", "--filter", "event=create",
                             "--filter", "event=destroy"], stdout=subprocess.PIPE, env=dy.env)
    try:
        time.sleep(0.5)
        cid = dy.ok("create", "--name", "st-ev", "-l", "z=1", "busybox", "true").strip()
        dy.ok("rm", "st-ev")
        deadline = time.time() + 10
        data = b""
        while data.count(b"\n") < 2 and time.time() < deadline:
            if select.select([proc.stdout], [], [], 0.1)[0]:
                data += os.read(proc.stdout.fileno(), 65536)
        lines = data.decode().splitlines()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert len(lines) == 2, lines
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{9}}(Z|[+-]\d\d:\d\d) container create {cid} "
                        r"\(image=busybox, name=st-ev, z=1\)", lines[0])
    assert f"container destroy {cid} (image=busybox, name=st-ev, z=1)" in lines[1]
    # the log is durable: a later command reads it back, with times as Unix seconds too
    since = str(int(time.time()) - 60)
    out = dy.ok("events", "--since", since, "--until", str(time.time()), "--filter", "label=z=1",
                "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
    assert out.splitlines() == ["container create st-ev", "container destroy st-ev"]
    assert dy.ok("events", "--since", "2m", "--until", "0s", "--filter", "container=st-ev",
                 "--filter", "event=start") == ""
    p = dy("events", "--since", "2m", "--until", "0s", "--format", "{{.Nope}}")
    assert p.returncode == 64 and p.stderr.startswith("Error parsing format: template:")
    p = dy("events", "--filter", "colour=red", "--until", "0s")
    assert (p.returncode, p.stderr) == (1, "Error: invalid filter 'colour'\n")


def test_inspect_format_and_size(dy):
    cid = dy.ok("run", "-d", "--name", "st-insp", "-l", "k=v", "busybox", "sh", "-c", "echo x > /file; sleep 60").strip()
    assert dy.ok("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{json .Config.Cmd}}", cid) == \
        'running 0 ["sh","-c","echo x > /file; sleep 60"]\n'
    assert dy.ok("inspect", "-f", "{{.RestartCount}} {{.Config.Labels.k}} {{index .Config.Labels \"k\"}}", cid) == "0 v v\n"
    assert dy.ok("inspect", "-f", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}} {{.Name | upper}}", cid) == \
        "k=v /ST-INSP\n"
    p = dy("inspect", "-f", "{{.State.Health.Status}}", cid)  # no healthcheck: Docker's error too
    assert p.returncode == 1 and "nil pointer evaluating" in p.stderr
    p = dy("inspect", "-f", "{{.State", cid)
    assert (p.returncode, p.stderr) == (64, "template parsing error: template: :1: unclosed action\n")
    time.sleep(0.3)
    rw, total = dy.ok("inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", cid).split()
    assert 2 <= int(rw) < int(total)
    assert dy.ok("inspect", "--type", "image", "-f", "{{.Os}}", "busybox") == "linux\n"


def test_image_events(dy):
    img = dy.ok("inspect", "-f", "{{.Id}}", "busybox").strip()
    dy.ok("tag", "busybox", "st-tagged:v1")
    dy.ok("rmi", "st-tagged:v1")
    out = dy.ok("events", "--since", "1m", "--until", "0s", "--filter", "type=image", "--filter", f"image={img}",
                "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}")
    lines = out.splitlines()
    assert f"tag {img} st-tagged:v1" in lines and f"untag {img} {img}" in lines


def test_stop_of_a_paused_container(dy):
    dy.ok("run", "-d", "--name", "st-pstop", "busybox", "sleep", "60")
    dy.ok("pause", "st-pstop")
    assert dy.ok("stop", "-t", "1", "st-pstop") == "st-pstop\n"
    assert dy.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "st-pstop") == "exited 137\n"


def test_images_format(dy):
    out = dy.ok("images", "--format", "table {{.Repository}}\\t{{.Tag}}", "busybox")
    assert out.splitlines()[0] == "REPOSITORY   TAG" and "busybox      latest" in out
    row = json.loads(dy.ok("images", "--format", "json", "busybox").splitlines()[0])
    assert row["Repository"] == "busybox" and len(row["ID"]) == 12
    p = dy("images", "--format", "{{.Nope}}")
    assert p.returncode == 1 and "can't evaluate field Nope" in p.stderr
