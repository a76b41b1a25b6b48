"""runc and crun, driven through the OCI runtime command line on the same bundle.

The monitor is a child subreaper, so when `runc create` exits the container's first
process is re-parented to the monitor, which waits for it as it does for the native
runtime's. The root file system is mounted on the host here (an external runtime
expects it ready at root.path) and unmounted in `delete`.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .._sys import libc
from ..errors import StartError, Unavailable
from ..oci.spec import ANNOTATION_ROOTFS_MOUNT


class ExternalRuntime:
    def __init__(self, name: str, state_root: str) -> None:
        self.name = name
        self.binary = shutil.which(name)
        self.state_root = state_root
        if self.binary is None:
            raise Unavailable(f"runtime {name!r} is not installed (install Debian's {name} package)")

    def _run(self, *args: str, stdio=(subprocess.DEVNULL, subprocess.DEVNULL, subprocess.PIPE),
             log: str | None = None) -> tuple[int, str]:
        argv = [self.binary, "--root", self.state_root]
        if log:
            argv += ["--log", log, "--log-format", "json"]
        p = subprocess.run([*argv, *args], stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                           close_fds=True, pass_fds=())
        err = p.stderr.decode(errors="replace").strip() if isinstance(p.stderr, bytes) else ""
        return p.returncode, err

    def prepare(self, cid: str, bundle: str, stdio: tuple[int, int, int], cgroup_procs: list[str],
                cgroup_mounts: list[tuple[str, str, str]], namespaces: tuple[str, ...] = ()) -> "_Pending":
        return _Pending(self, cid, bundle, stdio)

    def _start(self, spec: dict, bundle: str, cid: str, stdio: tuple[int, int, int]) -> int:
        os.makedirs(self.state_root, 0o700, exist_ok=True)
        encoded = (spec.get("annotations") or {}).get(ANNOTATION_ROOTFS_MOUNT)
        rootfs = spec["root"]["path"]
        if encoded:
            from ..snapshot import Mount

            m = Mount.decode(encoded)
            cwd = os.getcwd()
            try:
                if m.chdir:
                    os.chdir(m.chdir)
                if m.type == "bind":
                    libc.mount(m.source, rootfs, None, libc.MS_BIND | libc.MS_REC)
                else:
                    libc.mount(m.source, rootfs, m.type, 0, ",".join(m.options))
            finally:
                os.chdir(cwd)
        pidfile = f"{bundle}/{self.name}.pid"
        log = f"{bundle}/{self.name}.log"
        code, _ = self._run("create", "--bundle", bundle, "--pid-file", pidfile, cid,
                            stdio=stdio, log=log)
        if code != 0:
            message = _last_error(log) or f"{self.name} create failed with exit code {code}"
            self.delete(bundle, cid)
            raise StartError(_classify(message)[1], exit_code=_classify(message)[0])
        with open(pidfile) as f:
            pid = int(f.read().strip())
        code, err = self._run("start", cid)
        if code != 0:
            self.delete(bundle, cid)
            message = err or f"{self.name} start failed with exit code {code}"
            raise StartError(_classify(message)[1], exit_code=_classify(message)[0])
        return pid

    def delete(self, bundle: str, cid: str) -> None:
        self._run("delete", "--force", cid)
        rootfs = f"{bundle}/rootfs"
        try:
            libc.umount2(rootfs, libc.MNT_DETACH)
        except Exception:
            pass


class _Pending:
    """runc/crun do everything at launch; nothing can be started ahead."""

    def __init__(self, runtime: ExternalRuntime, cid: str, bundle: str, stdio: tuple[int, int, int]) -> None:
        self.runtime = runtime
        self.cid = cid
        self.bundle = bundle
        self.stdio = stdio
        self.pid: int | None = None
        self.error: StartError | None = None

    def launch(self, spec: dict) -> None:
        try:
            self.pid = self.runtime._start(spec, self.bundle, self.cid, self.stdio)
        except StartError as e:
            self.error = e

    def abort(self) -> None:
        pass

    def wait(self) -> int:
        if self.error is not None:
            raise self.error
        assert self.pid is not None
        return self.pid


def _last_error(log: str) -> str:
    import json

    last = ""
    try:
        with open(log) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("level") in ("error", "fatal"):
                    last = entry.get("msg", "")
    except OSError:
        pass
    return last


def _classify(message: str) -> tuple[int, str]:
    """The exit code Docker derives from a runtime's error text."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127, message
    if "permission denied" in message or "is a directory" in message:
        return 126, message
    return 125, message
