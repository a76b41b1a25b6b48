"""The container's first process, from fork to exec.

Forked by the monitor after it unshared a PID namespace, so this process is PID 1
of the new namespace. In order:

 1. take its stdio and close every other inherited descriptor;
 2. join its cgroup (before the cgroup namespace, so that cgroup becomes its root);
 3. unshare the mount, UTS, IPC, network and cgroup namespaces;
 4. wait for the spec: steps 1-3 overlap with the engine's own work until it comes;
    make every mount private, mount the root (overlay) and the spec's mounts,
    create the default devices;
 5. set the hostname, pivot_root into the root and detach the old one;
 6. set the working directory, groups and user, reset signal dispositions;
 7. exec the command, found through the container's own PATH.

Any failure is written to the error pipe as "<exit code> <message>" and the process
exits; on success exec closes the pipe (it is close-on-exec), which is how the
monitor knows the command is running.
"""

from __future__ import annotations

import os
import stat

from ..._sys import libc
from ...errors import DockyardError, KernelError, StartError
from ...oci.spec import ANNOTATION_ROOTFS_MOUNT
# everything this process needs is imported now: after pivot_root the files of
# Python and of Dockyard are out of reach
from . import mounts, security

_NS_FLAGS = {
    "mount": libc.CLONE_NEWNS, "uts": libc.CLONE_NEWUTS, "ipc": libc.CLONE_NEWIPC,
    "network": libc.CLONE_NEWNET, "cgroup": libc.CLONE_NEWCGROUP,
}
_JOIN_FLAGS = {**_NS_FLAGS, "pid": libc.CLONE_NEWPID, "user": libc.CLONE_NEWUSER, "time": 0x80}


def run(spec_fd: int, stdio: tuple[int, int, int], errfd: int, cgroup_procs: list[str],
        cgroup_mounts: list[tuple[str, str, str]], namespaces: tuple[str, ...],
        join_user: str | None = None, console_fd: int | None = None) -> None:
    """Never returns: exec's the container's command or exits with a Docker code.
    `console_fd`: a socket on which to send the master of the container's pty when
    the spec asks for a terminal (the engine's `run -t`)."""
    try:
        _setup_fds(stdio, errfd, spec_fd, console_fd)
        errfd, spec_fd = 3, 4
        if console_fd is not None:
            from . import console  # noqa: F401 - imported while Python's files are in reach
            import _socket

            _engine_console.append(_socket.socket(fileno=5))
        _join_cgroup(cgroup_procs)
        if join_user:
            _join({"type": "user", "path": join_user})
            os.setgid(0)
            os.setuid(0)
        flags = 0
        for ns in namespaces:
            flags |= _NS_FLAGS.get(ns, 0)
        in_userns = "user" in namespaces
        if flags and not in_userns:
            libc.unshare(flags)
        got = _read_spec(spec_fd)
        if got is None:
            os._exit(0)  # the engine gave up on this container before it started
        spec, seccomp_program, options = got
        if options:
            _standalone.update(options)
            from .. import hooks  # noqa: F401 - imported while the host's files are in reach

            # opened now, as host root: in a user namespace their directories may be closed
            if options.get("fifo"):
                _standalone["fifo_fd"] = os.open(options["fifo"], os.O_PATH | os.O_CLOEXEC)
            if options.get("console_socket"):
                from . import console

                _standalone["console"] = console.connect(options["console_socket"])
        if in_userns:
            _enter_userns(spec, flags, errfd)
        _setup(spec, flags, cgroup_mounts, in_userns)
        _exec(spec, seccomp_program)
    except StartError as e:
        _fail(errfd, e.exit_code, e.message)
    except DockyardError as e:
        _fail(errfd, 125, e.message)
    except OSError as e:
        _fail(errfd, 125, f"{e.strerror or e}{': ' + e.filename if e.filename else ''}" + _debug_trace())
    except BaseException as e:  # never let a traceback reach the container's stderr
        _fail(errfd, 125, f"container init failed: {type(e).__name__}: {e}")


# Set when started by the standalone OCI runtime (runtime.standalone): the bundle,
# the id, the exec FIFO that `start` opens, and whether to stop for the prestart and
# createRuntime hooks. Empty when the engine's monitor started us.
_standalone: dict = {}
# The engine monitor's console socket (fd 5), when it gave one.
_engine_console: list = []


