"""OCI hooks: programs the runtime runs at points of a container's life, each given
the container's state as JSON on its stdin (runtime-spec config.md, "POSIX-platform
Hooks").

Which hooks run where: prestart and createRuntime in the runtime's namespaces, once
the container's namespaces exist; createContainer in the container's namespaces
before pivot_root, startContainer there just before the program is executed (both
from the container's init, runtime.native.init); poststart after `start`, poststop
after `delete` (runtime.standalone). Imported by the container's init before
pivot_root, so it uses only the standard library's C modules and core.
"""

from __future__ import annotations

import os

from ..errors import HookError


def state_json(oci_version: str, cid: str, status: str, pid: int, bundle: str, annotations: dict) -> bytes:
    """The state a hook reads on its stdin (runtime-spec runtime.md, "State")."""
    from ..core import jsonenc

    return jsonenc.dumps({"ociVersion": oci_version, "id": cid, "status": status, "pid": pid,
                          "bundle": bundle, "annotations": annotations}).encode()


def run(hook: dict, state: bytes) -> None:
    """Run one hook to completion, or kill it when its timeout (seconds) runs out.
    Its output is kept for the error message, not passed on."""
    import select
    import time

    path = hook.get("path") or ""
    if not path.startswith("/"):
        raise HookError(f"hook path {path!r} is not absolute")
    args = hook.get("args") or [path]
    timeout = hook.get("timeout")
    if timeout is not None and timeout <= 0:
        raise HookError(f"hook {path}: timeout must be greater than zero, not {timeout}")
    env = dict(e.partition("=")[::2] for e in hook.get("env") or [])
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.execve(path, args, env)
        except OSError as e:
            os.write(2, f"exec {path}: {e.strerror}".encode())
        finally:
            os._exit(127)
    os.close(in_r)
    os.close(out_w)
    try:
        os.write(in_w, state)
    except OSError:
        pass  # a hook need not read its stdin
    finally:
        os.close(in_w)
    deadline = None if timeout is None else time.monotonic() + timeout
    output = bytearray()
    poller = select.poll()
    poller.register(out_r, select.POLLIN)
    status = None
    try:
        while True:
            wait_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if poller.poll(wait_ms):
                chunk = os.read(out_r, 65536)
                if chunk:
                    if len(output) < 65536:
                        output += chunk
                    continue
                break  # EOF: the hook (and anything it started) closed its output
            if deadline is not None and time.monotonic() >= deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise HookError(f"hook {path} timed out after {timeout}s")
        while status is None:
            done, st = os.waitpid(pid, os.WNOHANG if deadline is not None else 0)
            if done:
                status = st
                break
            if time.monotonic() >= deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise HookError(f"hook {path} timed out after {timeout}s")
            time.sleep(0.005)
    finally:
        os.close(out_r)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        text = output.decode(errors="replace").strip()
        raise HookError(f"hook {path} failed with exit code {code}" + (f": {text}" if text else ""))


def run_all(hooks: list[dict], state: bytes, kind: str) -> None:
    """Run `hooks` in order; the first failure stops them and is raised."""
    for i, hook in enumerate(hooks):
        try:
            run(hook, state)
        except HookError as e:
            raise HookError(f"{kind} hook #{i}: {e.message}") from None
