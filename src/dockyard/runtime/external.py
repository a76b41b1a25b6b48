"""runc and crun, driven through the OCI runtime command line on the same bundle.

The monitor is a child subreaper, so when `runc create` exits the container's first
process is re-parented to the monitor, which waits for it as it does for the native
runtime's. The root file system is mounted on the host here (an external runtime
expects it ready at root.path) and unmounted in `delete`. `exec` is `runc exec
--detach` with a process.json, its process re-parented to the (subreaper) caller.
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
             log: str | None = None, cwd: str | None = None) -> tuple[int, str]:
        argv = [self.binary, "--root", self.state_root]
        if log:
            argv += ["--log", log, "--log-format", "json"]
        p = subprocess.run([*argv, *args], stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                           close_fds=True, pass_fds=(), cwd=cwd)
        err = p.stderr.decode(errors="replace").strip() if isinstance(p.stderr, bytes) else ""
        return p.returncode, err

    def prepare(self, cid: str, bundle: str, stdio: tuple[int, int, int], cgroup_procs: list[str],
                cgroup_mounts: list[tuple[str, str, str]], namespaces: tuple[str, ...] = (),
                console=None) -> "_Pending":
        """`console`: a connected socket to pass the pty's master on when the spec asks
        for a terminal (`run -t`; runc sends it to our --console-socket)."""
        return _Pending(self, cid, bundle, stdio, console)

    def _start(self, spec: dict, bundle: str, cid: str, stdio: tuple[int, int, int], console=None) -> int:
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
        listener = name = None
        if console is not None and (spec.get("process") or {}).get("terminal"):
            # named relative to the bundle, where `create` runs: a full path may exceed
            # the 108 bytes a socket address allows
            listener, name = _console_listener(bundle)
        try:
            code, _ = self._run("create", "--bundle", bundle, "--pid-file", pidfile,
                                *(("--console-socket", name) if name else ()), cid,
                                stdio=stdio, log=log, cwd=bundle if name else None)
            if listener is not None and code == 0:
                _take_console(listener, console)
        finally:
            _close_listener(listener, f"{bundle}/{name}")
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

    def exec(self, cid: str, bundle: str, process: dict, stdio: tuple[int, int, int], console=None) -> int:
        """`runc exec --detach` of an OCI `process` in the running container; the new
        process's host pid. The caller must be a child subreaper: the process is its
        child once runc exits. With `process.terminal`, runc sends the pty's master
        to a socket we listen on, and it is passed on over `console` (a connected
        socket), as the native runtime's exec does. StartError with runc's message
        and Docker's exit code (127 not found, 126 cannot invoke) when it fails."""
        from ..core.jsonenc import dumps

        tag = os.urandom(6).hex()
        files = [f"{bundle}/exec-{tag}.json", f"{bundle}/exec-{tag}.pid", f"{bundle}/exec-{tag}.log"]
        process_file, pid_file, log = files
        listener = None
        try:
            with open(process_file, "w") as f:
                f.write(dumps(process))
            args = ["exec", "--detach", "--process", process_file, "--pid-file", pid_file]
            if process.get("terminal"):
                listener, name = self._console_listener(tag)
                args += ["--console-socket", name]
            argv = [self.binary, "--root", self.state_root, "--log", log, "--log-format", "json", *args, cid]
            p = subprocess.Popen(argv, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], close_fds=True,
                                 cwd=self.state_root)
            if listener is not None:
                _pass_console(listener, p, console)
            code = p.wait()
            if code != 0:
                message = _last_error(log) or f"{self.name} exec failed with exit code {code}"
                exit_code, message = _classify(message)
                raise StartError(message, exit_code=exit_code)
            with open(pid_file) as f:
                return int(f.read().strip())
        finally:
            _close_listener(listener, f"{self.state_root}/exec-{tag}.sock")
            for path in files:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def _console_listener(self, tag: str):
        """A Unix socket for runc's --console-socket, bound by a name relative to the
        state root (runc runs there): the full path may exceed the 108 bytes allowed."""
        os.makedirs(self.state_root, 0o700, exist_ok=True)
        return _console_listener(self.state_root, f"exec-{tag}.sock")

    def delete(self, bundle: str, cid: str) -> None:
        self._run("delete", "--force", cid)
        rootfs = f"{bundle}/rootfs"
        try:
            libc.umount2(rootfs, libc.MNT_DETACH)
        except Exception:
            pass


class _Pending:
    """runc/crun do everything at launch; nothing can be started ahead."""

    def __init__(self, runtime: ExternalRuntime, cid: str, bundle: str, stdio: tuple[int, int, int],
                 console=None) -> None:
        self.runtime = runtime
        self.console = console
        self.cid = cid
        self.bundle = bundle
        self.stdio = stdio
        self.pid: int | None = None
        self.error: StartError | None = None

    def launch(self, spec: dict) -> None:
        try:
            self.pid = self.runtime._start(spec, self.bundle, self.cid, self.stdio, self.console)
        except StartError as e:
            self.error = e

    def abort(self) -> None:
        pass

    def wait(self) -> int:
        if self.error is not None:
            raise self.error
        assert self.pid is not None
        return self.pid


def _console_listener(directory: str, name: str = "console.sock"):
    """A listening Unix socket `name` in `directory`, bound by the relative name (the
    full path may exceed the 108 bytes a socket address holds): (socket, name)."""
    import _socket

    try:
        os.unlink(f"{directory}/{name}")
    except OSError:
        pass
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    cwd = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(directory)
        s.bind(name)
    finally:
        os.fchdir(cwd)
        os.close(cwd)
    s.listen(1)
    return s, name


def _close_listener(listener, path: str) -> None:
    if listener is not None:
        listener.close()
        try:
            os.unlink(path)
        except OSError:
            pass


def _take_console(listener, console) -> None:
    """After `create --console-socket`: runc has connected and sent the pty's master
    (it waits for no answer); pass it on over `console`."""
    import _socket

    from .native.console import recv_fd, send_fd

    listener.setblocking(False)
    try:
        conn_fd, _ = listener._accept()
    except BlockingIOError:
        return
    conn = _socket.socket(fileno=conn_fd)
    try:
        conn.setblocking(True)
        got = recv_fd(conn)
    finally:
        conn.close()
    if got is not None:
        try:
            send_fd(console, got[0], got[1])
        finally:
            os.close(got[0])


def _pass_console(listener, runc: "subprocess.Popen", console) -> None:
    """Wait for runc to connect and send the pty's master (or to exit without doing
    so), and pass the master on over `console`."""
    import select

    from .native.console import recv_fd, send_fd

    pidfd = os.pidfd_open(runc.pid)
    try:
        p = select.poll()
        p.register(listener.fileno(), select.POLLIN)
        p.register(pidfd, select.POLLIN)
        for fd, _ in p.poll():
            if fd == listener.fileno():
                import _socket

                conn_fd, _ = listener._accept()  # the C socket type's accept
                conn = _socket.socket(fileno=conn_fd)
                try:
                    got = recv_fd(conn)
                finally:
                    conn.close()
                if got is not None:
                    try:
                        if console is not None:
                            send_fd(console, got[0], got[1])
                    finally:
                        os.close(got[0])
                return
    finally:
        os.close(pidfd)


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