def _debug_trace() -> str:
    """Where an unexpected error came from, with DOCKYARD_DEBUG=1."""
    if os.environ.get("DOCKYARD_DEBUG") != "1":
        return ""
    import sys

    tb = sys.exc_info()[2]
    frames = []
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_name}:{tb.tb_lineno}")
        tb = tb.tb_next
    return " (at " + " > ".join(frames) + ")"


def _fail(errfd: int, code: int, message: str) -> None:
    try:
        if _standalone.get("detached"):
            # `create` has returned and nobody reads the error pipe any more
            os.write(2, f"dockyard-runtime: {message}\n".encode(errors="replace"))
        else:
            os.write(errfd, f"{code} {message}".encode(errors="replace"))
    finally:
        os._exit(code)


def _setup_fds(stdio: tuple[int, int, int], errfd: int, spec_fd: int, console_fd: int | None = None) -> None:
    # move everything we keep above the range we are about to fill, then place it
    keep = (*stdio, errfd, spec_fd) if console_fd is None else (*stdio, errfd, spec_fd, console_fd)
    high = [os.dup(fd) for fd in keep]
    for target, fd in enumerate(high[:3]):
        os.dup2(fd, target)
    os.dup2(high[3], 3, inheritable=False)
    os.dup2(high[4], 4, inheritable=False)
    if console_fd is not None:
        os.dup2(high[5], 5, inheritable=False)
        os.closerange(6, 1 << 20)
    else:
        os.closerange(5, 1 << 20)


def _join_cgroup(procs_files: list[str]) -> None:
    for f in procs_files:
        fd = os.open(f, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


def _read_spec(fd: int) -> tuple | None:
    """(spec, seccomp program, standalone options): 8 bytes of length, then marshal
    data. The pipe may stay open after it, for the standalone runtime's go-ahead."""
    import marshal

    head = _read_exactly(fd, 8)
    if len(head) < 8:
        return None
    return marshal.loads(_read_exactly(fd, int.from_bytes(head, "little")))


def _read_exactly(fd: int, n: int) -> bytes:
    chunks = []
    while n > 0:
        b = os.read(fd, min(n, 1 << 16))
        if not b:
            break
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _enter_userns(spec: dict, flags: int, errfd: int) -> None:
    """Make the user namespace, mount the root (idmapped, for the engine's images),
    enter; returns in PID 1."""
    from . import userns

    linux = spec.get("linux") or {}
    ufd = userns.make_userns(linux.get("uidMappings") or [], linux.get("gidMappings") or [])
    libc.unshare(libc.CLONE_NEWNS)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_SLAVE)
    root = spec["root"]["path"]
    if _standalone:
        # An OCI bundle's root is used as it is (the spec asks for idmapped mounts
        # explicitly, never for the root), bound into our state directory, which
        # root in the user namespace can search even when the bundle's parents
        # are closed to it.
        base = _standalone["state_dir"]
        stage = base + "/rootfs"
        os.makedirs(stage, 0o755, exist_ok=True)
        libc.mount(root, stage, None, libc.MS_BIND | libc.MS_REC)
        root = stage
    else:
        base = os.path.dirname(root)
        userns.mount_root(root, (spec.get("annotations") or {}).get(ANNOTATION_ROOTFS_MOUNT), base, ufd)
    # Root in the user namespace may not search the directories above the bundle (a
    # store under a 0700 directory): from here on, paths in the bundle are taken
    # relative to it, the working directory, which entering a mount namespace keeps.
    os.chdir(base)
    spec["root"]["path"] = os.path.relpath(root, base)
    for m in spec.get("mounts") or []:
        if (m.get("source") or "").startswith(base + "/"):
            m["source"] = os.path.relpath(m["source"], base)
    userns.enter(ufd, flags, errfd)


