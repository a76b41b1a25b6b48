"""Starting containers: a monitor per container, forked before it is needed.

A `Launch` creates the container's cgroup and forks the container's monitor (twice,
so the monitor is nobody's child here and nothing has to reap it) as early as
possible, before this process has even loaded the database code. The monitor forks
the container's process at once: that process joins the cgroup (the first
cgroup.procs write waits for an RCU grace period, which the throwaway middle
process of the double fork starts at once: cgroups.warm_up) and unshares its
namespaces while this process resolves the image and writes the bundle. `go(spec)` sends
the spec; the monitor writes the limits from it and answers over a status pipe:
`warning <text>` lines, then `started <pid>` or `error <code> <message>`, and, for
an attached start, `exit <code>` at the end.

An attached start hands the monitor this process's own descriptors (the fast path:
the container writes straight to our stdout and stderr, with no copying) unless the
container has a terminal: then the monitor gets one end of a socketpair as a
pre-connected attach client (monitor/attach.py) and the CLI copies between its
terminal and the socket. `attach` connects to the monitor's attach socket.
"""

from __future__ import annotations

import os

from ..errors import DockyardError, StartError


class Launch:
    def __init__(self, engine, cid: str, runtime: str, *, auto_remove: bool, keep_stdin_open: bool,
                 attach: bool, stdout: int = 1, stderr: int = 2, stdin: int | None = None,
                 userns: bool = False, tty: bool = False, open_stdin: bool = False,
                 stdin_once: bool = False, restart: tuple[str, int] | None = None,
                 labels: dict | None = None) -> None:
        from .. import cgroups
        from ..monitor import monitor

        self.engine = engine
        self.cid = cid
        self.attach = attach
        layout = engine.layout
        cg = None
        if runtime == "native":
            # made here, before the fork, so the warm-up below cannot hold up the
            # mkdirs (a cgroup.procs write holds the cgroup mutex while it waits)
            cg = cgroups.manager()
            cg.create(cgroups.container_path(cid), {})
        home = layout.container(cid)
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        self.conn = None
        attach_sock = None
        direct = attach and not tty
        if attach and tty:
            # the terminal's bytes go through the monitor, which holds the pty master
            import _socket
            from ..monitor.attach import Connection

            mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            self.conn = Connection(mine, tty=True)
            attach_sock = theirs.detach()
        task = monitor.MonitorTask(
            cid=cid, bundle=home, db_path=layout.db, runtime=runtime, runroot=layout.runroot,
            log_path=f"{home}/{cid}-json.log", cgroups=cg, cgroup_path=cgroups.container_path(cid),
            attach_out=os.dup(stdout) if direct else None, attach_err=os.dup(stderr) if direct else None,
            stdin=os.dup(stdin) if stdin is not None and direct else None, keep_stdin_open=keep_stdin_open,
            auto_remove=auto_remove, status_fd=status_w, go_fd=go_r, userns=userns, tty=tty,
            attach_sock=attach_sock, attach_streams=("stdin", "stdout", "stderr") if stdin is not None
            else ("stdout", "stderr"), open_stdin=open_stdin, stdin_once=stdin_once,
            restart=restart, labels=labels)
        engine.close()  # an SQLite connection must not cross a fork
        try:
            pid = os.fork()
        except OSError:
            if cg is not None:
                cg.destroy(cgroups.container_path(cid))
            raise
        if pid == 0:
            try:
                os.close(status_r)
                os.close(go_w)
                if os.fork() == 0:
                    monitor.run(task)
                if cg is not None:
                    cgroups.warm_up()  # spares the container's cgroup join a ~10 ms kernel wait
            finally:
                os._exit(0)
        self._intermediate = pid
        for fd in (status_w, go_r, task.attach_out, task.attach_err, task.stdin, attach_sock):
            if fd is not None:
                os.close(fd)
        self._status = status_r
        self._go = go_w

    def _reap(self) -> None:
        if self._intermediate:
            os.waitpid(self._intermediate, 0)
            self._intermediate = 0

    def abort(self) -> None:
        """The container will not start: the monitor and its child exit quietly."""
        if self._go >= 0:
            os.close(self._go)
            self._go = -1
        os.close(self._status)
        if self.conn is not None:
            self.conn.close()
        self._reap()

    def go(self, spec: dict, healthcheck: dict | None = None):
        """Start the command; returns an Attached handle (attached) or None. Raises
        StartError with Docker's exit code when the command cannot run.
        `healthcheck`: Config.Healthcheck, known only once the container exists."""
        import marshal
        from .engine import Attached, _Lines

        if healthcheck and (healthcheck.get("Test") or ["NONE"])[0] == "NONE":
            healthcheck = None
        try:
            data = memoryview(marshal.dumps((spec, healthcheck)))
            while data:
                data = data[os.write(self._go, data):]
        except BrokenPipeError:
            pass  # the monitor already failed; its status line says why
        finally:
            os.close(self._go)
            self._go = -1
        lines = _Lines(self._status)
        line = lines.next()
        while line is not None and line.startswith("warning "):
            self.engine.warnings.append(line[8:])
            line = lines.next()
        self._reap()
        if line is None or not line.startswith("started "):
            os.close(self._status)
            code, message = 125, "the container's monitor exited before starting it"
            if line and line.startswith("error "):
                c, _, message = line[6:].partition(" ")
                code = int(c) if c.isdigit() else 125
            if self.conn is not None:
                self.conn.close()
            self.engine._containers().release_start_by_id(self.cid, code, message)
            raise StartError(message, exit_code=code)
        if not self.attach:
            os.close(self._status)
            return None
        handle = Attached(self.cid, int(line[8:]), self._status, lines)
        handle.conn = self.conn
        return handle


