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
"""

from __future__ import annotations

import os

from ..errors import DockyardError, StartError


class Launch:
    def __init__(self, engine, cid: str, runtime: str, *, auto_remove: bool, keep_stdin_open: bool,
                 attach: bool, stdout: int = 1, stderr: int = 2, stdin: int | None = None,
                 userns: bool = False) -> None:
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
        task = monitor.MonitorTask(
            cid=cid, bundle=home, db_path=layout.db, runtime=runtime, runroot=layout.runroot,
            log_path=f"{home}/{cid}-json.log", cgroups=cg, cgroup_path=cgroups.container_path(cid),
            attach_out=os.dup(stdout) if attach else None, attach_err=os.dup(stderr) if attach else None,
            stdin=os.dup(stdin) if stdin is not None else None, keep_stdin_open=keep_stdin_open,
            auto_remove=auto_remove, status_fd=status_w, go_fd=go_r, userns=userns)
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
        for fd in (status_w, go_r, task.attach_out, task.attach_err, task.stdin):
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
        self._reap()

    def go(self, spec: dict):
        """Start the command; returns an Attached handle (attached) or None. Raises
        StartError with Docker's exit code when the command cannot run."""
        import marshal
        from .engine import Attached, _Lines

        try:
            data = memoryview(marshal.dumps(spec))
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
            self.engine._containers().release_start_by_id(self.cid, code, message)
            raise StartError(message, exit_code=code)
        if not self.attach:
            os.close(self._status)
            return None
        return Attached(self.cid, int(line[8:]), self._status, lines)


def _load_spec(engine, cid: str) -> dict:
    spec = engine._specs.pop(cid, None)
    if spec is None:
        import json

        with open(engine.layout.container(cid) + "/config.json") as f:
            spec = json.load(f)
    return spec


def start(engine, ref: str, *, attach: bool, stdout: int, stderr: int, stdin: int | None):
    containers = engine._containers()
    c = containers.get(ref)
    if not containers.claim_start(c):
        return None  # already running: Docker's start is then a no-op
    try:
        spec = _load_spec(engine, c.id)
        open_stdin = bool(c.config.get("Config", {}).get("OpenStdin"))
        userns = any(ns.get("type") == "user" for ns in (spec.get("linux") or {}).get("namespaces") or [])
        launch = Launch(engine, c.id, c.runtime, auto_remove=bool(c.auto_remove),
                        keep_stdin_open=open_stdin and stdin is None, attach=attach,
                        stdout=stdout, stderr=stderr, stdin=stdin, userns=userns)
    except BaseException as e:
        containers.release_start(c, 125, str(e))
        raise
    return launch.go(spec)


def run(engine, image: str, command: list[str] | None, opts, *, detach: bool, stdout: int = 1,
        stderr: int = 2, stdin: int | None = None, progress=None):
    """create + start, with the container's process forked before `create` begins.
    Returns (container id, Attached handle or None)."""
    from ..core.ids import new_id
    from .create import create

    opts.validate()
    cid = new_id()
    launch = Launch(engine, cid, opts.runtime, auto_remove=opts.auto_remove,
                    keep_stdin_open=opts.interactive and stdin is None, attach=not detach,
                    stdout=stdout, stderr=stderr, stdin=stdin, userns=opts.userns not in ("", "host"))
    try:
        c = create(engine, image, command, opts, progress, cid=cid)
        if not engine._containers().claim_start(c):
            raise DockyardError(f"container {cid[:12]} was started by someone else")
        spec = engine._specs.pop(cid)
    except BaseException:
        launch.abort()
        raise
    return cid, launch.go(spec)
