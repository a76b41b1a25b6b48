"""The OCI runtime operations: create, start, state, kill, delete (and run, list).

Each is one short-lived command; what lasts is the container's init and its state
directory (state.py). See the package docstring for the order of things.
"""

from __future__ import annotations

import os
import time

import _signal

from ...core.clock import now_ns, rfc3339
from ...errors import Conflict, InvalidArgument, StartError
from .. import hooks as _hooks
from ..native import mounts
from . import config as _config
from .state import ContainerState, alive, check_id, load, proc_stat

SEC_CACHE_RUNROOT = "/run/dockyard"  # compiled seccomp programs, shared with the engine


def _hook_state(st: ContainerState, status: str) -> bytes:
    return _hooks.state_json(st.oci_version, st.id, status, st.pid, st.bundle, st.annotations)


def cgroup_path(requested: str | None, cid: str) -> str:
    """The cgroup below each hierarchy's root: an absolute cgroupsPath is taken from
    the root, a relative one from this process's own cgroup; none gets our default."""
    if not requested:
        return f"dockyard-runtime/{cid}"
    if requested.startswith("/"):
        path = requested.strip("/")
    else:
        path = (_own_cgroup().strip("/") + "/" + requested).strip("/")
    parts = path.split("/")
    if not path or any(p in ("", ".", "..") for p in parts):
        raise InvalidArgument(f"invalid cgroupsPath {requested!r}")
    return path


def _own_cgroup() -> str:
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return "/"
    for line in lines:  # the unified entry, else the first controller's
        if line.startswith("0::"):
            return line[3:]
    return lines[0].split(":", 2)[2] if lines else "/"


