"""The per-container monitor: the process that owns a container once it runs.

One small process per running container, in the role conmon plays for podman; there
is no daemon. The engine forks it (from single-threaded code, so no new interpreter
is started); it detaches into its own session and then:

 1. has the runtime fork the container's process at once (it joins its cgroup and
    namespaces meanwhile), waits for the engine's go-ahead with the spec, and has
    the runtime start the command with stdout and stderr as pipes the monitor
    holds (stdin: the caller's, a pipe kept open, or /dev/null);
 2. records the container as running (pid, start time) and tells the caller,
    over a status pipe: `started <pid>`, or `error <code> <message>`;
 3. copies the container's output into its json-file log and, when a caller is
    attached (`run` without -d, `start -a`), to the caller's stdout and stderr,
    until the process exits (a pidfd says when) and the pipes are drained;
 4. records the exit code, finish time and whether the OOM killer struck, removes
    the cgroup and the runtime's state, removes the container itself for `--rm`,
    and tells the caller `exit <code>`.

A container that runs longer than a second gets a leaner monitor: the forked one
re-executes itself as a fresh, minimal interpreter that takes over the same
descriptors and child (see _shed), so a host full of idle containers pays about
3 MiB per monitor.

Everything it needs arrives in a MonitorTask; it writes the database directly
(the store is a lower layer), so every command sees a container's state without
a daemon and without reconciliation in the common case.
"""

from __future__ import annotations

import os
import select

from ..core.clock import now_ns

_READ = 1 << 16
DRAIN_AFTER_EXIT = 2.0  # seconds to wait for stragglers holding the output pipes
SHED_AFTER = 1.0  # seconds a container runs before its monitor sheds its memory (_shed)


class MonitorTask:
    """What one monitor must do; built by the engine, handed over by fork."""

    __slots__ = ("cid", "bundle", "db_path", "runtime", "runroot", "cgroups", "cgroup_path",
                 "log_path", "attach_out", "attach_err", "stdin", "keep_stdin_open", "auto_remove",
                 "status_fd", "go_fd", "boot_id", "userns")

    def __init__(self, **kw) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
        return True
    except OSError:
        return False  # the attached client went away: keep logging, stop forwarding


def _notify(task: MonitorTask, message: str) -> None:
    if task.status_fd is not None and task.status_fd >= 0:
        if not _write_all(task.status_fd, (message + "\n").encode(errors="replace")):
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


def _read_go(fd: int) -> dict | None:
    """The engine's go-ahead: the container's spec (marshal), or EOF if it gave up."""
    import marshal

    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return marshal.loads(b"".join(chunks)) if chunks else None


def _run(task: MonitorTask) -> int:
    keep = [fd for fd in (task.attach_out, task.attach_err, task.stdin, task.status_fd, task.go_fd)
            if fd is not None and fd >= 0]
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
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    stdin_keep = -1
    if task.stdin is not None and task.stdin >= 0:
        stdin = task.stdin
    elif task.keep_stdin_open:
        stdin, stdin_keep = os.pipe2(os.O_CLOEXEC)  # `-i -d`: open until someone attaches
    else:
        stdin = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    child_fds = (stdin, out_w, err_w)
    try:
        runtime = get_runtime(task.runtime, task.runroot)
        namespaces = ("pid", "network", "ipc", "uts", "mount", "cgroup") + (("user",) if task.userns else ())
        pending = runtime.prepare(task.cid, task.bundle, child_fds,
                                  cg.procs_files(task.cgroup_path) if native else [], cg.mounts(), namespaces)
    except (DockyardError, OSError) as e:
        if native:
            _destroy_cgroup(cg, task.cgroup_path)
        _notify(task, f"error 125 {e.message if isinstance(e, DockyardError) else e}")
        return 125
    spec = _read_go(task.go_fd)
    if spec is None:
        pending.abort()
        if native:
            _destroy_cgroup(cg, task.cgroup_path)
        return 0
    from .logfile import JsonFileWriter

    launched = False
    db = None
    try:
        if native:
            cg.apply(task.cgroup_path, (spec.get("linux") or {}).get("resources") or {})
            for w in cg.warnings:
                _notify(task, f"warning {w}")
        log = JsonFileWriter(task.log_path)
        launched = True
        pending.launch(spec)
        # loaded and opened while the child mounts the container's root
        from ..store.db import Database

        db = Database(task.db_path)
        pid = pending.wait()
    except (DockyardError, OSError) as e:
        if not launched:
            pending.abort()
        for fd in (out_r, err_r, *child_fds):
            os.close(fd)
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
    for fd in child_fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    _record_started(task, db, pid)
    _notify(task, f"started {pid}")

    streams = {out_r: ["stdout", task.attach_out], err_r: ["stderr", task.attach_err]}
    status = _pump(log, streams, pidfd, pid, shed_after=SHED_AFTER)
    if status is None:
        db.close()
        _shed(task, log, streams, pidfd, pid, stdin_keep)  # does not return
    _finish(task, log, status, stdin_keep, db)
    return 0


def _finish(task: MonitorTask, log, status: int, stdin_keep: int, db=None) -> None:
    """The container has exited: record how, clean up, tell the caller."""
    log.close()
    if stdin_keep >= 0:
        os.close(stdin_keep)
    exit_code = os.waitstatus_to_exitcode(status)
    if exit_code < 0:
        exit_code = 128 - exit_code  # killed by a signal: 128 + its number, like a shell
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
        if db is None:
            from ..store.db import Database

            db = Database(task.db_path)
        _record_exited(task, db, exit_code, oom)
    _notify(task, f"exit {exit_code}")


def _destroy_cgroup(cg, path: str) -> None:
    try:
        cg.destroy(path)
    except OSError:
        pass


