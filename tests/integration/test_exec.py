"""`exec`: a command that joins a running container - its namespaces, cgroup,
capabilities and seccomp filter - with Docker's exit codes, streams, terminals and
bookkeeping (ExecIDs, exec events)."""

import os
import pty
import select
import shutil
import subprocess
import time

import pytest

from test_userns import subids  # noqa: F401 - the fixture


@pytest.fixture(scope="module")
def box(_shared_store):
    """One long-running container for the read-only checks (cheaper than one each):
    it leaves a file and a marker in its environment to be found by the execs."""
    d = _shared_store
    cid = d.ok("run", "-d", "-e", "FROM_RUN=yes", "-w", "/tmp", "busybox", "sh", "-c",
               "echo written-by-pid1 > /tmp/marker; exec sleep 100000").strip()
    deadline = time.time() + 10
    while d("exec", cid, "test", "-f", "/tmp/marker").returncode != 0 and time.time() < deadline:
        time.sleep(0.05)
    yield cid
    d("rm", "-f", cid)


def status_field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(None, 1)[1].strip()
    raise AssertionError(f"no {name} in {text!r}")


def test_exit_codes_are_the_commands_and_dockers(dy, box):
    assert dy("exec", box, "true").returncode == 0
    p = dy("exec", box, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")  # the two streams stay apart
    p = dy("exec", box, "nope")
    assert p.returncode == 127
    assert p.stderr.strip() == ('OCI runtime exec failed: exec failed: unable to start container process: '
                                'exec: "nope": executable file not found in $PATH: unknown')
    p = dy("exec", box, "/etc")
    assert p.returncode == 126 and "OCI runtime exec failed" in p.stderr
    p = dy("exec", box, "/etc/passwd")  # not executable
    assert p.returncode == 126 and "permission denied" in p.stderr
    p = dy("exec", box, "sh", "-c", "kill -9 $$")
    assert p.returncode == 137
    p = dy("exec", box)
    assert p.returncode == 125 and "requires at least 2 arguments" in p.stderr


def test_environment_workdir_and_user(dy, box):
    out = dy.ok("exec", box, "sh", "-c", 'echo "$FROM_RUN $HOSTNAME $HOME"; pwd; id -u')
    assert out.split() == ["yes", box[:12], "/root", "/tmp", "0"]  # the container's env, WorkingDir, user
    out = dy.ok("exec", "-e", "FOO=bar", "-e", "HOME=/elsewhere", "-w", "/etc", box, "sh", "-c", "env; pwd")
    lines = out.split()
    assert "FOO=bar" in lines and "HOME=/elsewhere" in lines and "FROM_RUN=yes" in lines
    assert lines[-1] == "/etc"
    # a bare -e NAME that we do not have ourselves unsets it, as Docker does
    assert "FROM_RUN=" not in dy.ok("exec", "-e", "FROM_RUN", box, "env")
    out = dy.ok("exec", "-e", "FROM_CLI", box, "sh", "-c", "echo $FROM_CLI", env={"FROM_CLI": "here"})
    assert out == "here\n"
    out = dy.ok("exec", "-u", "nobody", box, "sh", "-c", "id -u; id -g; echo $HOME")
    assert out.split()[:2] == ["65534", "65534"]  # named in the container's own /etc/passwd
    assert out.split()[2] != "/root"
    assert dy.ok("exec", "-u", "1234:5678", box, "id").startswith("uid=1234 gid=5678")
    p = dy("exec", "-u", "no-such-user", box, "true")
    assert p.returncode == 126 and "unable to find user no-such-user" in p.stderr
    p = dy("exec", "-w", "/does/not/exist", box, "pwd")
    assert p.returncode == 127 and 'chdir to cwd ("/does/not/exist")' in p.stderr
    p = dy("exec", "-w", "relative", box, "pwd")
    assert p.returncode == 126 and "Cwd must be an absolute path" in p.stderr


def test_it_is_inside_the_container(dy, box):
    """PID namespace (the container's PID 1 is there), UTS, mounts, cgroup."""
    out = dy.ok("exec", box, "sh", "-c",
                "tr '\\0' ' ' < /proc/1/cmdline; echo; hostname; cat /tmp/marker; echo $$")
    cmdline, hostname, marker, pid = out.splitlines()
    assert cmdline.strip() == "sleep 100000"
    assert hostname == box[:12]
    assert marker == "written-by-pid1"
    assert 1 < int(pid) < 100  # a small number of the container's PID namespace
    out = dy.ok("exec", box, "sh", "-c", "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup")
    mine, theirs = out.split("--\n")
    assert sorted(mine.split()) == sorted(theirs.split())
    # what the exec writes, the container sees
    dy.ok("exec", box, "sh", "-c", "echo from-exec > /tmp/from-exec")
    assert dy.ok("exec", box, "cat", "/tmp/from-exec") == "from-exec\n"


def test_same_capabilities_seccomp_and_no_new_privs(dy, box):
    out = dy.ok("exec", box, "sh", "-c", "cat /proc/self/status; echo ====; cat /proc/1/status")
    mine, pid1 = out.split("====\n")
    for field in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp"):
        assert status_field(mine, field) == status_field(pid1, field), field
    assert status_field(mine, "Seccomp") == "2"  # a filter, as in the container
    priv = dy.ok("exec", "--privileged", box, "cat", "/proc/self/status")
    assert int(status_field(priv, "CapEff"), 16) > int(status_field(pid1, "CapEff"), 16)


def test_interactive_stdin_and_no_stdin(dy, box):
    assert dy.ok("exec", "-i", box, "sh", "-c", "tr a-z A-Z", input="piped in\n") == "PIPED IN\n"
    # without -i the command reads nothing
    assert dy.ok("exec", box, "cat", input="ignored\n") == ""


def test_detached_exec_runs_on_and_is_recorded(dy, box):
    t = time.monotonic()
    p = dy("exec", "-d", box, "sh", "-c", "sleep 0.5; echo done > /tmp/detached; exit 7")
    assert p.returncode == 0 and p.stdout == "" and time.monotonic() - t < 5
    ids = dy.ok("inspect", "-f", "{{json .ExecIDs}}", box).strip()
    assert ids.startswith('["') and len(ids.split(",")) == 1
    exec_id = ids[2:-2]
    engine = dy.engine()
    try:
        deadline = time.time() + 10
        while engine.exec_inspect(exec_id)["Running"] and time.time() < deadline:
            time.sleep(0.05)
        doc = engine.exec_inspect(exec_id)
        assert (doc["Running"], doc["ExitCode"], doc["ContainerID"]) == (False, 7, box)
        assert doc["ProcessConfig"]["entrypoint"] == "sh"
        from dockyard.store import events

        evs = [e for e in events.read(engine.db) if e.actor == box and e.attributes.get("execID") == exec_id]
        assert [e.action for e in evs] == ["exec_create: sh -c sleep 0.5; echo done > /tmp/detached; exit 7",
                                           "exec_start: sh -c sleep 0.5; echo done > /tmp/detached; exit 7",
                                           "exec_die"]
        assert evs[-1].attributes["exitCode"] == "7"
    finally:
        engine.close()
    assert dy.ok("exec", box, "cat", "/tmp/detached") == "done\n"
    assert dy.ok("inspect", "-f", "{{json .ExecIDs}}", box).strip() == "null"
    # the keeper reaped it: no zombie left in the container
    assert "Z" not in dy.ok("exec", box, "sh", "-c", "cat /proc/[0-9]*/stat | cut -d' ' -f3").split()


def test_exec_into_a_container_that_is_not_running(dy):
    cid = dy.ok("create", "busybox", "true").strip()
    p = dy("exec", cid, "true")
    assert p.returncode == 1
    assert p.stderr.strip() == f"Error: container {cid} is not running"
    dy.ok("start", "-a", cid)
    p = dy("exec", cid[:12], "true")
    assert p.returncode == 1 and f"container {cid} is not running" in p.stderr
    p = dy("exec", "no-such-container", "true")
    assert p.returncode == 1 and "No such container: no-such-container" in p.stderr


def test_paused_container_is_refused(dy):
    cid = dy.ok("run", "-d", "busybox", "sleep", "1000").strip()
    if dy("pause", cid).returncode != 0:
        pytest.skip("pause is not available")
    try:
        p = dy("exec", cid, "true")
        assert p.returncode == 1 and "is paused, unpause the container before exec" in p.stderr
    finally:
        dy("unpause", cid)


def _on_a_terminal(dy, args: list[str], rows: int = 33, cols: int = 111, keys: list[bytes] = (),
                   until: bytes = b"", timeout: float = 15) -> tuple[int, bytes]:
    """Run the CLI with a pty as its terminal (of the given size); type `keys`, one
    after another once `until` (or anything) has been printed; returns (exit code, output)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen([*dy.cmd, *args], stdin=slave, stdout=slave, stderr=slave, env=dy.env,
                         start_new_session=True, close_fds=True)
    os.close(slave)
    out = b""
    keys = list(keys)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if keys and (until in out if until else out):
                time.sleep(0.2)
                os.write(master, keys.pop(0))
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                if not data:
                    break
                out += data
            elif p.poll() is not None and not keys:
                break
        return p.wait(timeout=5), out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


def test_tty_is_a_pty_of_the_container_sized_like_ours(dy, box):
    code, out = _on_a_terminal(dy, ["exec", "-it", box, "sh", "-c", "tty; stty size; echo $TERM; exit 5"])
    assert code == 5, out
    lines = out.decode().replace("\r", "").split("\n")
    assert lines[0].startswith("/dev/pts/")
    assert lines[1] == "33 111"
    assert lines[2] == "xterm"
    # without a terminal on our side, -it is refused, as Docker does
    p = dy("exec", "-it", box, "true")
    assert p.returncode == 1 and "the input device is not a TTY" in p.stderr
    # -t alone works without one
    assert dy("exec", "-t", box, "tty").stdout.startswith("/dev/pts/")


def test_detach_keys_leave_the_process_running(dy):
    cid = dy.ok("run", "-d", "busybox", "sleep", "1000").strip()
    code, out = _on_a_terminal(dy, ["exec", "-it", cid, "sh"], keys=[b"echo $((6*7))\r", b"\x10\x11"],
                               until=b"# ")
    assert code == 1 and b"42" in out and b"read escape sequence" in out, out
    # the shell is still there, as an exec of the container
    ids = dy.ok("inspect", "-f", "{{json .ExecIDs}}", cid).strip()
    assert ids != "null"
    assert "sh" in dy.ok("exec", cid, "ps", "-o", "comm").split()


def test_engine_api(dy, box):
    engine = dy.engine()
    r, w = os.pipe()
    try:
        code = engine.exec(box, ["sh", "-c", "echo via-api; exit 4"], stdout=w, stderr=w)
        os.close(w)
        w = -1
        assert code == 4
        assert os.read(r, 100) == b"via-api\n"
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
        engine.close()


def test_exec_in_a_user_namespace(dy, subids):  # noqa: F811
    cid = dy.ok("run", "-d", "--userns=auto", "busybox", "sleep", "1000").strip()
    out = dy.ok("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map; cat /proc/self/status; echo ====; "
                                         "cat /proc/1/status; touch /made-by-exec; stat -c %u /made-by-exec")
    head, pid1 = out.split("====\n")
    lines = head.split("\n")
    assert lines[0] == "0"  # root inside
    assert lines[1].split()[:2] == ["0", str(int(lines[1].split()[1]))] and int(lines[1].split()[1]) >= 1000000
    assert status_field(head, "CapEff") == status_field(pid1, "CapEff")
    assert pid1.strip().splitlines()[-1] == "0"  # the file belongs to the container's root
    assert dy.ok("exec", "-u", "nobody", cid, "id", "-u") == "65534\n"


def test_exec_into_a_runc_container(dy):
    if not shutil.which("runc"):
        pytest.skip("runc is not installed")
    cid = dy.ok("run", "-d", "--runtime", "runc", "busybox", "sleep", "1000").strip()
    p = dy("exec", cid, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; hostname; exit 3")
    assert p.returncode == 3 and p.stdout.split() == ["sleep", "1000", cid[:12]]
    assert dy("exec", cid, "nope").returncode == 127
    assert dy.ok("exec", "-i", cid, "cat", input="through runc\n") == "through runc\n"
    assert dy("exec", "-t", cid, "tty").stdout.startswith("/dev/pts/")