def create(root: str, cid: str, bundle: str | None, pid_file: str | None = None,
           console_socket: str | None = None) -> list[str]:
    """Create the container and leave its init waiting for `start`; returns warnings."""
    from ... import cgroups
    from ...core.files import rmtree
    from ..native import NativeRuntime

    check_id(cid)
    bundle = os.path.abspath(bundle or ".")
    spec = _config.load(bundle)
    warnings = _config.validate(spec)
    process = spec["process"]
    if process.get("terminal") and not console_socket:
        raise InvalidArgument("process.terminal is true: --console-socket is required")
    if console_socket and not process.get("terminal"):
        raise InvalidArgument("--console-socket given but process.terminal is false")
    os.makedirs(root, 0o711, exist_ok=True)
    d = f"{root}/{cid}"
    try:
        os.mkdir(d, 0o711)
    except FileExistsError:
        raise Conflict(f"container with id {cid} already exists") from None
    hooks = spec.get("hooks") or {}
    st = ContainerState(d, id=cid, bundle=bundle, oci_version=spec["ociVersion"],
                        annotations=spec.get("annotations") or {}, created=rfc3339(now_ns()),
                        hooks={k: hooks[k] for k in ("poststart", "poststop") if hooks.get(k)})
    linux = spec.get("linux") or {}
    mgr = pending = None
    try:
        mgr = cgroups.manager()
        st.cgroup_path = cgroup_path(linux.get("cgroupsPath"), cid)
        st.cgroup_made = _missing_ancestors(mgr, st.cgroup_path)
        st.save()
        mgr.create(st.cgroup_path, _resources(linux))
        warnings += mgr.warnings
        os.mkfifo(st.fifo, 0o622)
        os.chmod(st.fifo, 0o622)  # the program may run as any user: it must be able to write
        namespaces = linux.get("namespaces") or []
        new = tuple(ns["type"] for ns in namespaces if not ns.get("path"))
        joined = {ns["type"]: ns["path"] for ns in namespaces if ns.get("path")}
        if "pid" in joined:
            _enter_pid_namespace(joined["pid"])
        if "mount" not in new and "mount" not in joined:
            st.host_mounts = os.path.normpath(os.path.join(bundle, spec["root"]["path"]))
            st.save()
        init_spec = dict(spec)
        init_spec["root"] = dict(spec["root"], path=os.path.normpath(os.path.join(bundle, spec["root"]["path"])))
        pending = NativeRuntime(SEC_CACHE_RUNROOT).prepare(
            cid, bundle, (0, 1, 2), mgr.procs_files(st.cgroup_path), mgr.mounts(), new, joined.get("user"))
        options = {"bundle": bundle, "id": cid, "sync": True, "fifo": st.fifo, "state_dir": d,
                   "apparmor": bool(process.get("apparmorProfile")) and not any("AppArmor" in w for w in warnings),
                   "console_socket": console_socket}
        pending.launch(init_spec, options, keep_open=True)
        while True:
            word, _ = pending.event()
            if word == "hooks":
                st.pid = pending.pid
                state = _hook_state(st, "created")
                _hooks.run_all(hooks.get("prestart") or [], state, "prestart")
                _hooks.run_all(hooks.get("createRuntime") or [], state, "createRuntime")
                pending.proceed(st.pid)
            elif word == "ready":
                break
            elif word == "exec":
                raise StartError("the container's init exited before it was ready")
        st.pid = pending.pid
        st.start_time = (proc_stat(st.pid) or ("", 0))[1]
        st.save()
        if pid_file:
            _write_pid_file(pid_file, st.pid)
    except BaseException:
        if pending is not None:
            try:
                os.kill(pending.pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
            pending.close()
            _reap(pending.pid)
        if mgr is not None and st.cgroup_path:
            try:
                _destroy_cgroup(mgr, st)
            except OSError:
                pass
        if st.host_mounts:
            mounts.unmount_below(st.host_mounts)
        rmtree(d)
        raise
    pending.close()
    return warnings


def _resources(linux: dict) -> dict:
    """linux.resources, with the device rules completed as runc completes them: the
    devices of linux.devices and the default ones (null, zero, ..., pts) allowed
    after the config's own rules, so that the container can have its /dev."""
    from ...cgroups.devices import DEFAULT_RULES

    resources = dict(linux.get("resources") or {})
    if resources.get("devices") is None and not linux.get("devices"):
        return resources
    rules = list(resources.get("devices") or [])
    for d in linux.get("devices") or []:
        if d.get("type") in ("c", "b", "u"):
            rules.append({"allow": True, "type": "c" if d["type"] == "u" else d["type"],
                          "major": d.get("major"), "minor": d.get("minor"), "access": "rwm"})
    resources["devices"] = rules + [r for r in DEFAULT_RULES if r.get("major") is not None]
    return resources


def _missing_ancestors(mgr, path: str) -> list[str]:
    """The ancestors of `path` that `create` is about to make (so `delete` removes
    them again, and nothing it did not make)."""
    parts = path.split("/")
    missing = []
    for i in range(1, len(parts)):
        prefix = "/".join(parts[:i])
        if not all(os.path.isdir(os.path.dirname(f)) for f in mgr.procs_files(prefix)):
            missing.append(prefix)
    return missing


def _destroy_cgroup(mgr, st: ContainerState) -> None:
    mgr.destroy(st.cgroup_path)
    for prefix in reversed(st.cgroup_made):
        for procs in mgr.procs_files(prefix):
            try:
                os.rmdir(os.path.dirname(procs))
            except OSError:
                pass  # gone with destroy(), or shared with another container by now


def _enter_pid_namespace(path: str) -> None:
    from ..._sys import libc

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.setns(fd, libc.CLONE_NEWPID)
    finally:
        os.close(fd)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_pid_file(path: str, pid: int) -> None:
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(str(pid))  # no newline, as runc writes it
    os.replace(tmp, path)


def start(root: str, cid: str) -> list[str]:
    """Let the init exec the program; runs the poststart hooks. Returns warnings."""
    import select

    st = load(root, cid)
    status = st.status()
    if status != "created":
        raise Conflict(f"cannot start a container that is {status}")
    try:
        fd = os.open(st.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Conflict("cannot start a container that is running") from None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(100) and os.read(fd, 1):
                break
            if not alive(st.pid, st.start_time):
                raise StartError("the container's init exited before it could start")
    finally:
        os.close(fd)
    try:
        os.unlink(st.fifo)
    except FileNotFoundError:
        pass
    warnings = []
    state = _hook_state(st, "running")
    for i, hook in enumerate(st.hooks.get("poststart") or []):
        try:
            _hooks.run(hook, state)
        except _hooks.HookError as e:  # the spec: warn, and carry on
            warnings.append(f"poststart hook #{i}: {e.message}")
    return warnings


def state(root: str, cid: str) -> dict:
    return load(root, cid).document()


SIGNALS = {name[3:]: getattr(_signal, name) for name in dir(_signal)
           if name.startswith("SIG") and not name.startswith("SIG_") and name.isupper()
           and isinstance(getattr(_signal, name), int)}


def parse_signal(text: str) -> int:
    t = text.strip().upper()
    if t.isdigit():
        n = int(t)
        if 0 < n < _signal.NSIG:
            return n
    else:
        t = t[3:] if t.startswith("SIG") else t
        if t in SIGNALS:
            return SIGNALS[t]
        if t.startswith("RTMIN+") and t[6:].isdigit():
            return _signal.SIGRTMIN + int(t[6:])
    raise InvalidArgument(f"invalid signal {text!r}")


def kill(root: str, cid: str, sig: str = "TERM", all_processes: bool = False) -> None:
    signum = parse_signal(sig)
    st = load(root, cid)
    status = st.status()
    if status not in ("created", "running"):
        raise Conflict(f"cannot kill a container that is {status}")
    if all_processes:
        for pid in _cgroup_pids(st):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        return
    os.kill(st.pid, signum)


def _cgroup_pids(st: ContainerState) -> list[int]:
    from ... import cgroups

    pids: set[int] = set()
    for procs in cgroups.manager().procs_files(st.cgroup_path):
        try:
            pids.update(int(p) for p in cgroups.read(procs).split())
        except OSError:
            pass
    return sorted(pids)


def delete(root: str, cid: str, force: bool = False) -> list[str]:
    """Remove a stopped container (or, forced, any): its processes, cgroup, state."""
    from ... import cgroups
    from ...core.files import rmtree

    st = load(root, cid)
    status = st.status()
    if status != "stopped":
        if not force:
            raise Conflict(f"container {cid} is still being created" if status == "creating"
                           else f"cannot delete a container that is {status} (use --force)")
        for pid in ([st.pid] if st.pid > 0 else []) + _cgroup_pids(st):
            try:
                os.kill(pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while st.pid > 0 and alive(st.pid, st.start_time) and time.monotonic() < deadline:
            time.sleep(0.01)
    if st.cgroup_path:
        _destroy_cgroup(cgroups.manager(), st)
    if st.host_mounts:
        mounts.unmount_below(st.host_mounts)
    warnings = []
    state = _hook_state(st, "stopped")
    for i, hook in enumerate(st.hooks.get("poststop") or []):
        try:
            _hooks.run(hook, state)
        except _hooks.HookError as e:
            warnings.append(f"poststop hook #{i}: {e.message}")
    rmtree(st.dir)
    return warnings


def run(root: str, cid: str, bundle: str | None, pid_file: str | None = None) -> int:
    """create, start, wait, delete: the container's exit code (128+N if killed by N)."""
    from ..._sys import libc

    # a subreaper: the container's first process is our child to wait for even when
    # its parent was a middle process (one that made a user namespace)
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    create(root, cid, bundle, pid_file)
    st = load(root, cid)
    # signals for this process go to the container instead, as `runc run` forwards them
    forward = lambda signum, _frame: os.kill(st.pid, signum)  # noqa: E731
    for s in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2):
        _signal.signal(s, forward)
    try:
        start(root, cid)
        _, status = os.waitpid(st.pid, 0)
    finally:
        delete(root, cid, force=True)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def list_containers(root: str) -> list[dict]:
    from .state import list_ids

    out = []
    for cid in list_ids(root):
        try:
            out.append(load(root, cid).document())
        except Exception:  # a container deleted while we looked
            continue
    return out
