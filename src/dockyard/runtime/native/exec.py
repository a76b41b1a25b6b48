"""One more process in a running container: `exec`, and the monitor's healthchecks.

`spawn` makes a process that the container's own processes cannot tell from one of
theirs: same namespaces, cgroup, capabilities, no_new_privs, rlimits and seccomp
filter (masked and read-only paths come with the mount namespace). It is forked by
the caller, so the caller is its parent and reaps it, in this order:

 1. the caller points its PID namespace for children at the container's (setns on
    a pidfd of the container's process), forks, and points it back: the child is
    born inside the container's PID namespace (the only way into one);
 2. the child takes its stdio, joins the container's cgroup (as host root, before
    anything else takes that right away), then every other namespace in one
    setns(pidfd, ...) call, the user namespace first when the container has one
    (the kernel orders them); its root and working directory are then the
    container's;
 3. a terminal (`process.terminal`) is made inside the container from its own
    /dev/pts (runtime.native.console) and its master sent over `console_socket`;
    without one the process gets a session of its own, away from the caller's
    terminal, as a container's processes always are;
 4. the rest is what the container's init does before exec (runtime.native.init):
    environment, user and groups, capabilities, rlimits, no_new_privs, seccomp, and
    the command found on the process's PATH.

Failures travel back on a close-on-exec pipe as "<exit code> <message>", Docker's
codes: 127 not found, 126 cannot invoke, 125 otherwise; EOF means the command runs.

Standard library and low layers only: the monitor imports this for healthchecks.
Everything the child needs is imported before the fork, since after it joins the
mount namespace the files of Python and of Dockyard are out of reach.
"""

from __future__ import annotations

import os

from ..._sys import libc
from ...errors import DockyardError, StartError
from . import console, init

# the namespaces joined with the pidfd; the PID namespace is entered by the fork
_JOIN = libc.CLONE_NEWNS | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC | libc.CLONE_NEWNET | libc.CLONE_NEWCGROUP
_F_DUPFD_CLOEXEC = 1030


def spawn(container_pid: int, spec: dict, process: dict, stdio: tuple[int, int, int],
          cgroup_procs: list[str] = (), console_socket=None, *, seccomp_cache: str | None = None) -> int:
    """Start `process` (an OCI `process` object) in the container whose first process
    is `container_pid` (host pid); `spec` is the container's config.json. Returns the
    new process's host pid once its command runs; the caller reaps it. Raises
    StartError (exit_code 126/127/125) when it cannot run.

    `console_socket` (a socket; the caller keeps and closes its copy) receives the
    pty's master when `process["terminal"]` is set. `seccomp_cache` is where compiled
    filters are kept (default: <DOCKYARD_RUNROOT or /run/dockyard>/seccomp)."""
    linux = spec.get("linux") or {}
    program = None
    if linux.get("seccomp"):
        from .seccomp import program as compiled

        cache = seccomp_cache or (os.environ.get("DOCKYARD_RUNROOT") or "/run/dockyard") + "/seccomp"
        program = compiled(linux["seccomp"], cache)
    flags = _JOIN
    if any(ns.get("type") == "user" for ns in linux.get("namespaces") or []):
        flags |= libc.CLONE_NEWUSER
    try:
        pidfd = os.pidfd_open(container_pid)
    except ProcessLookupError:
        raise StartError("the container's process is gone: the container is not running") from None
    try:
        _check_cgroup(container_pid, linux.get("cgroupsPath"))
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = _fork_into_pid_namespace(pidfd)
            if pid == 0:
                _child(pidfd, flags, stdio, err_w, list(cgroup_procs), console_socket, process, program)
            os.close(err_w)
            err_w = -1
            return _wait_exec(pid, err_r)
        finally:
            os.close(err_r)
            if err_w >= 0:
                os.close(err_w)
    finally:
        os.close(pidfd)


def _check_cgroup(pid: int, cgroups_path: str | None) -> None:
    """The pid still belongs to the container (not a later process that reuses it)."""
    if not cgroups_path:
        return
    try:
        with open(f"/proc/{pid}/cgroup", "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    if (":" + cgroups_path.rstrip("/")).encode() not in data:
        raise StartError("the container's process is gone: the container is not running")


def _fork_into_pid_namespace(pidfd: int) -> int:
    own = os.open("/proc/self/ns/pid_for_children", os.O_RDONLY | os.O_CLOEXEC)
    pid = -1
    try:
        libc.setns(pidfd, libc.CLONE_NEWPID)
        pid = os.fork()
    finally:
        if pid != 0:  # the parent (or a failed fork) points its children back
            libc.setns(own, libc.CLONE_NEWPID)
            os.close(own)
    return pid


def _wait_exec(pid: int, err_r: int) -> int:
    chunks = []
    while True:
        b = os.read(err_r, 4096)
        if not b:
            break
        chunks.append(b)
    if not chunks:
        return pid
    os.waitpid(pid, 0)
    code, _, message = b"".join(chunks).decode(errors="replace").partition(" ")
    raise StartError(message, exit_code=int(code) if code.isdigit() else 125)


def _place_fds(fds: list[int]) -> None:
    """fds[i] becomes descriptor i (0-2 inheritable, the rest close-on-exec); every
    other descriptor is closed."""
    import fcntl

    high = [fcntl.fcntl(fd, _F_DUPFD_CLOEXEC, 64) for fd in fds]
    for target, fd in enumerate(high):
        os.dup2(fd, target, inheritable=target < 3)
    os.closerange(len(fds), 1 << 20)


def _child(pidfd: int, flags: int, stdio: tuple[int, int, int], errfd: int, cgroup_procs: list[str],
           console_socket, process: dict, program: bytes | None) -> None:
    """Never returns: exec's the command or exits with a Docker code."""
    try:
        fds = [*stdio, errfd, pidfd]
        if console_socket is not None:
            fds.append(console_socket.fileno())
        _place_fds(fds)
        errfd, pidfd = 3, 4
        init._join_cgroup(cgroup_procs)
        libc.setns(pidfd, flags)
        os.close(pidfd)
        if flags & libc.CLONE_NEWUSER:
            os.setgid(0)  # root of the container's user namespace, until switch_user
            os.setuid(0)
        os.umask(0o022)
        user = process.get("user") or {}
        if process.get("terminal") and console_socket is not None:
            import _socket

            console.attach(_socket.socket(fileno=5), int(user.get("uid", 0)), int(user.get("gid", 0)),
                           process.get("consoleSize"))
        else:
            os.setsid()
        cwd = process.get("cwd") or "/"
        try:
            os.chdir(cwd)
        except OSError as e:
            # runc does not create it for exec (the container's init does, for run)
            raise StartError(f'chdir to cwd ("{cwd}") set in config.json failed: '
                             f"{(e.strerror or str(e)).lower()}", exit_code=127) from None
        init._exec({"process": process}, program)
    except StartError as e:
        init._fail(errfd, e.exit_code, e.message)
    except DockyardError as e:
        init._fail(errfd, 125, e.message)
    except OSError as e:
        init._fail(errfd, 125, f"{e.strerror or e}{': ' + e.filename if e.filename else ''}")
    except BaseException as e:  # never let a traceback reach the caller's stderr
        init._fail(errfd, 125, f"exec failed: {type(e).__name__}: {e}")
    os._exit(125)