def _pump(log, streams: dict[int, list], pidfd: int, pid: int, shed_after: float | None = None) -> int | None:
    """Copy output until the process has exited and its pipes are closed; return its
    wait status. With `shed_after`, return None instead once the process has run that
    long (see _shed). `streams` maps each output pipe to [stream name, attached fd]."""
    import time

    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    status = None
    deadline = None
    shed_at = None if shed_after is None else time.monotonic() + shed_after
    while streams:
        now = time.monotonic()
        if deadline is not None:
            timeout = max(0, int((deadline - now) * 1000))
        elif shed_at is not None:
            if now >= shed_at:
                return None
            timeout = int((shed_at - now) * 1000) + 1
        else:
            timeout = None
        events = poller.poll(timeout)
        if not events and deadline is not None:
            break  # exited, but something it left behind still holds the pipes
        for fd, _ in events:
            if fd == pidfd:
                _, status = os.waitpid(pid, 0)
                poller.unregister(pidfd)
                os.close(pidfd)
                deadline = time.monotonic() + DRAIN_AFTER_EXIT
                shed_at = None
                continue
            entry = streams[fd]
            try:
                data = os.read(fd, _READ)
            except BlockingIOError:
                continue
            if data:
                log.feed(entry[0], data)
                if entry[1] is not None and entry[1] >= 0 and not _write_all(entry[1], data):
                    entry[1] = None
            else:
                log.close_stream(entry[0])
                poller.unregister(fd)
                os.close(fd)
                del streams[fd]
    for fd, (name, _) in list(streams.items()):
        log.close_stream(name)
        os.close(fd)
    if status is None:
        _, status = os.waitpid(pid, 0)
        os.close(pidfd)
    return status


def _shed(task: MonitorTask, log, streams: dict[int, list], pidfd: int, pid: int, stdin_keep: int) -> None:
    """Replace this process (a fork of the CLI, with all it imported) by a fresh,
    minimal interpreter that carries on with the same descriptors and children.

    A long-running container's monitor then costs what a bare interpreter costs
    (about 3 MiB PSS instead of 5); short-lived containers never pay for the exec.
    """
    import marshal
    import sys

    keep = [pidfd, log.fd, *streams, *(e[1] for e in streams.values() if e[1] is not None)]
    for fd in (task.status_fd, stdin_keep):
        if fd is not None and fd >= 0:
            keep.append(fd)
    for fd in keep:
        os.set_inheritable(fd, True)
    cg = task.cgroups
    state = {
        "task": {k: getattr(task, k) for k in ("cid", "bundle", "db_path", "runtime", "runroot",
                                               "cgroup_path", "log_path", "auto_remove", "status_fd",
                                               "boot_id")},
        "cgroups": cg.describe() if cg else None,
        "log": (log.fd, log.partial),
        "streams": {fd: list(e) for fd, e in streams.items()},
        "pidfd": pidfd, "pid": pid, "stdin_keep": stdin_keep,
    }
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    boot = (f"import sys; sys.path.insert(0, {package_root!r}); "
            "from dockyard.monitor.monitor import resume; resume(sys.argv[1])")
    os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", boot, marshal.dumps(state).hex()])


def resume(state_hex: str) -> None:
    """Entry point of a shed monitor (see _shed): finish the job with what it was given."""
    import marshal

    from .logfile import JsonFileWriter

    code = 0
    try:
        with open("/proc/self/comm", "w") as f:
            f.write("dockyard-mon")  # exec reset it to the interpreter's name
        state = marshal.loads(bytes.fromhex(state_hex))
        task = MonitorTask(**state["task"])
        log = JsonFileWriter.from_fd(*state["log"])
        status = _pump(log, state["streams"], state["pidfd"], state["pid"])
        if state["cgroups"]:  # imported only now: the monitor idles with less in memory
            from ..cgroups import from_description

            task.cgroups = from_description(state["cgroups"])
        _finish(task, log, status, state["stdin_keep"])
    except BaseException:
        code = 1
    os._exit(code)


def _record_started(task: MonitorTask, db, pid: int) -> None:
    with db.write() as c:
        c.execute("UPDATE containers SET state='running', pid=?, monitor_pid=?, monitor_start=?, "
                  "boot_id=?, started=?, finished=NULL, exit_code=NULL, oom_killed=0, error=NULL "
                  "WHERE id=?", (pid, os.getpid(), process_start(os.getpid()), task.boot_id,
                                 now_ns(), task.cid))


def _record_exited(task: MonitorTask, db, code: int, oom: bool) -> None:
    if task.auto_remove:
        _remove(task, db)
        return
    with db.write() as c:
        c.execute("UPDATE containers SET state='exited', exit_code=?, finished=?, oom_killed=?, "
                  "pid=0, monitor_pid=NULL WHERE id=?", (code, now_ns(), int(oom), task.cid))


def _finish_failed_start(task: MonitorTask, db, code: int, message: str) -> None:
    if task.auto_remove:
        _remove(task, db)
        return
    with db.write() as c:
        c.execute("UPDATE containers SET state='created', exit_code=?, error=?, pid=0, "
                  "monitor_pid=NULL WHERE id=?", (code, message, task.cid))


def _remove(task: MonitorTask, db) -> None:
    """`--rm`: the container's directory, then its row (the order `rm` uses too)."""
    from ..core.files import rmtree

    rmtree(task.bundle)
    with db.write() as c:
        c.execute("DELETE FROM containers WHERE id=?", (task.cid,))


def process_start(pid: int) -> int:
    """The start time of a process (clock ticks since boot), to tell it from a later
    process that reuses its pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return -1
    return int(data[data.rfind(b")") + 2:].split()[19])
