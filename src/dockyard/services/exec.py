"""`exec`: one more process in a running container, tracked in the `execs` table.

The process itself is made by the container's runtime: runtime.native.exec.spawn
(it joins the container's namespaces and cgroup and takes on its security), or
`runc exec` for a container of an external runtime. It is made by a helper, a
child forked the moment `exec` starts, before anything is looked up:

- while this process loads the database and finds the container, the helper loads
  the runtime's modules (ctypes and the syscall bindings, a few ms: this overlap is
  most of what makes `exec ID true` fast) and keeps the kernel's cgroup semaphore in
  writer mode (see _Helper), so the process's cgroup join does not wait for an RCU
  grace period;
- then it gets the job (the container's process, its namespaces' pid, the OCI
  `process`; marshal over a socketpair), starts the process as its own child and
  answers `started <pid>` (with the pty's master as SCM_RIGHTS, with -t) or
  `error <code> <message>`; at the end `exit <code>`.

Attached without a terminal (the common case) the helper is our child and the
process writes straight to our stdout and stderr (and reads our stdin, with -i):
nothing is copied and the streams stay apart; this process records the exit. With
a terminal (-t) or detached (-d) the helper is a keeper: forked twice (nobody's
child), in a session of its own, it outlives us; when we go (the detach keys, or -d
at once) the process runs on, the keeper drains its pty (the output goes nowhere,
as with Docker) and records its exit itself.

Docker's daemon forgets a container's execs when the container stops. Here rows
of an earlier run of the container (created before its last start) and of removed
containers are deleted when the next exec is recorded, and ExecIDs lists only the
execs of the current run still running (`exec_ids`).

Events, as Docker's daemon logs them: `exec_create: <cmd>` and `exec_start: <cmd>`
(with execID), `exec_die` (with execID and exitCode) when the process ends; none
for a process that could not be started.
"""

from __future__ import annotations

import os

from ..core import jsonenc
from ..core.clock import now_ns
from ..core.files import write_all
from ..errors import Conflict, DockyardError, InvalidArgument, StartError

# the signals `exec` (attached, no terminal) passes on to the process, like `run`'s sig-proxy
PROXIED_SIGNALS = (1, 2, 3, 10, 12, 15)  # HUP INT QUIT USR1 USR2 TERM