def _setup(spec: dict, flags: int, cgroup_mounts: list[tuple[str, str, str]], in_userns: bool = False) -> None:
    linux = spec.get("linux") or {}
    for ns in linux.get("namespaces") or []:
        if ns.get("path") and ns.get("type") not in ("pid", "user"):  # those are joined before the fork
            _join(ns)
            flags |= _NS_FLAGS.get(ns["type"], 0)
    os.umask(0)
    root = spec["root"]["path"]
    if flags & libc.CLONE_NEWNS:
        # rslave by default, like runc: nothing mounted here propagates to the host
        prop = mounts.parse_options([linux.get("rootfsPropagation") or "rslave"])[1]
        libc.mount(None, "/", None, prop or (libc.MS_REC | libc.MS_SLAVE))
        if prop & (libc.MS_SHARED | libc.MS_UNBINDABLE):
            mounts.make_parent_private(root)  # before the root is mounted: it inherits that
        if not in_userns:
            mounts.mount_rootfs(root, (spec.get("annotations") or {}).get(ANNOTATION_ROOTFS_MOUNT))
        else:
            # mounted before entering the user namespace, so locked here, and pivot_root
            # refuses a locked mount: bind it onto itself for an unlocked one
            libc.mount(root, root, None, libc.MS_BIND | libc.MS_REC)
        mounts.mount_all(root, spec.get("mounts") or [], cgroup_mounts,
                         linux.get("cgroupsPath") if in_userns else None)
        if any(m.get("destination") == "/dev" for m in spec.get("mounts") or []):
            mounts.make_devices(root, bind=in_userns)
        mounts.make_spec_devices(root, linux.get("devices") or [], bind=in_userns)
    elif _standalone:
        # No mount namespace: the spec says the container then shares the runtime's,
        # so its mounts are made there (`delete` takes them away again), and the
        # root is entered with chroot, as runc does; pivot_root would move the host's.
        libc.mount(root, root, None, libc.MS_BIND | libc.MS_REC)
        mounts.mount_all(root, spec.get("mounts") or [], cgroup_mounts)
        if any(m.get("destination") == "/dev" for m in spec.get("mounts") or []):
            mounts.make_devices(root)
        mounts.make_spec_devices(root, linux.get("devices") or [])
    if _standalone:
        _before_pivot(spec)
    if spec.get("hostname") and flags & libc.CLONE_NEWUTS:
        libc.sethostname(spec["hostname"])
    if spec.get("domainname") and flags & libc.CLONE_NEWUTS:
        libc.setdomainname(spec["domainname"])
    if flags & libc.CLONE_NEWNET:
        libc.loopback_up()
    if flags & libc.CLONE_NEWNS:
        mounts.pivot(root)
        # the root's own propagation, as the spec asks it (runc does the same after
        # pivot_root): set before, it would have applied to the host's mount
        prop = mounts.parse_options([linux.get("rootfsPropagation") or ""])[1]
        if prop and not prop & libc.MS_PRIVATE:
            libc.mount(None, "/", None, prop)
    else:
        os.chroot(root)
        os.chdir("/")
    if spec["root"].get("readonly"):
        mounts.remount_readonly_root()
    for key, value in (linux.get("sysctl") or {}).items():
        _sysctl(key, value)
    mounts.mask_paths(linux.get("maskedPaths") or [])
    mounts.readonly_paths(linux.get("readonlyPaths") or [])
    os.umask(0o022)


def _before_pivot(spec: dict) -> None:
    """The standalone runtime's stop: the runtime runs the prestart and createRuntime
    hooks while this process waits (its namespaces exist, the root is mounted), then
    the createContainer hooks run here, in the container's namespaces."""
    from .. import hooks

    if _standalone.get("sync"):
        os.write(3, b"@hooks\n")
        go = _read_exactly(4, 9)  # b"1" and our pid as the host sees it
        if len(go) != 9 or go[:1] != b"1":
            os._exit(1)  # the runtime gave up: it removes what it made
        _standalone["host_pid"] = int.from_bytes(go[1:], "little")
    hooks.run_all((spec.get("hooks") or {}).get("createContainer") or [], _hook_state(spec, "created"),
                  "createContainer")


def _hook_state(spec: dict, status: str) -> bytes:
    from .. import hooks

    return hooks.state_json(spec.get("ociVersion", ""), _standalone["id"], status,
                            _standalone.get("host_pid") or os.getpid(), _standalone["bundle"],
                            spec.get("annotations") or {})


def _wait_for_start(spec: dict) -> None:
    """Created: tell `create` we are ready, block until `start` opens the exec FIFO,
    run the startContainer hooks, and return to exec."""
    from .. import hooks

    os.write(3, b"@ready\n")
    _standalone["detached"] = True
    fd = _standalone.get("fifo_fd")
    if fd is not None:
        w = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_CLOEXEC)  # blocks until `start`
        os.write(w, b"0")
        os.close(w)
        os.close(fd)
    hooks.run_all((spec.get("hooks") or {}).get("startContainer") or [], _hook_state(spec, "created"),
                  "startContainer")


def _oom_score_adj(value: int) -> None:
    fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(int(value)).encode())
    except PermissionError:
        pass  # lowering it needs CAP_SYS_RESOURCE, which this machine may not give
    finally:
        os.close(fd)


