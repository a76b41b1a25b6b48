"""create / start / ps / logs / stop / kill / wait / rm / system prune, as the seed
primer walks through them."""

import re
import time


def test_create_then_start_attached(dy):
    cid = dy.ok("create", "busybox", "echo", "hi", "there").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    assert "Created" in dy.ok("ps", "-a", "--no-trunc").split(cid)[1].split("\n")[0]
    p = dy("start", "-a", cid)
    assert (p.returncode, p.stdout) == (0, "hi there\n")
    assert dy.ok("logs", cid) == "hi there\n"


def test_start_detached_prints_what_was_given_and_logs_accumulate(dy):
    cid = dy.ok("create", "--name", "twice", "busybox", "echo", "hi").strip()
    assert dy.ok("start", "twice") == "twice\n"
    assert dy.ok("wait", "twice") == "0\n"
    dy.ok("start", cid[:12])
    dy.ok("wait", cid)
    assert dy.ok("logs", "twice") == "hi\nhi\n"


def test_start_a_returns_the_containers_exit_code(dy):
    cid = dy.ok("create", "busybox", "sh", "-c", "echo bad >&2; exit 4").strip()
    p = dy("start", "-a", cid)
    assert (p.returncode, p.stderr) == (4, "bad\n")


def test_ps_columns_and_statuses(dy):
    cid = dy.ok("run", "-d", "--name", "ps-running", "busybox", "sleep", "30").strip()
    assert dy("run", "--name", "ps-exited", "busybox", "sh", "-c", "exit 3").returncode == 3
    out = dy.ok("ps")
    header = out.splitlines()[0]
    assert re.fullmatch(r"CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES", header)
    assert "ps-running" in out and "ps-exited" not in out
    line = next(l for l in out.splitlines() if "ps-running" in l)
    assert line.startswith(cid[:12]) and '"sleep 30"' in line and re.search(r"Up (Less than a second|\d+ seconds?)", line)
    out = dy.ok("ps", "-a")
    line = next(l for l in out.splitlines() if "ps-exited" in l)
    assert re.search(r"Exited \(3\) (Less than a second|\d+ seconds?) ago", line)
    assert cid[:12] + "\n" in dy.ok("ps", "-q") and len(dy.ok("ps", "-q", "--no-trunc").split()[0]) == 64
    assert dy.ok("ps", "-a", "--no-trunc").count(cid) == 1
    dy.ok("rm", "-f", cid, "ps-exited")


def test_ps_truncates_long_commands(dy):
    dy.ok("create", "--name", "longcmd", "busybox", "sh", "-c", "echo a very long command line here")
    line = next(l for l in dy.ok("ps", "-a").splitlines() if "longcmd" in l)
    assert '"sh -c \'echo a very l\u2026"' in line or '"sh -c echo a very l\u2026"' in line
    assert "echo a very long command line here" in dy.ok("ps", "-a", "--no-trunc")
    dy.ok("rm", "longcmd")


def test_logs_while_running_and_streams_apart(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", "echo one; echo two >&2; sleep 30").strip()
    for _ in range(100):
        p = dy("logs", cid)
        if p.stdout == "one\n" and p.stderr == "two\n":
            break
        time.sleep(0.05)
    assert (p.stdout, p.stderr) == ("one\n", "two\n")
    assert dy.ok("logs", "-t", cid).split(" ", 1)[1] == "one\n"
    dy.ok("rm", "-f", cid)


def test_logs_tail_and_follow(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo $i; done; sleep 1; echo end").strip()
    assert dy.ok("logs", "-f", cid) == "1\n2\n3\n4\n5\nend\n"
    assert dy.ok("logs", "--tail", "2", cid) == "5\nend\n"
    dy.ok("rm", cid)


def test_stop_sends_sigterm_then_kills(dy):
    trap = dy.ok("run", "-d", "busybox", "sh", "-c", "trap 'exit 143' TERM; while true; do sleep 0.1; done").strip()
    t = time.monotonic()
    assert dy.ok("stop", trap) == trap + "\n"
    assert time.monotonic() - t < 5
    assert dy.ok("inspect", "-f", "{{.State.ExitCode}}", trap).strip() == "143"
    # PID 1 ignores SIGTERM without a handler: stop waits -t seconds, then SIGKILL
    stubborn = dy.ok("run", "-d", "busybox", "sleep", "60").strip()
    t = time.monotonic()
    dy.ok("stop", "-t", "1", stubborn)
    assert 0.9 < time.monotonic() - t < 8
    assert dy.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", stubborn).strip() == "exited 137"
    assert "Exited (137)" in dy.ok("ps", "-a")
    dy.ok("rm", trap, stubborn)


def test_kill_signal_and_wait(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c", "trap 'exit 10' USR1; while true; do sleep 0.1; done").strip()
    time.sleep(0.3)
    dy.ok("kill", "-s", "USR1", cid)
    assert dy.ok("wait", cid) == "10\n"
    p = dy("kill", cid)
    assert p.returncode == 1 and "is not running" in p.stderr
    assert dy("kill", "-s", "NOPE", cid).returncode != 0
    dy.ok("rm", cid)


def test_rm_refuses_running_without_force(dy):
    cid = dy.ok("run", "-d", "busybox", "sleep", "60").strip()
    p = dy("rm", cid)
    assert p.returncode == 1 and "cannot remove a running container" in p.stderr
    assert dy.ok("rm", "-f", cid) == cid + "\n"
    p = dy("rm", cid)
    assert p.returncode == 1 and "No such container" in p.stderr


def test_names_ids_and_prefixes(dy):
    a = dy.ok("create", "--name", "prefix-test", "busybox", "true").strip()
    assert dy.ok("inspect", "-f", "{{.Id}}", "prefix-test").strip() == a
    assert dy.ok("inspect", "-f", "{{.Name}}", a[:5]).strip() == "/prefix-test"
    assert dy("inspect", "nonexistent-thing").returncode == 1
    dy.ok("rm", a[:12])


def test_random_names(dy):
    a = dy.ok("create", "busybox", "true").strip()
    name = dy.ok("inspect", "-f", "{{.Name}}", a).strip()
    assert re.fullmatch(r"/[a-z]+_[a-z_]+", name)
    dy.ok("rm", a)


def test_system_prune(fresh_dy):
    d = fresh_dy
    keep = d.ok("run", "-d", "busybox", "sleep", "60").strip()
    gone = d.ok("create", "busybox", "true").strip()
    d.ok("run", "busybox", "true")
    p = d("system", "prune", input="n\n")
    assert p.returncode == 0 and "Are you sure you want to continue? [y/N]" in p.stdout
    assert gone in d.ok("ps", "-aq", "--no-trunc")
    out = d.ok("system", "prune", "-f")
    assert out.startswith("Deleted Containers:\n") and gone in out
    assert re.search(r"Total reclaimed space: [\d.]+k?B\n$", out)
    assert d.ok("ps", "-aq", "--no-trunc").split() == [keep]
    d.ok("rm", "-f", keep)
