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
from ...errors import StartError

DEFAULT_NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")


class Pending:
    """A container process that is forked but not yet running its command."""

    def __init__(self, pid: int, spec_w: int, err_r: int, seccomp_cache: str) -> None:
        self.pid = pid
        self.seccomp_cache = seccomp_cache
        self._spec_w = spec_w
        self._err_r = err_r

    def launch(self, spec: dict) -> None:
        data = marshal.dumps((spec, _seccomp_program(spec, self.seccomp_cache)))
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._spec_w, view):]
        finally:
            os.close(self._spec_w)
            self._spec_w = -1

    def abort(self) -> None:
        """The container will not run after all: the child exits without exec."""
        if self._spec_w >= 0:
            os.close(self._spec_w)
            self._spec_w = -1
        os.close(self._err_r)
        os.waitpid(self.pid, 0)

    def wait(self) -> int:
        chunks = []
        while True:
            b = os.read(self._err_r, 4096)
            if not b:
                break
            chunks.append(b)
        os.close(self._err_r)
        text = b"".join(chunks).decode(errors="replace")
        pid = self.pid
        if text.startswith("@pid "):
            # in a user namespace, PID 1 is the grandchild; its parent has exited and
            # the monitor (a subreaper) inherits it
            line, _, text = text.partition("\n")
            os.waitpid(self.pid, 0)
            pid = int(line[5:])
        if text:
            os.waitpid(pid, 0)
            code, _, message = text.partition(" ")
            raise StartError(message, exit_code=int(code) if code.isdigit() else 125)
        return pid


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
                namespaces: tuple[str, ...] = DEFAULT_NAMESPACES) -> Pending:
        if "pid" in namespaces and "user" not in namespaces:
            libc.unshare(libc.CLONE_NEWPID)  # with a user namespace, PID 1 makes its own
        spec_r, spec_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            os.close(spec_w)
            os.close(err_r)
            from . import init

            init.run(spec_r, stdio, err_w, cgroup_procs, cgroup_mounts, namespaces)
            os._exit(125)  # not reached
        os.close(spec_r)
        os.close(err_w)
        return Pending(pid, spec_w, err_r, f"{self.runroot}/seccomp")

    def delete(self, bundle: str, cid: str) -> None:
        """Nothing to undo: the container's mounts died with its mount namespace."""