def _apparmor_on_exec(profile: str) -> None:
    for path in ("/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            os.write(fd, f"exec {profile}".encode())
            return
        except OSError as e:
            raise StartError(f"apparmor profile {profile!r}: {e.strerror}") from None
        finally:
            os.close(fd)
    raise StartError(f"apparmor profile {profile!r}: no AppArmor interface in /proc")


def _sysctl(key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    if ".." in key or "/" in key:
        raise StartError(f"invalid sysctl {key!r}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise StartError(f"sysctl {key}: {e.strerror}") from None
    try:
        os.write(fd, str(value).encode())
    except OSError as e:
        raise StartError(f"sysctl {key}={value}: {e.strerror}") from None
    finally:
        os.close(fd)


def _join(ns: dict) -> None:
    flag = _JOIN_FLAGS.get(ns["type"], 0)
    fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.setns(fd, flag)
    finally:
        os.close(fd)


def _lookup(file: str, path_env: str) -> str:
    """Go's exec.LookPath, as runc applies it inside the container."""
    if "/" in file:
        try:
            st = os.stat(file)
        except FileNotFoundError:
            raise StartError(f'exec: "{file}": stat {file}: no such file or directory', exit_code=127) from None
        except NotADirectoryError:
            raise StartError(f'exec: "{file}": stat {file}: not a directory', exit_code=127) from None
        if stat.S_ISDIR(st.st_mode):
            raise StartError(f'exec: "{file}": is a directory', exit_code=126)
        return file
    for d in path_env.split(":"):
        cand = f"{d or '.'}/{file}"
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            return cand
    raise StartError(f'exec: "{file}": executable file not found in $PATH', exit_code=127)


def _exec(spec: dict, seccomp_program: bytes | None) -> None:
    import _signal

    process = spec.get("process") or {}
    env: dict[str, str] = {}
    for item in process.get("env") or []:
        k, _, v = item.partition("=")
        env[k] = v
    cwd = process.get("cwd") or "/"
    try:
        os.makedirs(cwd, 0o755, exist_ok=True)
        os.chdir(cwd)
    except OSError as e:
        raise StartError(f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror}") from None
    user = process.get("user") or {}
    caps = process.get("capabilities")
    if process.get("oomScoreAdj") is not None:
        _oom_score_adj(process["oomScoreAdj"])
    if _standalone.get("console"):
        from . import console

        console.attach(_standalone.pop("console"), int(user.get("uid", 0)), int(user.get("gid", 0)),
                       process.get("consoleSize"))
    elif _engine_console:
        sock = _engine_console.pop()
        if process.get("terminal"):
            from . import console

            console.attach(sock, int(user.get("uid", 0)), int(user.get("gid", 0)), process.get("consoleSize"))
        else:
            sock.close()
    if process.get("apparmorProfile") and _standalone.get("apparmor"):
        _apparmor_on_exec(process["apparmorProfile"])
    if user.get("umask") is not None:
        os.umask(int(user["umask"]))
    security.apply_rlimits(process.get("rlimits") or [])
    early = seccomp_program if not process.get("noNewPrivileges") else None
    if early:
        # without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we
        # have it (what follows, setuid and capset, must then pass the filter)
        security.lock_down({}, early)
    security.drop_bounding(caps)
    try:
        security.switch_user(user, caps)
    except OSError as e:
        raise KernelError("setuid/setgid", f"{user.get('uid', 0)}:{user.get('gid', 0)}", e.errno) from None
    args = process.get("args") or []
    if not args:
        raise StartError("no command specified")
    path = _lookup(args[0], env.get("PATH", ""))
    # Python ignores SIGPIPE and SIGXFSZ; exec keeps ignored signals ignored
    for sig in range(1, _signal.NSIG):
        if sig in (_signal.SIGKILL, _signal.SIGSTOP):
            continue
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    security.lock_down(process, None if early else seccomp_program)  # now only execve may follow
    if _standalone:
        _wait_for_start(spec)
    try:
        os.execve(path, args, env)
    except PermissionError:
        raise StartError(f'exec: "{args[0]}": permission denied', exit_code=126) from None
    except FileNotFoundError:
        raise StartError(f'exec: "{args[0]}": no such file or directory', exit_code=127) from None
    except OSError as e:
        raise StartError(f'exec: "{args[0]}": {e.strerror.lower() if e.strerror else e}') from None
