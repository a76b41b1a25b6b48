"""Dockyard's own OCI runtime, in Python.

Starting a container takes two calls, so the slow kernel work overlaps with the
engine's own work:

- `prepare` (in the monitor, as soon as it exists) unshares a PID namespace for its
  next child and forks it: the child is PID 1 there, joins the container's cgroup
  (the first cgroup.procs write waits for an RCU grace period, several ms),
  unshares its other namespaces, then waits for the spec;
- `launch(spec)` sends the spec (marshal, over a pipe); the child mounts the root,
  pivots into it and execs the command (runtime.native.init);
- `wait` reads the close-on-exec error pipe: EOF means the command runs, anything
  else is "<exit code> <message>" from the child.
"""

from __future__ import annotations

import marshal
import os

from ..._sys import libc
from ...errors import KernelError, StartError

DEFAULT_NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")


class Pending:
    """A container process that is forked but not yet running its command."""

    def __init__(self, pid: int, spec_w: int, err_r: int, seccomp_cache: str) -> None:
        self.pid = pid
        self.seccomp_cache = seccomp_cache
        self._spec_w = spec_w
        self._err_r = err_r
        self._buf = b""

    def launch(self, spec: dict, options: dict | None = None, keep_open: bool = False) -> None:
        """Send the spec. `options` and `keep_open` are the standalone runtime's: the
        pipe then stays open for its go-ahead after the prestart hooks (`proceed`)."""
        data = marshal.dumps((spec, _seccomp_program(spec, self.seccomp_cache), options))
        view = memoryview(len(data).to_bytes(8, "little") + data)
        try:
            while view:
                view = view[os.write(self._spec_w, view):]
        finally:
            if not keep_open:
                os.close(self._spec_w)
                self._spec_w = -1

    def proceed(self, host_pid: int) -> None:
        os.write(self._spec_w, b"1" + host_pid.to_bytes(8, "little"))

    def abort(self) -> None:
        """The container will not run after all: the child exits without exec."""
        self.close()
        os.waitpid(self.pid, 0)

    def event(self) -> tuple[str, str]:
        """The child's next word on the error pipe: ("pid", N) when PID 1 is its child
        (in a user namespace), ("hooks", "") and ("ready", "") for the standalone
        runtime's stops, ("exec", "") when the command runs (the pipe closed on exec),
        or a StartError when it failed."""
        buf = self._buf
        while b"\n" not in buf:
            b = os.read(self._err_r, 4096)
            if not b:
                break
            buf += b
        if buf.startswith(b"@"):
            line, _, rest = buf.partition(b"\n")
            self._buf = rest
            word, _, arg = line[1:].decode().partition(" ")
            if word == "pid":
                os.waitpid(self.pid, 0)  # the middle process has exited
                self.pid = int(arg)
            return word, arg
        while True:
            b = os.read(self._err_r, 4096)
            if not b:
                break
            buf += b
        self._buf = b""
        if not buf:
            return "exec", ""
        code, _, message = buf.decode(errors="replace").partition(" ")
        raise StartError(message, exit_code=int(code) if code.isdigit() else 125)

    def close(self) -> None:
        for fd in (self._spec_w, self._err_r):
            if fd >= 0:
                os.close(fd)
        self._spec_w = self._err_r = -1

    def wait(self) -> int:
        """The container's pid once its command runs; reaps the child if it failed."""
        try:
            while self.event()[0] != "exec":
                pass
        except StartError:
            os.waitpid(self.pid, 0)
            raise
        finally:
            os.close(self._err_r)
            self._err_r = -1
        return self.pid


def _unshare_pid() -> None:
    """A new PID namespace for our next child. A second container from the same
    monitor (a restart policy) finds the namespace of the first still set for its
    children, and the kernel refuses to unshare again until we are back in our own
    (setns to our active namespace resets it)."""
    try:
        libc.unshare(libc.CLONE_NEWPID)
    except KernelError as e:
        if e.errno != 22:  # EINVAL
            raise
        fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(fd, libc.CLONE_NEWPID)
        finally:
            os.close(fd)
        libc.unshare(libc.CLONE_NEWPID)


def _seccomp_program(spec: dict, cache: str) -> bytes | None:
    profile = (spec.get("linux") or {}).get("seccomp")
    if not profile:
        return None
    from .seccomp import program

    return program(profile, cache)


class NativeRuntime:
    name = "native"

    def __init__(self, runroot: str = "/run/dockyard") -> None:
        self.runroot = runroot

    def prepare(self, cid: str, bundle: str, stdio: tuple[int, int, int], cgroup_procs: list[str],
                cgroup_mounts: list[tuple[str, str, str]],
                namespaces: tuple[str, ...] = DEFAULT_NAMESPACES, join_user: str | None = None,
                console_fd: int | None = None) -> Pending:
        """Fork the container's first process. `namespaces` are those it creates;
        `join_user` is a user namespace it joins first (the standalone runtime's);
        `console_fd` a socket for the master of its pty when the spec asks for a
        terminal (runtime.native.console)."""
        if "pid" in namespaces and "user" not in namespaces:
            _unshare_pid()  # with a user namespace, PID 1 makes its own
        spec_r, spec_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            os.close(spec_w)
            os.close(err_r)
            from . import init

            init.run(spec_r, stdio, err_w, cgroup_procs, cgroup_mounts, namespaces, join_user, console_fd)
            os._exit(125)  # not reached
        os.close(spec_r)
        os.close(err_w)
        return Pending(pid, spec_w, err_r, f"{self.runroot}/seccomp")

    def delete(self, bundle: str, cid: str) -> None:
        """Nothing to undo: the container's mounts died with its mount namespace."""
