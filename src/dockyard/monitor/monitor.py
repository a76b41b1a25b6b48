"""The per-container monitor: the process that owns a container once it runs.

One small process per running container, in the role conmon plays for podman; there
is no daemon. The engine forks it (from single-threaded code, so no new interpreter
is started); it detaches into its own session and then:

 1. has the runtime fork the container's process at once (it joins its cgroup and
    namespaces meanwhile), opens the container's attach socket (monitor/attach.py)
    while it waits for the engine's go-ahead with the spec, and has the runtime
    start the command with the stdio the monitor holds: stdout and stderr as pipes,
    or with `-t` a pty made inside the container whose master it receives
    (runtime/native/console.py); stdin is the caller's, a pipe kept open for
    attaching clients, or /dev/null;
 2. records the container as running (pid, start time, a `start` event) and tells
    the caller, over a status pipe: `started <pid>`, or `error <code> <message>`;
 3. copies the container's output into its json-file log and, when a caller is
    attached (`run` without -d, `start -a`), to the caller's stdout and stderr (its
    descriptors, handed over at the fork: the fast path) and to every client of the
    attach socket, and passes their stdin, window sizes and signals on, until the
    process exits (a pidfd says when) and its output is drained; watchers (the
    healthcheck) share the same poll loop;
 4. reads the OOM counter, removes the cgroup, and asks the restart policy
    (monitor/restart.py): to restart, it records `restarting`, waits the back-off
    (still serving the socket, and giving up as soon as the user stops or removes
    the container), and starts the process again from the bundle's config.json;
    otherwise it records the exit code (`oom` and `die` events), removes the
    container itself for `--rm`, and tells the caller `exit <code>`.

A container that runs longer than a second gets a leaner monitor: the forked one
re-executes itself as a fresh, minimal interpreter that takes over the same
descriptors and child (see _shed): the log, the attach socket and its clients, the
pty master. A host full of idle containers pays about 3 MiB per monitor.

Everything it needs arrives in a MonitorTask; it writes the database directly
(the store is a lower layer), so every command sees a container's state without
a daemon and without reconciliation in the common case.
"""

from __future__ import annotations

import os
import select

from ..core.clock import now_ns
from ..core.files import write_all
from ..core.host import process_start

_READ = 1 << 16
DRAIN_AFTER_EXIT = 2.0  # seconds to wait for stragglers holding the output pipes
SHED_AFTER = 1.0  # seconds a container runs before its monitor sheds its memory (_shed)
RESTART_POLL = 0.1  # seconds between looks at the row while waiting to restart


class MonitorTask:
    """What one monitor must do; built by the engine, handed over by fork.

    attach_out/attach_err/stdin: the attached caller's own descriptors (fast path);
    attach_sock: a pre-connected attach client (`run -t`, `start -a` of a terminal
    container) and attach_streams the streams it wants; tty: give the process a pty;
    open_stdin: the container was created with -i (a restart gets a stdin pipe);
    stdin_once: close its stdin when an attached client's stdin ends;
    restart: (policy name, maximum retries); healthcheck: Config.Healthcheck;
    labels: for the events' attributes."""

    __slots__ = ("cid", "bundle", "db_path", "runtime", "runroot", "cgroups", "cgroup_path",
                 "log_path", "attach_out", "attach_err", "stdin", "keep_stdin_open", "auto_remove",
                 "status_fd", "go_fd", "boot_id", "userns", "tty", "attach_sock", "attach_streams",
                 "open_stdin", "stdin_once", "restart", "healthcheck", "labels")

    def __init__(self, **kw) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


# what of a task survives _shed (the rest is consumed at the start)
_TASK_STATE = ("cid", "bundle", "db_path", "runtime", "runroot", "cgroup_path", "log_path",
               "auto_remove", "status_fd", "boot_id", "userns", "tty", "open_stdin", "stdin_once",
               "restart", "healthcheck", "labels", "attach_out", "attach_err")


def _notify(task: MonitorTask, message: str) -> None:
    if task.status_fd is not None and task.status_fd >= 0:
        if not write_all(task.status_fd, (message + "\n").encode(errors="replace")):
            task.status_fd = -1


def _close_status(task: MonitorTask) -> None:
    if task.status_fd is not None and task.status_fd >= 0:
        try:
            os.close(task.status_fd)
        except OSError:
            pass
    task.status_fd = -1