def _load_spec(engine, cid: str) -> dict:
    spec = engine._specs.pop(cid, None)
    if spec is None:
        import json

        with open(engine.layout.container(cid) + "/config.json") as f:
            spec = json.load(f)
    return spec


def _monitor_options(config: dict) -> dict:
    """What the monitor needs of a container's Config and HostConfig."""
    cfg = config.get("Config") or {}
    host = config.get("HostConfig") or {}
    policy = host.get("RestartPolicy") or {}
    return {"tty": bool(cfg.get("Tty")), "open_stdin": bool(cfg.get("OpenStdin")),
            "stdin_once": bool(cfg.get("StdinOnce")),
            "restart": (policy.get("Name") or "no", policy.get("MaximumRetryCount") or 0),
            "labels": cfg.get("Labels") or {}}


def _with_console_size(spec: dict, size: tuple[int, int] | None) -> dict:
    """The caller's window size as the pty's first size (OCI process.consoleSize)."""
    if size and size[0] and size[1]:
        spec.setdefault("process", {})["consoleSize"] = {"height": size[0], "width": size[1]}
    return spec


def start(engine, ref: str, *, attach: bool, stdout: int, stderr: int, stdin: int | None,
          console_size: tuple[int, int] | None = None):
    containers = engine._containers()
    c = containers.get(ref)
    if not containers.claim_start(c):
        return None  # already running: Docker's start is then a no-op
    try:
        with engine.db.write() as conn:  # a start by the user: the policy counts afresh
            conn.execute("UPDATE containers SET restart_count=0, manual_stop=0 WHERE id=?", (c.id,))
        spec = _load_spec(engine, c.id)
        mo = _monitor_options(c.config)
        userns = any(ns.get("type") == "user" for ns in (spec.get("linux") or {}).get("namespaces") or [])
        launch = Launch(engine, c.id, c.runtime, auto_remove=bool(c.auto_remove),
                        keep_stdin_open=mo["open_stdin"] and (stdin is None or mo["tty"]), attach=attach,
                        stdout=stdout, stderr=stderr, stdin=stdin if mo["open_stdin"] else None,
                        userns=userns, **mo)
    except BaseException as e:
        containers.release_start(c, 125, str(e))
        raise
    return launch.go(_with_console_size(spec, console_size) if mo["tty"] else spec,
                     (c.config.get("Config") or {}).get("Healthcheck"))


def run(engine, image: str, command: list[str] | None, opts, *, detach: bool, stdout: int = 1,
        stderr: int = 2, stdin: int | None = None, progress=None, console_size: tuple[int, int] | None = None):
    """create + start, with the container's process forked before `create` begins.
    Returns (container id, Attached handle or None)."""
    from ..core.ids import new_id
    from .create import create

    opts.validate()
    opts.detach = detach
    cid = new_id()
    launch = Launch(engine, cid, opts.runtime, auto_remove=opts.auto_remove,
                    keep_stdin_open=opts.interactive and (stdin is None or opts.tty), attach=not detach,
                    stdout=stdout, stderr=stderr, stdin=stdin, userns=opts.userns not in ("", "host"),
                    tty=opts.tty, open_stdin=opts.interactive, stdin_once=opts.interactive and not detach,
                    restart=opts.restart_policy(), labels=opts.labels)
    try:
        c = create(engine, image, command, opts, progress, cid=cid)
        if not engine._containers().claim_start(c):
            raise DockyardError(f"container {cid[:12]} was started by someone else")
        spec = engine._specs.pop(cid)
    except BaseException:
        launch.abort()
        raise
    return cid, launch.go(_with_console_size(spec, console_size) if opts.tty else spec,
                          c.config.get("Config", {}).get("Healthcheck"))


def attach(engine, ref: str, *, stdin: bool, stdout: bool = True, stderr: bool = True):
    """Connect to a running container's monitor: (container, monitor.attach.Connection).
    `stdin` only counts for a container created with -i, as in Docker."""
    from ..errors import Conflict
    from ..monitor.attach import Connection, Refused, socket_dir

    c = engine._containers().get(ref)
    if c.state == "restarting":
        raise Conflict("You cannot attach to a restarting container, wait until it is running")
    if c.state == "paused":
        raise Conflict("You cannot attach to a paused container, unpause it first")
    if c.state != "running":
        raise Conflict("You cannot attach to a stopped container, start it first")
    open_stdin = bool((c.config.get("Config") or {}).get("OpenStdin"))
    try:
        conn = _connect(socket_dir(engine.layout.runroot, c.id), stdin and open_stdin, stdout, stderr)
    except Refused as e:
        raise Conflict(str(e) or f"cannot attach to container {c.id[:12]}") from None
    except OSError as e:
        raise Conflict(f"cannot attach to container {c.id[:12]}: its monitor does not answer "
                       f"({e.strerror or e})") from None
    return c, conn


def _connect(directory: str, stdin: bool, stdout: bool, stderr: bool):
    """The monitor opens its socket just after the command starts: a client that
    comes sooner (attach right after `run -d`) waits for it a moment."""
    import time

    from ..monitor.attach import Connection

    deadline = time.monotonic() + 2.0
    while True:
        try:
            return Connection.open(directory, stdin, stdout, stderr)
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def read_output(conn, take) -> int | None:
    """Everything an attach connection brings until the process exits: `take(1 or 2,
    data)` for each piece of output; the exit code (None if the monitor hung up)."""
    try:
        while True:
            frames = conn.read()
            if frames is None:
                return None
            for kind, payload in frames:
                if kind in (b"1", b"2"):
                    take(int(kind), payload)
                elif kind == b"x":
                    return int(payload)
    finally:
        conn.close()