class ExecProcess:
    """A started exec. `wait()` gives its exit code. With a terminal, `master` is the
    pty (see `pump`, `resize`, `detach`)."""

    __slots__ = ("id", "container_id", "pid", "master", "detached", "_sock", "_buf", "_helper", "_finish")

    def __init__(self, exec_id: str, container_id: str, sock, helper: int = 0) -> None:
        self.id = exec_id
        self.container_id = container_id
        self.pid = 0
        self.master = -1
        self.detached = False
        self._sock = sock
        self._buf = b""
        self._helper = helper  # our child to reap, when the helper is not a keeper
        self._finish = None  # records the exit, when we are the one to

    def __repr__(self) -> str:
        return f"ExecProcess(id={self.id[:12]!r}, pid={self.pid})"

    def wait(self) -> int:
        """Block until the process exits; its exit code (128 + N for signal N)."""
        if self._sock is None:
            raise DockyardError("this exec is detached: its exit code is recorded, see exec_inspect")
        try:
            while True:
                line = self._line()
                if line is None:
                    raise DockyardError("the exec's helper exited without reporting an exit code")
                if line.startswith("exit "):
                    return self._exited(int(line[5:]))
        finally:
            self.close()

    def _exited(self, code: int) -> int:
        self._reap()
        finish, self._finish = self._finish, None
        if finish is not None:
            finish(code)
        return code

    def _reap(self) -> None:
        if self._helper > 0:
            try:
                os.waitpid(self._helper, 0)
            except ChildProcessError:
                pass
            self._helper = 0

    def _line(self) -> str | None:
        while b"\n" not in self._buf:
            chunk = self._sock.recv(4096)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode(errors="replace")

    def resize(self, rows: int, cols: int) -> None:
        if self.master >= 0 and rows and cols:
            from ..runtime.native.console import set_size

            try:
                set_size(self.master, rows, cols)
            except OSError:
                pass

    def pump(self, stdin: int | None, stdout: int, on_input=None) -> int | None:
        """With a terminal: copy `stdin` (None: nothing) to the pty and the pty to
        `stdout` until the process exits; its exit code. `on_input(data)` may filter
        what is typed, returning (data to forward, detach?): on detach the process is
        left running (its keeper stays with it) and None is returned."""
        import select

        sock_fd = self._sock.fileno()
        poller = select.poll()
        poller.register(sock_fd, select.POLLIN)
        master_open = self.master >= 0
        if master_open:
            poller.register(self.master, select.POLLIN)
        if stdin is not None:
            poller.register(stdin, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == stdin:
                    data = _read(stdin)
                    if not data:
                        poller.unregister(stdin)
                        stdin = None
                        if master_open:
                            write_all(self.master, b"\x04")  # end of input, as a terminal says it
                        continue
                    detach = False
                    if on_input is not None:
                        data, detach = on_input(data)
                    if data and master_open:
                        write_all(self.master, data)
                    if detach:
                        self.detach()
                        return None
                elif fd == self.master:
                    data = _read(self.master)
                    if not data:  # EIO: every holder of the pty's other end is gone
                        poller.unregister(self.master)
                        master_open = False
                        continue
                    write_all(stdout, data)
                elif fd == sock_fd:
                    line = self._line()
                    if line is None or line.startswith("exit "):
                        if master_open:
                            _drain(self.master, stdout)
                        self.close()
                        if line is None:
                            raise DockyardError("the exec's helper exited without reporting an exit code")
                        return self._exited(int(line[5:]))

    def detach(self) -> None:
        """Leave the process to its keeper (which drains its pty from now on)."""
        self.detached = True
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        self._reap()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO from a pty whose other end is closed
        return b""


def _drain(master: int, out: int) -> None:
    """What the process wrote just before it exited (a child of it holding the pty
    would keep it open: give up after a quiet moment)."""
    import select

    p = select.poll()
    p.register(master, select.POLLIN)
    while p.poll(50):
        data = _read(master)
        if not data:
            return
        write_all(out, data)


def _send(sock, text: str) -> None:
    try:
        sock.sendall(text.encode(errors="replace"))
    except OSError:
        pass


# ---- starting ---------------------------------------------------------------------------


def start(engine, ref: str, cmd: list[str], *, tty: bool = False, stdin: int | None = None,
          stdout: int = 1, stderr: int = 2, env: list[str] | None = None, workdir: str | None = None,
          user: str | None = None, privileged: bool = False, detach: bool = False,
          console_size: tuple[int, int] | None = None) -> ExecProcess:
    """Start `cmd` in the running container `ref` (see Engine.exec_start)."""
    if not cmd:
        raise InvalidArgument("No exec command specified")
    keeper = bool(tty or detach)
    helper = _Helper(engine, keeper, None if keeper else (stdin, stdout, stderr))
    try:
        job = _prepare(engine, ref, cmd, tty, stdin, env or [], workdir, user, privileged, detach,
                       console_size)
        return helper.start(job, detach)
    except BaseException:
        helper.abandon()
        raise


def _prepare(engine, ref, cmd, tty, stdin, env, workdir, user, privileged, detach, console_size) -> "_Job":
    c = engine._containers().get(ref)
    _check_running(c, ref)
    home = engine.layout.container(c.id)
    with open(home + "/config.json", "rb") as f:
        spec = jsonenc.loads(f.read())
    row = engine.db.one("SELECT config FROM containers WHERE id=?", (c.id,))
    config = jsonenc.loads(row[0]) if row else {}
    process = _process(engine, c, spec, config, cmd, tty, env, workdir, user, privileged, console_size)
    record = {"Cmd": list(cmd), "Tty": tty, "User": user or "", "Env": list(env),
              "WorkingDir": workdir or "", "Privileged": privileged,
              "AttachStdin": stdin is not None and not detach, "Detach": detach}
    return _Job(engine, c, config, _new_id(), record, spec, process, now_ns())


def _check_running(c, ref: str) -> None:
    if c.state == "paused":
        raise Conflict(f"Container {ref} is paused, unpause the container before exec")
    if c.state == "restarting":
        raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
    if c.state != "running" or not c.pid:
        raise Conflict(f"container {c.id} is not running")


def _new_id() -> str:
    from ..core.ids import new_id

    return new_id()


def _docker_error(code: int, message: str) -> StartError:
    """The runtime's words as Docker's daemon passes them on."""
    return StartError(f"OCI runtime exec failed: {message}: unknown", exit_code=code)


def _process(engine, c, spec: dict, config: dict, cmd: list[str], tty: bool, env: list[str],
             workdir: str | None, user: str | None, privileged: bool,
             console_size: tuple[int, int] | None) -> dict:
    """The OCI process for the exec: the container's own, with the exec's command,
    environment, working directory, user and terminal."""
    base = spec.get("process") or {}
    process = dict(base)
    process["args"] = list(cmd)
    process["terminal"] = bool(tty)
    if tty and console_size and console_size[0] and console_size[1]:
        process["consoleSize"] = {"height": int(console_size[0]), "width": int(console_size[1])}
    else:
        process.pop("consoleSize", None)
    if workdir:
        if not workdir.startswith("/"):
            raise StartError("OCI runtime exec failed: exec failed: Cwd must be an absolute path: unknown",
                             exit_code=126)
        process["cwd"] = workdir
    pairs = [e.partition("=") for e in base.get("env") or []]
    if tty:
        pairs.append(("TERM", "=", "xterm"))
    if user:
        uid, gid, groups, home = _resolve_user(engine, c, config, user)
        process["user"] = {**(base.get("user") or {}), "uid": uid, "gid": gid, "additionalGids": groups}
        if not any(e.startswith("HOME=") for e in (config.get("Config") or {}).get("Env") or []):
            pairs.append(("HOME", "=", home))
    if privileged:
        from ..oci.capabilities import NUMBERS

        every = sorted(NUMBERS, key=NUMBERS.__getitem__)
        process["capabilities"] = {"bounding": every, "effective": every, "permitted": every,
                                   "inheritable": [], "ambient": []}
    process["env"] = _merge_env(pairs, env)
    return process


def _merge_env(pairs: list[tuple[str, str, str]], overrides: list[str]) -> list[str]:
    """Docker's ReplaceOrAppendEnvValues: K=V replaces K or is appended; a bare K
    removes it."""
    values: dict[str, str | None] = {}
    for k, eq, v in pairs:
        if eq:
            values[k] = v
    for item in overrides:
        k, eq, v = item.partition("=")
        if eq:
            values[k] = v
        elif k in values:
            values[k] = None
    return [f"{k}={v}" for k, v in values.items() if v is not None]


def _resolve_user(engine, c, config: dict, user: str) -> tuple[int, int, list[int], str]:
    """-u, with names from the container's own /etc/passwd and /etc/group (its
    image's layers under its writable one, read unmounted, as `create` does), and
    the container's --group-add."""
    from ..oci.users import resolve_user
    from ..snapshot import lookup

    img = engine._images().by_id(c.image_id)
    stack = engine._snapshotter().stack(engine.layout.container(c.id), img.layers if img else [])
    group_file = lookup.read(stack, "/etc/group")
    try:
        uid, gid, groups, home = resolve_user(user, lookup.read(stack, "/etc/passwd"), group_file)
    except StartError as e:
        raise StartError(e.message, exit_code=126) from None
    for name in (config.get("HostConfig") or {}).get("GroupAdd") or []:
        g = _group_id(name, group_file)
        if g not in groups:
            groups.append(g)
    return uid, gid, groups, home


def _group_id(name: str, group_file: bytes | None) -> int:
    if name.isdigit():
        return int(name)
    for line in (group_file or b"").decode(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[0] == name and parts[2].isdigit():
            return int(parts[2])
    raise StartError(f"unable to find group {name}: no matching entries in group file", exit_code=126)



class _Job:
    """One exec being started: what the helper needs (`payload`, marshal-able), and
    the exec's row and events, written by this process."""

    def __init__(self, engine, c, config: dict, exec_id: str, record: dict, spec: dict, process: dict,
                 created: int) -> None:
        from .events import container_attributes

        self.db = engine.db
        self.cid = c.id
        self.exec_id = exec_id
        self.record = record
        self.created = created
        self.started = c.started or 0
        self.attributes = container_attributes(c.name, c.image, (config.get("Config") or {}).get("Labels"),
                                               {"execID": exec_id})
        cmd = record["Cmd"]
        self.action = f"{cmd[0]} {' '.join(cmd[1:])}"
        self.payload = {"runtime": c.runtime, "runroot": engine.layout.runroot, "cid": c.id,
                        "bundle": engine.layout.container(c.id), "container_pid": c.pid, "spec": spec,
                        "process": process, "db_path": engine.layout.db, "exec_id": exec_id,
                        "attributes": self.attributes}

    def record_started(self) -> None:
        """The row (running, its pid to come) and Docker's exec_create and exec_start."""
        from ..store import events

        with self.db.write() as conn:
            conn.execute("DELETE FROM execs WHERE container_id=? AND created < ?", (self.cid, self.started))
            conn.execute("DELETE FROM execs WHERE container_id NOT IN (SELECT id FROM containers)")
            conn.execute("INSERT INTO execs (id, container_id, created, config, pid, running, exit_code) "
                         "VALUES (?, ?, ?, ?, NULL, 1, NULL)",
                         (self.exec_id, self.cid, self.created, jsonenc.dumps(self.record)))
            events.append(conn, "container", "exec_create: " + self.action, self.cid, self.attributes,
                          self.created)
            events.append(conn, "container", "exec_start: " + self.action, self.cid, self.attributes)

    def record_pid(self, pid: int) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE execs SET pid=? WHERE id=?", (pid, self.exec_id))

    def record_failed(self, code: int) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE execs SET running=0, exit_code=? WHERE id=?", (code, self.exec_id))

    def record_exit(self, code: int) -> None:
        _record_exit(self.db, self.exec_id, self.cid, self.attributes, code)


def _record_exit(db, exec_id: str, cid: str, attributes: dict, code: int) -> None:
    from ..store import events

    with db.write() as conn:
        conn.execute("UPDATE execs SET running=0, exit_code=? WHERE id=?", (code, exec_id))
        events.append(conn, "container", "exec_die", cid, {**attributes, "exitCode": str(code)})


# ---- the helper ---------------------------------------------------------------------------


class _Helper:
    """The caller's side of the helper process (see the module's docstring)."""

    def __init__(self, engine, keeper: bool, stdio: tuple[int | None, int, int] | None) -> None:
        import _socket

        engine.close()  # an SQLite connection must not cross a fork
        self.keeper = keeper
        self.pid = 0
        self.sock, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            pid = os.fork()
        except BaseException:
            self.sock.close()
            theirs.close()
            raise
        if pid == 0:
            try:
                self.sock.close()
                if not keeper or os.fork() == 0:
                    _helper_main(theirs, keeper, stdio)
            finally:
                os._exit(0)
        theirs.close()
        if keeper:
            os.waitpid(pid, 0)  # the middle process: the keeper is nobody's child
        else:
            self.pid = pid

    def start(self, job: _Job, detach: bool) -> ExecProcess:
        import marshal

        data = marshal.dumps(job.payload)
        self.sock.sendall(len(data).to_bytes(8, "little") + data)
        job.record_started()  # while the helper starts the process
        master, first = _recv_with_fd(self.sock)
        proc = ExecProcess(job.exec_id, job.cid, self.sock, self.pid)
        self.sock, self.pid = None, 0
        proc.master, proc._buf = master, first
        line = proc._line()
        if line is None or not line.startswith("started "):
            code, message = 125, "exec failed: the exec's helper exited before starting the process"
            if line and line.startswith("error "):
                c, _, message = line[6:].partition(" ")
                code = int(c) if c.isdigit() else 125
            proc.close()
            job.record_failed(code)
            raise _docker_error(code, message)
        proc.pid = int(line[8:])
        job.record_pid(proc.pid)
        if self.keeper:
            _send(proc._sock, "recorded\n")  # the keeper records the exit only after this
        else:
            proc._finish = job.record_exit
        if detach:
            proc.detach()
        return proc

    def abandon(self) -> None:
        """No job after all: the helper sees EOF and exits (our child at once)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pid > 0:
            try:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0


def _recv_with_fd(sock) -> tuple[int, bytes]:
    """The helper's first message, and the pty's master when it sent one (-1 if not)."""
    import sys

    import _socket

    data, ancillary, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4 * 4))
    fd = -1
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            for i in range(0, len(payload) - len(payload) % 4, 4):
                got = int.from_bytes(payload[i:i + 4], sys.byteorder)
                if fd < 0:
                    fd = got
                    os.set_inheritable(fd, False)
                else:
                    os.close(got)
    return fd, data


def _helper_main(sock, keeper: bool, stdio) -> None:
    """Body of the helper process; never returns."""
    code = 0
    try:
        _serve(sock, keeper, stdio)
    except BaseException as e:  # never a traceback on the caller's terminal
        _send(sock, f"error 125 exec failed: {type(e).__name__}: {e}\n")
        code = 1
    os._exit(code)


def _serve(sock, keeper: bool, stdio) -> None:
    if keeper:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        keep = sock.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 20)
        try:
            with open("/proc/self/comm", "w") as f:
                f.write("dockyard-exec")
        except OSError:
            pass
        stdio = (0, 1, 2)
    warmth = _CgroupWarmth()
    try:
        # loaded now, while the caller loads the database and finds the container
        from .. import cgroups
        from ..runtime.native import exec as _  # noqa: F401

        cg = cgroups.manager()
        job = _recv_job(sock)
        if job is None:
            return  # the caller gave up
        _run_job(sock, keeper, stdio, job, cg, warmth)
    finally:
        warmth.reap()


def _run_job(sock, keeper: bool, stdio, job: dict, cg, warmth: "_CgroupWarmth") -> None:
    null = -1
    if stdio[0] is None:
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        stdio = (null, stdio[1], stdio[2])
    mine = theirs = None
    if job["process"].get("terminal"):
        import _socket

        mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        pid = _spawn(job, stdio, theirs, cg)
    except StartError as e:
        _send(sock, f"error {e.exit_code} {e.message}\n")
        return
    finally:
        warmth.stop()
        if null >= 0:
            os.close(null)
        if theirs is not None:
            theirs.close()
    master = -1
    if mine is not None:
        from ..runtime.native.console import recv_fd, send_fd

        got = recv_fd(mine)
        mine.close()
        if got is not None:
            master = got[0]
            send_fd(sock, master, f"started {pid}\n".encode())
    if master < 0:
        _send(sock, f"started {pid}\n")
    if not keeper:
        _, status = os.waitpid(pid, 0)
        _send(sock, f"exit {_exit_code(status)}\n")
        return
    _keep(sock, job, pid, master)


class _CgroupWarmth:
    """A throwaway child that keeps the kernel's cgroup_threadgroup_rwsem in writer
    mode until the process has joined the container's cgroup, so that join does not
    wait.

    The first cgroup.procs write after a quiet spell waits for an RCU grace period
    (~10 ms, far more on a busy machine) while the kernel switches that semaphore to
    writer mode, and it switches back a grace period after the last writer. The
    child moves itself into its own cgroup (cgroups.warm_up) every few ms from the
    moment `exec` starts until told to stop (EOF on a pipe): the wait overlaps with
    the start-up instead of following it. (A child of its own, since that first
    write blocks the writer.)"""

    def __init__(self) -> None:
        self.pid = 0
        self.pipe = -1
        try:
            r, w = os.pipe2(os.O_CLOEXEC)
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return
        if pid == 0:
            try:
                os.close(w)
                import select

                from .. import cgroups

                p = select.poll()
                p.register(r, select.POLLIN)
                for _ in range(200):  # a second at most
                    cgroups.warm_up()
                    if p.poll(5):
                        break
            finally:
                os._exit(0)
        os.close(r)
        self.pid, self.pipe = pid, w

    def stop(self) -> None:
        """Tell it to stop (it is reaped by `reap`)."""
        if self.pipe >= 0:
            os.close(self.pipe)
            self.pipe = -1

    def reap(self) -> None:
        self.stop()
        if self.pid > 0:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0


def _recv_job(sock) -> dict | None:
    """The job: 8 bytes of length, then marshal data; None at EOF."""
    import marshal

    head = _recv_exactly(sock, 8)
    if len(head) < 8:
        return None
    return marshal.loads(_recv_exactly(sock, int.from_bytes(head, "little")))


def _recv_exactly(sock, n: int) -> bytes:
    chunks = []
    while n > 0:
        b = sock.recv(min(n, 1 << 16))
        if not b:
            break
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, like a shell


def _spawn(job: dict, stdio: tuple[int, int, int], console, cg) -> int:
    """The process's host pid, our child; StartError with the runtime's words
    ("exec failed: ...") when it cannot run."""
    if job["runtime"] == "native":
        from .. import cgroups
        from ..runtime.native.exec import spawn

        try:
            return spawn(job["container_pid"], job["spec"], job["process"], stdio,
                         cg.procs_files(cgroups.container_path(job["cid"])), console,
                         seccomp_cache=job["runroot"] + "/seccomp")
        except StartError as e:
            raise StartError(f"exec failed: unable to start container process: {e.message}",
                             exit_code=e.exit_code) from None
    from .._sys import libc
    from ..runtime import get

    # runc's process is re-parented to us when `runc exec --detach` exits
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    return get(job["runtime"], job["runroot"]).exec(job["cid"], job["bundle"], job["process"], stdio, console)


def _keep(sock, job: dict, pid: int, master: int) -> None:
    """The keeper's watch: until the process exits, pass the caller nothing (it reads
    the pty itself) but notice when it goes, and from then on drain the pty; then
    record the exit (once the caller has recorded the start) and tell the caller."""
    import select

    pidfd = os.pidfd_open(pid)
    sock_fd = sock.fileno()
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(sock_fd, select.POLLIN)
    attached, recorded, buf = True, False, b""
    status = None

    def hear() -> bool:
        """Read from the caller; False once it is gone."""
        nonlocal buf, recorded
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            return False
        buf += data
        if b"recorded\n" in buf:
            recorded = True
        return True

    while status is None:
        for fd, _ in poller.poll():
            if fd == pidfd:
                _, status = os.waitpid(pid, 0)
            elif fd == sock_fd and attached:
                if not hear():  # the caller went (detached, or killed): drain the pty from now on
                    attached = False
                    poller.unregister(sock_fd)
                    if master >= 0:
                        poller.register(master, select.POLLIN)
            elif fd == master:
                if not _read(master):
                    poller.unregister(master)
                    os.close(master)
                    master = -1
    while attached and not recorded:
        attached = hear()
    code = _exit_code(status)
    from ..store.db import Database

    _record_exit(Database(job["db_path"]), job["exec_id"], job["cid"], job["attributes"], code)
    if attached:
        _send(sock, f"exit {code}\n")


# ---- reading back ---------------------------------------------------------------------------


def exec_ids(engine, c) -> list[str] | None:
    """inspect's ExecIDs: the execs of the container's current run still running
    (None when there are none, as Docker shows it)."""
    if c.state not in ("running", "paused", "restarting"):
        return None
    rows = engine.db.all("SELECT id, pid FROM execs WHERE container_id=? AND running=1 AND created >= ? "
                         "ORDER BY created", (c.id, c.started or 0))
    ids = [i for i, pid in rows if _alive(pid, c.id)]
    return ids or None


def _alive(pid: int | None, cid: str) -> bool:
    """Whether the exec's process still runs: its recorder may have been killed
    before it could record the exit."""
    if not pid:
        return True  # being started
    try:
        with open(f"/proc/{pid}/cgroup", "rb") as f:
            return cid.encode() in f.read()
    except OSError:
        return False


def inspect(engine, exec_id: str) -> dict:
    """Docker's exec inspect document (GET /exec/{id}/json), by full id or unique prefix."""
    from ..errors import NotFound

    rows = engine.db.all("SELECT id, container_id, config, pid, running, exit_code FROM execs "
                         "WHERE id >= ? AND id < ? LIMIT 2", (exec_id, exec_id + "g")) if exec_id else []
    if len(rows) != 1:
        raise NotFound(f"No such exec instance: {exec_id}")
    xid, cid, text, pid, running, exit_code = rows[0]
    cfg = jsonenc.loads(text)
    if running and not _alive(pid, cid):
        running = 0
    cmd = cfg.get("Cmd") or [""]
    return {
        "ID": xid, "Running": bool(running), "ExitCode": exit_code,
        "ProcessConfig": {"tty": cfg.get("Tty", False), "entrypoint": cmd[0], "arguments": cmd[1:],
                          "privileged": cfg.get("Privileged", False), "user": cfg.get("User", "")},
        "OpenStdin": cfg.get("AttachStdin", False), "OpenStderr": not cfg.get("Detach", False),
        "OpenStdout": not cfg.get("Detach", False), "CanRemove": False, "ContainerID": cid,
        "DetachKeys": "", "Pid": pid or 0,
    }