def run(task: MonitorTask) -> None:
    """Body of the monitor process; never returns."""
    code = 0
    try:
        code = _run(task)
    except BaseException as e:  # the monitor must never die with a traceback
        try:
            _notify(task, f"error 125 monitor failed: {type(e).__name__}: {e}")
        except BaseException:
            pass
        code = 125
    os._exit(0 if code == 0 else 1)


def _detach(keep: list[int]) -> None:
    """A session of our own, stdio on /dev/null, and none of the caller's other
    descriptors: a pipe the caller's caller is reading must not stay open for the
    container's lifetime just because the CLI happened to inherit it."""
    os.setsid()
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    low = 3
    for fd in sorted(set(keep)):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 20)


def _read_go(fd: int) -> tuple | None:
    """The engine's go-ahead: (the container's spec, its Config.Healthcheck or None),
    marshalled, or EOF if it gave up."""
    import marshal

    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return marshal.loads(b"".join(chunks)) if chunks else None


class _Stdio:
    """The descriptors of one run of the container's process: what the child gets,
    what the monitor keeps (output pipes or the pty master, the stdin sink)."""

    def __init__(self, task: MonitorTask, first: bool) -> None:
        self.console = None  # our end of the console socket (tty)
        self.console_child = None
        self.outputs: dict[int, str] = {}
        self.master = -1
        self.sink = -1  # where stdin from attached clients goes
        null = -1
        if task.tty:
            import _socket

            self.console, self.console_child = _socket.socketpair(
                _socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            self.child = (null, null, null)  # the init puts the pty's slave there
            self._close_after = [null]
            return
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        self.outputs = {out_r: "stdout", err_r: "stderr"}
        if first and task.stdin is not None and task.stdin >= 0:
            stdin = task.stdin  # the caller's own (run -i): the fast path
        elif task.keep_stdin_open or (not first and task.open_stdin):
            stdin, self.sink = os.pipe2(os.O_CLOEXEC)  # open until someone attaches
            os.set_blocking(self.sink, False)
        else:
            stdin = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        self.child = (stdin, out_w, err_w)
        self._close_after = [stdin, out_w, err_w]

    def console_fd(self) -> int | None:
        return self.console_child.fileno() if self.console_child is not None else None

    def started(self) -> None:
        """The command runs: drop the child's ends; take the pty master (tty)."""
        self.close_child()
        if self.console is not None:
            from ..runtime.native.console import recv_fd

            got = recv_fd(self.console)
            self.console.close()
            self.console = None
            if got is not None:
                self.master = got[0]
                os.set_blocking(self.master, False)
                self.outputs = {self.master: "stdout"}
                self.sink = self.master

    def close_child(self) -> None:
        for fd in set(self._close_after):
            try:
                os.close(fd)
            except OSError:
                pass
        self._close_after = []
        if self.console_child is not None:
            self.console_child.close()
            self.console_child = None

    def close_all(self) -> None:
        self.close_child()
        if self.console is not None:
            self.console.close()
            self.console = None
        for fd in list(self.outputs):
            os.close(fd)
        self.outputs = {}
        if self.sink >= 0 and self.sink != self.master:
            os.close(self.sink)
        self.sink = self.master = -1


def _prepare(task: MonitorTask, runtime, cg, stdio: _Stdio):
    native = task.runtime == "native"
    namespaces = ("pid", "network", "ipc", "uts", "mount", "cgroup") + (("user",) if task.userns else ())
    procs = cg.procs_files(task.cgroup_path) if native else []
    if native:
        return runtime.prepare(task.cid, task.bundle, stdio.child, procs, cg.mounts(), namespaces,
                               console_fd=stdio.console_fd())
    return runtime.prepare(task.cid, task.bundle, stdio.child, procs, cg.mounts(), namespaces,
                           console=stdio.console_child)


def _run(task: MonitorTask) -> int:
    keep = [fd for fd in (task.attach_out, task.attach_err, task.stdin, task.status_fd, task.go_fd,
                          task.attach_sock) if fd is not None and fd >= 0]
    for fd in keep:
        os.set_inheritable(fd, False)
    _detach(keep)
    with open("/proc/self/comm", "w") as f:
        f.write("dockyard-mon")
    # the engine forked us before loading any of this: these imports overlap with its work
    from .. import cgroups
    from .._sys import libc
    from ..core.host import boot_id
    from ..runtime import get as get_runtime
    from ..errors import DockyardError, StartError

    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    task.boot_id = boot_id()
    native = task.runtime == "native"
    cg = task.cgroups or cgroups.manager()  # the engine made the native runtime's cgroup
    task.cgroups = cg
    stdio = _Stdio(task, first=True)
    try:
        runtime = get_runtime(task.runtime, task.runroot)
        pending = _prepare(task, runtime, cg, stdio)
    except (DockyardError, OSError) as e:
        stdio.close_all()
        if native:
            _destroy_cgroup(cg, task.cgroup_path)
        _notify(task, f"error 125 {e.message if isinstance(e, DockyardError) else e}")
        return 125
    got = _read_go(task.go_fd)
    if got is None:
        pending.abort()
        stdio.close_all()
        if native:
            _destroy_cgroup(cg, task.cgroup_path)
        return 0
    spec, task.healthcheck = got
    from .logfile import open_log

    launched = False
    db = None
    try:
        if native:
            cg.apply(task.cgroup_path, (spec.get("linux") or {}).get("resources") or {})
            for w in cg.warnings:
                _notify(task, f"warning {w}")
        log = open_log(task.log_path, spec)  # json-file (rotating) or none, as the spec says
        launched = True
        pending.launch(spec)
        # loaded and opened while the child mounts the container's root
        from ..store.db import Database

        db = Database(task.db_path)
        pid = pending.wait()
        stdio.started()
    except (DockyardError, OSError) as e:
        if not launched:
            pending.abort()
        stdio.close_all()
        code = e.exit_code if isinstance(e, StartError) else 125
        message = e.message if isinstance(e, DockyardError) else f"cannot open the container's log: {e}"
        if native:
            _destroy_cgroup(cg, task.cgroup_path)
        if db is None:
            from ..store.db import Database

            db = Database(task.db_path)
        _finish_failed_start(task, db, code, message)
        _notify(task, f"error {code} {message}")
        return code
    from . import attach

    session = Session(task, log, None, db)
    session.spec = spec
    if task.attach_sock is not None and task.attach_sock >= 0:
        import _socket

        s = _socket.socket(fileno=task.attach_sock)
        s.setblocking(False)
        session.clients.append(attach.Client(s, set(task.attach_streams or attach.STREAMS), primary=True))
        task.attach_sock = None
    session.begin_run(pid, stdio)
    _record_started(task, db, pid)
    _notify(task, f"started {pid}")
    try:  # made once the command runs, off the start's critical path (attach retries meanwhile)
        session.listener = attach.listen(attach.socket_dir(task.runroot, task.cid))
    except OSError:
        pass  # no attaching to this one; it runs all the same
    session.loop()  # does not return
    return 0


class Session:
    """Everything the monitor holds while the container lives, across runs of its
    process (restarts) and across _shed: the log, the attach socket and clients,
    the current process and its stdio, the watchers."""

    def __init__(self, task: MonitorTask, log, listener, db=None) -> None:
        self.task = task
        self.log = log
        self.listener = listener
        self._db = db
        self.spec: dict | None = None
        self.clients: list = []
        self.pid = 0
        self.pidfd = -1
        self.outputs: dict[int, list] = {}  # fd -> [stream, direct fd or None]
        self.master = -1
        self.sink = -1
        self.sink_buf = b""
        self.close_sink = False
        self.tty_size: tuple[int, int] | None = None
        self.run_started = 0.0  # time.time() the current process started
        self.delay = 0.0  # the restart back-off
        self.watchers: list = []
        self.lean = False  # a re-executed monitor that has not loaded the runtime since

    # ---- plumbing -------------------------------------------------------------

    @property
    def db(self):
        if self._db is None:
            from ..store.db import Database

            self._db = Database(self.task.db_path)
        return self._db

    def close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def load_spec(self) -> dict:
        if self.spec is None:
            from ..core.jsonenc import loads

            with open(self.task.bundle + "/config.json") as f:
                self.spec = loads(f.read())
        return self.spec

    # ---- one run of the process ----------------------------------------------

    def begin_run(self, pid: int, stdio: _Stdio) -> None:
        import time

        task = self.task
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.outputs = {}
        for fd, name in stdio.outputs.items():
            direct = task.attach_out if name == "stdout" else task.attach_err
            self.outputs[fd] = [name, direct if direct is not None and direct >= 0 else None]
        self.master = stdio.master
        self.sink = stdio.sink
        self.sink_buf = b""
        self.close_sink = False
        if self.master >= 0 and self.tty_size is None:
            size = ((self.spec or {}).get("process") or {}).get("consoleSize") or {}
            if size.get("height") and size.get("width"):
                self.tty_size = (size["height"], size["width"])
        self.run_started = time.time()
        self._start_watchers()

    def _start_watchers(self, resume: dict | None = None) -> None:
        hc = self.task.healthcheck
        if not hc or (hc.get("Test") or ["NONE"])[0] == "NONE":
            return
        try:
            from .health import HealthChecker
        except ImportError:
            return
        cg = self.task.cgroups
        procs = cg.procs_files(self.task.cgroup_path) if cg and self.task.runtime == "native" else []
        kw = {"resume": resume} if resume else {}
        try:
            self.watchers.append(HealthChecker(self.task.cid, self.task.db_path, hc, self.pid,
                                               self.load_spec(), procs, **kw))
        except Exception:
            pass  # a healthcheck that cannot run must not take the container down

    def _close_watchers(self) -> None:
        for w in self.watchers:
            try:
                w.close()
            except Exception:
                pass
        self.watchers = []

    def loop(self) -> None:
        """Serve the container until it is over for good; never returns."""
        while True:
            status = self.pump(shed_after=None if self.lean else SHED_AFTER)
            if status is None:
                self.shed()  # does not return
            code = os.waitstatus_to_exitcode(status)
            if code < 0:
                code = 128 - code  # killed by a signal: 128 + its number, like a shell
            if not self.after_exit(code):
                break
        os._exit(0)

    def pump(self, shed_after: float | None = None) -> int | None:
        """Serve the process until it has exited and its output is drained; its wait
        status. With `shed_after`, None instead once it has run that long."""
        import time

        status = None
        deadline = None
        shed_at = None if shed_after is None else self.run_started + shed_after
        while self.outputs or status is None:
            interest: dict[int, int] = {}
            for fd in self.outputs:
                interest[fd] = select.POLLIN
            if self.pidfd >= 0:
                interest[self.pidfd] = select.POLLIN
            if self.listener is not None:
                interest[self.listener.fileno()] = select.POLLIN
            for c in self.clients:
                interest[c.fd] = select.POLLIN | (select.POLLOUT if c.pending else 0)
            if self.sink >= 0 and self.sink_buf:
                interest[self.sink] = interest.get(self.sink, 0) | select.POLLOUT
            wake = None
            for w in self.watchers:
                for fd in w.fds():
                    interest[fd] = interest.get(fd, 0) | select.POLLIN
                t = w.timeout()
                if t is not None:
                    wake = t if wake is None else min(wake, t)
            now = time.time()
            if deadline is not None:
                left = deadline - time.monotonic()
                wake = left if wake is None else min(wake, left)
            elif shed_at is not None:
                if now >= shed_at:
                    return None
                wake = shed_at - now if wake is None else min(wake, shed_at - now)
            poller = select.poll()
            for fd, ev in interest.items():
                poller.register(fd, ev)
            events = poller.poll(None if wake is None else max(0, int(wake * 1000) + 1))
            if deadline is not None and time.monotonic() >= deadline:
                break  # exited, but something it left behind still holds the pipes
            clients = {c.fd: c for c in self.clients}
            listener = self.listener.fileno() if self.listener is not None else -1
            for fd, ev in events:
                if fd == self.pidfd:
                    _, status = os.waitpid(self.pid, 0)
                    os.close(self.pidfd)
                    self.pidfd = -1
                    deadline = time.monotonic() + DRAIN_AFTER_EXIT
                    shed_at = None
                    self._close_watchers()
                    continue
                if fd == self.sink and ev & select.POLLOUT:
                    self._flush_sink()
                if fd in self.outputs and ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    self._output(fd)
                elif fd == listener:
                    self._accept()
                elif fd in clients:
                    self._client_event(clients[fd], ev)
                else:
                    for w in self.watchers:
                        if fd in w.fds():
                            w.on_ready(fd)
            for w in list(self.watchers):
                t = w.timeout()
                if t is not None and t <= 0:
                    w.on_timeout()
        for fd, (name, _) in list(self.outputs.items()):
            self.log.close_stream(name)
            os.close(fd)
        self.outputs = {}
        if status is None:
            _, status = os.waitpid(self.pid, 0)
            if self.pidfd >= 0:
                os.close(self.pidfd)
                self.pidfd = -1
        self._close_watchers()
        if self.sink >= 0 and self.sink != self.master:
            os.close(self.sink)
        self.sink = self.master = -1
        return status

    def _output(self, fd: int) -> None:
        entry = self.outputs[fd]
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: the pty's last slave is closed
        name = entry[0]
        if data:
            self.log.feed(name, data)
            if entry[1] is not None and not write_all(entry[1], data):
                entry[1] = None
            if self.clients:
                from .attach import STREAM_KIND, frame

                msg = frame(STREAM_KIND[name], data)
                for c in list(self.clients):
                    if c.greeted and name in c.wants and not c.send(msg):
                        self._drop(c)
            return
        self.log.close_stream(name)
        del self.outputs[fd]
        if fd == self.sink:
            self.sink = -1
        if fd == self.master:
            self.master = -1
        os.close(fd)

    # ---- attach clients ---------------------------------------------------------

    def _accept(self) -> None:
        import _socket

        from .attach import Client

        while True:
            try:
                fd, _ = self.listener._accept()  # accept4(SOCK_CLOEXEC)
            except OSError:
                return  # EAGAIN: none left
            sock = _socket.socket(fileno=fd)
            sock.setblocking(False)
            self.clients.append(Client(sock))  # refused at its hello while restarting

    def _client_event(self, c, ev: int) -> None:
        if c not in self.clients:
            return
        if ev & select.POLLOUT and not c.flush():
            self._drop(c)
            return
        if not ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
            return
        try:
            data = c.sock.recv(_READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(c)
            return
        from . import attach

        if not c.greeted:
            try:
                data = c.take_hello(data)
            except ValueError:
                self._drop(c)
                return
            if data is None:
                return
            if self.pid == 0 or self.pidfd < 0:
                c.send(attach.frame(attach.REFUSED, b"You cannot attach to a restarting container, "
                                                    b"wait until it is running"))
                self._drop(c, flush=True)
                return
            if not c.send(attach.frame(attach.ACCEPTED, b"tty=1" if self.task.tty else b"tty=0")):
                self._drop(c)
                return
            self._event("attach")
        for kind, payload in c.reader.feed(data):
            if kind == attach.STDIN:
                if "stdin" in c.wants and self.sink >= 0 and not self.close_sink:
                    self.sink_buf += payload
                    self._flush_sink()
            elif kind == attach.STDIN_CLOSE:
                if self.sink >= 0 and self.sink != self.master and self.task.stdin_once:
                    self.close_sink = True
                    self._flush_sink()
            elif kind == attach.RESIZE:
                try:
                    rows, cols = (int(x) for x in payload.split())
                except ValueError:
                    continue
                self.tty_size = (rows, cols)
                if self.master >= 0:
                    from ..runtime.native.console import set_size

                    try:
                        set_size(self.master, rows, cols)
                    except OSError:
                        pass
            elif kind == attach.SIGNAL:
                try:
                    sig = int(payload)
                    if self.pidfd >= 0 and self.pid:
                        import _signal

                        _signal.pidfd_send_signal(self.pidfd, sig)
                except (ValueError, OSError):
                    pass
            elif kind == attach.DETACHED:
                self._event("detach")

    def _flush_sink(self) -> None:
        while self.sink_buf and self.sink >= 0:
            try:
                n = os.write(self.sink, self.sink_buf)
            except BlockingIOError:
                return
            except OSError:
                self.sink_buf = b""
                break
            self.sink_buf = self.sink_buf[n:]
        if self.close_sink and not self.sink_buf and self.sink >= 0 and self.sink != self.master:
            os.close(self.sink)
            self.sink = -1

    def _drop(self, c, flush: bool = False) -> None:
        if c in self.clients:
            self.clients.remove(c)
        if flush and c.pending:
            try:
                c.sock.setblocking(True)
                c.sock.settimeout(1.0)
                c.sock.sendall(c.pending)
            except OSError:
                pass
        c.close()

    def _end_clients(self, code: int) -> None:
        """The process exited: tell every client its exit code and let them go."""
        from .attach import EXIT, frame

        for c in list(self.clients):
            if c.greeted:
                c.send(frame(EXIT, str(code).encode()))
            self._drop(c, flush=True)
        task = self.task
        for attr in ("attach_out", "attach_err"):
            fd = getattr(task, attr)
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
            setattr(task, attr, None)

    # ---- after an exit ----------------------------------------------------------

    def after_exit(self, code: int) -> bool:
        """Record the exit; restart when the policy says so. True when a new run began."""
        import time

        task = self.task
        cg = task.cgroups
        native = task.runtime == "native"
        oom = bool(cg) and cg.oom_killed(task.cgroup_path)
        try:
            if not native:  # the native runtime leaves nothing behind: its mounts died with it
                from ..runtime import get as get_runtime

                get_runtime(task.runtime, task.runroot).delete(task.bundle, task.cid)
        finally:
            if cg and native:
                _destroy_cgroup(cg, task.cgroup_path)
        ran_for = time.time() - self.run_started
        self.pid = 0
        policy = task.restart
        if policy and policy[0] != "no" and not task.auto_remove:
            from . import restart

            row = self.db.one("SELECT manual_stop, restart_count, state FROM containers WHERE id=?", (task.cid,))
            if row is not None and row[2] == "running" and restart.should_restart(
                    policy[0], policy[1], code, row[1], bool(row[0])):
                delay = restart.Backoff(self.delay).next(ran_for)
                self.delay = delay
                if _record_restarting(task, self.db, code, oom):
                    self._end_clients(code)
                    _notify(task, f"exit {code}")
                    _close_status(task)
                    if self._wait_to_restart(delay) and self._restart():
                        return True
                    return False
        self.log.close()
        _record_exited(task, self.db, code, oom)
        self._end_clients(code)
        self._close_listener()
        _notify(task, f"exit {code}")
        return False

    def _close_listener(self) -> None:
        from . import attach

        if self.listener is not None:
            self.listener.close()
            self.listener = None
        attach.remove(attach.socket_dir(self.task.runroot, self.task.cid))

    def _wait_to_restart(self, delay: float) -> bool:
        """Sleep out the back-off, serving the socket (attaching is refused while
        restarting); False when the user stopped or removed the container meanwhile
        (then it is recorded as exited here)."""
        import time

        end = time.monotonic() + delay
        while True:
            row = self.db.one("SELECT manual_stop, state FROM containers WHERE id=?", (self.task.cid,))
            if row is None or row[1] != "restarting" or row[0]:
                if row is not None and row[1] == "restarting":
                    with self.db.write() as c:
                        c.execute("UPDATE containers SET state='exited', pid=0, monitor_pid=NULL "
                                  "WHERE id=? AND state='restarting'", (self.task.cid,))
                self.log.close()
                self._close_listener()
                for c in list(self.clients):
                    self._drop(c)
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            poller = select.poll()
            if self.listener is not None:
                poller.register(self.listener.fileno(), select.POLLIN)
            for c in self.clients:
                poller.register(c.fd, select.POLLIN)
            clients = {c.fd: c for c in self.clients}
            for fd, ev in poller.poll(int(min(left, RESTART_POLL) * 1000) + 1):
                if self.listener is not None and fd == self.listener.fileno():
                    self._accept()
                elif fd in clients:
                    self._client_event(clients[fd], ev)

    def _restart(self) -> bool:
        """Start the process again from the bundle's config.json: fresh cgroup,
        fresh stdio. False when it could not start (recorded as exited)."""
        from ..errors import DockyardError, StartError
        from ..runtime import get as get_runtime

        task = self.task
        self.lean = False
        cg = task.cgroups
        if cg is None:
            from .. import cgroups

            cg = task.cgroups = cgroups.manager()
        native = task.runtime == "native"
        spec = self.load_spec()
        if task.tty and self.tty_size:
            spec.setdefault("process", {})["consoleSize"] = {"height": self.tty_size[0], "width": self.tty_size[1]}
        stdio = _Stdio(task, first=False)
        pending = None
        try:
            if native:
                cg.create(task.cgroup_path, {})
                cg.apply(task.cgroup_path, (spec.get("linux") or {}).get("resources") or {})
            pending = _prepare(task, get_runtime(task.runtime, task.runroot), cg, stdio)
            pending.launch(spec)
            pid = pending.wait()
            stdio.started()
        except (DockyardError, OSError) as e:
            stdio.close_all()
            code = e.exit_code if isinstance(e, StartError) else 125
            message = e.message if isinstance(e, DockyardError) else str(e)
            if native:
                _destroy_cgroup(cg, task.cgroup_path)
            self.log.close()
            with self.db.write() as c:
                c.execute("UPDATE containers SET state='exited', exit_code=?, error=?, pid=0, "
                          "monitor_pid=NULL WHERE id=?", (code, message, task.cid))
            self._close_listener()
            return False
        self.begin_run(pid, stdio)
        _record_started(task, self.db, pid)
        return True

    # ---- events -------------------------------------------------------------------

    def _event(self, action: str, extra: dict | None = None) -> None:
        try:
            with self.db.write() as c:
                _append_event(c, self.task, action, extra)
        except Exception:
            pass

    # ---- shedding -----------------------------------------------------------------

    def shed(self) -> None:
        """Replace this process (a fork of the CLI, with all it imported) by a fresh,
        minimal interpreter that carries on with the same descriptors and children.

        A long-running container's monitor then costs what a bare interpreter costs
        (about 3 MiB PSS instead of 5); short-lived containers never pay for the exec.
        """
        import marshal
        import sys

        task = self.task
        self.close_db()
        watchers = []
        for w in self.watchers:
            watchers.append(w.handover() if hasattr(w, "handover") else None)
        self._close_watchers()
        keep = [self.pidfd, self.log.fd, *self.outputs, *(c.fd for c in self.clients)]
        keep += [e[1] for e in self.outputs.values() if e[1] is not None]
        for fd in (task.status_fd, self.sink, self.listener.fileno() if self.listener else -1):
            if fd is not None and fd >= 0:
                keep.append(fd)
        for fd in keep:
            os.set_inheritable(fd, True)
        cg = task.cgroups
        state = {
            "task": {k: getattr(task, k) for k in _TASK_STATE},
            "cgroups": cg.describe() if cg else None,
            "log": self.log.handover(),
            "outputs": {fd: list(e) for fd, e in self.outputs.items()},
            "pidfd": self.pidfd, "pid": self.pid, "master": self.master, "sink": self.sink,
            "sink_buf": self.sink_buf, "close_sink": self.close_sink, "tty_size": self.tty_size,
            "run_started": self.run_started, "delay": self.delay,
            "listener": self.listener.fileno() if self.listener else -1,
            "clients": [c.describe() for c in self.clients],
            "watchers": [w for w in watchers if w is not None],
        }
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        boot = (f"import sys; sys.path.insert(0, {package_root!r}); "
                "from dockyard.monitor.monitor import resume; resume(sys.argv[1])")
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", boot, marshal.dumps(state).hex()])

    @classmethod
    def restore(cls, state: dict) -> "Session":
        from .attach import Client
        from .logfile import JsonFileWriter

        task = MonitorTask(**state["task"])
        log = JsonFileWriter.from_fd(*state["log"])
        listener = None
        if state["listener"] >= 0:
            import _socket

            listener = _socket.socket(fileno=state["listener"])
            listener.setblocking(False)
            os.set_inheritable(state["listener"], False)
        s = cls(task, log, listener)
        s.outputs = {fd: list(e) for fd, e in state["outputs"].items()}
        s.pidfd, s.pid, s.master, s.sink = state["pidfd"], state["pid"], state["master"], state["sink"]
        s.sink_buf, s.close_sink, s.tty_size = state["sink_buf"], state["close_sink"], state["tty_size"]
        s.run_started, s.delay = state["run_started"], state["delay"]
        s.clients = [Client.restore(d) for d in state["clients"]]
        for fd in (s.pidfd, s.master, s.sink, *s.outputs, *(c.fd for c in s.clients),
                   *(e[1] for e in s.outputs.values() if e[1] is not None)):
            if fd is not None and fd >= 0:
                os.set_inheritable(fd, False)
        if task.status_fd is not None and task.status_fd >= 0:
            os.set_inheritable(task.status_fd, False)
        s.lean = True
        if state["cgroups"]:  # imported only now: the monitor idles with less in memory
            from ..cgroups import from_description

            task.cgroups = from_description(state["cgroups"])
        for handover in state["watchers"]:
            s._start_watchers(resume=handover)
        return s


def resume(state_hex: str) -> None:
    """Entry point of a shed monitor (see Session.shed): finish the job with what it
    was given."""
    import marshal

    try:
        with open("/proc/self/comm", "w") as f:
            f.write("dockyard-mon")  # exec reset it to the interpreter's name
        session = Session.restore(marshal.loads(bytes.fromhex(state_hex)))
        session.loop()
    except BaseException:
        os._exit(1)
    os._exit(0)


def _destroy_cgroup(cg, path: str) -> None:
    try:
        cg.destroy(path)
    except OSError:
        pass


# ---- the container's row and events -------------------------------------------------

def _append_event(conn, task: MonitorTask, action: str, extra: dict | None = None) -> None:
    """A container event (store/events.py) inside the caller's transaction, with
    Docker's attributes: name, image, the labels, then the action's own."""
    from ..store.events import append, container_attributes

    row = conn.execute("SELECT name, image FROM containers WHERE id=?", (task.cid,)).fetchone()
    name, image = row if row is not None else ("", "")
    append(conn, "container", action, task.cid, container_attributes(name, image, task.labels, extra))


def _record_started(task: MonitorTask, db, pid: int) -> None:
    with db.write() as c:
        c.execute("UPDATE containers SET state='running', pid=?, monitor_pid=?, monitor_start=?, "
                  "boot_id=?, started=?, finished=NULL, exit_code=NULL, oom_killed=0, error=NULL "
                  "WHERE id=?", (pid, os.getpid(), process_start(os.getpid()), task.boot_id,
                                 now_ns(), task.cid))
        _append_event(c, task, "start")


def _exit_events(c, task: MonitorTask, code: int, oom: bool) -> None:
    if oom:
        _append_event(c, task, "oom")
    _append_event(c, task, "die", {"exitCode": str(code)})


def _record_restarting(task: MonitorTask, db, code: int, oom: bool) -> bool:
    """running -> restarting with one more restart counted; False when someone
    else changed the row meanwhile (stop, rm -f)."""
    with db.write() as c:
        n = c.execute("UPDATE containers SET state='restarting', exit_code=?, finished=?, oom_killed=?, "
                      "pid=0, restart_count=restart_count+1 WHERE id=? AND state='running' AND manual_stop=0",
                      (code, now_ns(), int(oom), task.cid)).rowcount
        _exit_events(c, task, code, oom)
    return bool(n)


def _record_exited(task: MonitorTask, db, code: int, oom: bool) -> None:
    if task.auto_remove:
        _remove(task, db, (code, oom))
        return
    with db.write() as c:
        c.execute("UPDATE containers SET state='exited', exit_code=?, finished=?, oom_killed=?, "
                  "pid=0, monitor_pid=NULL WHERE id=? AND state IN ('running', 'restarting')",
                  (code, now_ns(), int(oom), task.cid))
        _exit_events(c, task, code, oom)


def _finish_failed_start(task: MonitorTask, db, code: int, message: str) -> None:
    if task.auto_remove:
        _remove(task, db)
        return
    with db.write() as c:
        c.execute("UPDATE containers SET state='created', exit_code=?, error=?, pid=0, "
                  "monitor_pid=NULL WHERE id=?", (code, message, task.cid))


def _remove(task: MonitorTask, db, exited: tuple[int, bool] | None = None) -> None:
    """`--rm`: the container's directory, then its row (the order `rm` uses too);
    `exited`: (exit code, OOM) for the die events, in the same transaction."""
    from ..core.files import rmtree

    rmtree(task.bundle)
    with db.write() as c:
        if exited is not None:
            _exit_events(c, task, *exited)
        _append_event(c, task, "destroy")
        c.execute("DELETE FROM containers WHERE id=?", (task.cid,))
