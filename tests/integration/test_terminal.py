"""Terminals, attach, detach keys and signal proxying, driven like a user drives them.

Interactive sessions run the real CLI on the slave side of a pty pair (pty.fork), so
it sees a real terminal: the test types on the master side and reads the screen.
Output the test waits for is computed by the container (`echo $((40+2))` prints 42,
which the typed line does not contain), so local echo cannot fool it.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

import pytest


class Term:
    """The CLI on a pty: type(), expect(), resize(), wait()."""

    def __init__(self, dy, *args: str, rows: int = 30, cols: int = 100) -> None:
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execvpe(dy.cmd[0], [*dy.cmd, *args], dy.env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.screen = b""
        self.status: int | None = None
        self.set_size(rows, cols)

    def set_size(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def resize(self, rows: int, cols: int) -> None:
        self.set_size(rows, cols)
        os.kill(self.pid, signal.SIGWINCH)

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def expect(self, what: bytes, timeout: float = 10) -> bytes:
        end = time.monotonic() + timeout
        start = len(self.screen)
        while time.monotonic() < end:
            if what in self.screen[start:]:
                return self.screen
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    break
                self.screen += data
        if what in self.screen[start:]:
            return self.screen
        raise AssertionError(f"{what!r} did not appear; the screen since: {self.screen[start:]!r}")

    def wait(self, timeout: float = 15) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                self._drain()
                return self.status
            self._drain(0.05)
        raise AssertionError(f"the CLI did not exit; screen: {self.screen[-300:]!r}")

    def _drain(self, timeout: float = 0) -> None:
        while True:
            r, _, _ = select.select([self.fd], [], [], timeout)
            if not r:
                return
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                return
            if not data:
                return
            self.screen += data

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)


@pytest.fixture
def term(dy):
    made = []

    def start(*args: str, **kw) -> Term:
        t = Term(dy, *args, **kw)
        made.append(t)
        return t

    yield start
    for t in made:
        t.close()


def _ready(t: Term, n: int) -> None:
    """Wait until the shell in the container answers (not just the local echo)."""
    t.type(f"echo $(({n}+1))\r".encode())
    t.expect(f"{n + 1}\r\n".encode())


def test_an_interactive_shell(dy, term):
    t = term("run", "-it", "--rm", "busybox", "sh")
    t.expect(b"# ")
    _ready(t, 41)
    time.sleep(1.1)  # past the monitor's re-exec: the session carries on through it
    # line editing happens in the container's pty: "hel<BS>lo" reaches the shell as "helo"
    t.type(b"echo hel\x7flo-$((1+1))\r")
    t.expect(b"helo-2\r\n")
    # Ctrl-C is a byte to the pty, which interrupts the foreground job, not the shell
    t.type(b"sleep 30\r")
    time.sleep(0.3)
    started = time.monotonic()
    t.type(b"\x03")
    _ready(t, 99)
    assert time.monotonic() - started < 5
    t.type(b"tty\r")
    t.expect(b"/dev/pts/0")
    t.type(b"exit 3\r")
    assert t.wait() == 3


def test_the_window_size_at_start_and_after_a_resize(dy, term):
    t = term("run", "-it", "--rm", "busybox", "sh", rows=31, cols=101)
    t.type(b"stty size\r")
    t.expect(b"31 101\r\n")
    t.resize(42, 123)
    time.sleep(0.2)
    t.type(b"stty size\r")
    t.expect(b"42 123\r\n")
    t.type(b"exit\r")
    assert t.wait() == 0


def test_detach_and_attach_again(dy, term):
    cid = dy.ok("run", "-dit", "busybox", "sh").strip()
    try:
        a = term("attach", cid)
        time.sleep(0.3)
        _ready(a, 10)
        a.type(b"X=kept\r")
        a.type(b"\x10\x11")  # Ctrl-P Ctrl-Q
        assert a.wait() == 1  # docker's attach: "read escape sequence", exit 1
        assert b"read escape sequence" in a.screen
        assert dy.ok("inspect", "-f", "{{.State.Status}}", cid).strip() == "running"
        time.sleep(1.2)  # past the monitor's re-exec: socket, pty and shell survive it
        b = term("attach", "--detach-keys", "ctrl-x,x", cid)
        time.sleep(0.3)
        b.type(b"echo $X-$((2+2))\r")
        b.expect(b"kept-4\r\n")
        b.type(b"\x18x")
        assert b.wait() == 1
        c = term("attach", cid)
        time.sleep(0.3)
        _ready(c, 20)
        c.type(b"exit 7\r")
        assert c.wait() == 7
        assert dy.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid).split() == ["exited", "7"]
    finally:
        dy("rm", "-f", cid)


def test_run_detaches_quietly_and_the_shell_lives_on(dy, term):
    t = term("run", "-it", "--name", "t-detach", "busybox", "sh")
    try:
        _ready(t, 5)
        t.type(b"\x10\x11")
        assert t.wait() == 0
        assert b"read escape sequence" not in t.screen
        assert dy.ok("inspect", "-f", "{{.State.Status}}", "t-detach").strip() == "running"
        a = term("attach", "t-detach")
        time.sleep(0.3)
        _ready(a, 30)
        a.type(b"exit\r")
        assert a.wait() == 0
    finally:
        dy("rm", "-f", "t-detach")


def test_start_attach_interactive_on_a_created_terminal_container(dy, term):
    cid = dy.ok("create", "-it", "busybox", "sh").strip()
    try:
        t = term("start", "-ai", cid)
        _ready(t, 60)
        t.type(b"exit 4\r")
        assert t.wait() == 4
    finally:
        dy("rm", "-f", cid)


def test_it_needs_a_terminal_but_t_alone_does_not(dy):
    p = dy("run", "-it", "--rm", "busybox", "true", input="")
    assert p.returncode == 1 and p.stderr.strip() == "the input device is not a TTY"
    # -t alone: one stream (the pty), recorded as stdout
    p = dy("run", "-t", "--name", "t-onestream", "busybox", "sh", "-c", "echo out; echo err >&2", text=False)
    try:
        assert p.returncode == 0, p.stderr
        assert p.stdout == b"out\r\nerr\r\n" and p.stderr == b""
        logs = dy("logs", "t-onestream", text=False)
        assert logs.stdout == b"out\r\nerr\r\n" and logs.stderr == b""
    finally:
        dy("rm", "-f", "t-onestream")


def test_without_t_stdout_and_stderr_stay_apart(dy):
    p = dy("run", "--name", "t-apart", "busybox", "sh", "-c", "echo out; echo err >&2")
    try:
        assert (p.stdout, p.stderr) == ("out\n", "err\n")
        logs = dy("logs", "t-apart")
        assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    finally:
        dy("rm", "-f", "t-apart")


def test_i_pipes_stdin_through(dy):
    p = dy("run", "-i", "--rm", "busybox", "cat", input="x\ny\n")
    assert p.returncode == 0 and p.stdout == "x\ny\n"


def test_attach_without_a_terminal(dy):
    cid = dy.ok("run", "-di", "busybox", "sh", "-c", "read line; echo got $line; echo oops >&2; exit 6").strip()
    try:
        p = dy("attach", cid, input="hello\n", timeout=20)
        assert p.returncode == 6
        assert p.stdout == "got hello\n" and p.stderr == "oops\n"
        p = dy("attach", cid)
        assert p.returncode == 1 and "You cannot attach to a stopped container, start it first" in p.stderr
    finally:
        dy("rm", "-f", cid)


def test_signals_reach_the_container(dy):
    script = 'trap "echo got USR1; exit 9" USR1; echo ready; while true; do sleep 0.1; done'
    p = subprocess.Popen([*dy.cmd, "run", "--rm", "busybox", "sh", "-c", script], env=dy.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        p.send_signal(signal.SIGUSR1)
        out, err = p.communicate(timeout=15)
        assert out == b"got USR1\n" and p.returncode == 9, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_attach_proxies_signals(dy):
    cid = dy.ok("run", "-d", "busybox", "sh", "-c",
                'trap "echo got TERM; exit 8" TERM; while true; do sleep 0.1; done').strip()
    p = subprocess.Popen([*dy.cmd, "attach", cid], env=dy.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=15)
        assert out == b"got TERM\n" and p.returncode == 8, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        dy("rm", "-f", cid)


def test_stdin_of_a_detached_interactive_container_outlives_an_attach_client(dy):
    """`run -di`: Docker sends StdinOnce false, so a client whose stdin ends does not
    close the container's; `run -i` (attached) sends it true."""
    cid = dy.ok("run", "-di", "busybox", "sh").strip()
    try:
        assert dy.ok("inspect", "-f", "{{.Config.StdinOnce}} {{.Config.AttachStdin}} {{.Config.OpenStdin}}",
                     cid) == "false false true\n"
        p = subprocess.Popen([*dy.cmd, "attach", "--sig-proxy=false", cid], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=dy.env)
        p.stdin.write(b"echo from-attach\n")
        p.stdin.close()  # end of the client's stdin
        deadline = time.monotonic() + 10
        out = b""
        while b"from-attach" not in out and time.monotonic() < deadline:
            out += os.read(p.stdout.fileno(), 4096)
        p.kill()
        p.wait()
        assert b"from-attach" in out
        time.sleep(0.3)
        assert dy.ok("inspect", "-f", "{{.State.Status}}", cid) == "running\n"  # sh still reads its stdin
    finally:
        dy("rm", "-f", cid)
    cid = dy.ok("create", "-i", "busybox", "cat").strip()
    assert dy.ok("inspect", "-f", "{{.Config.StdinOnce}}", cid) == "true\n"
    dy.ok("rm", cid)
