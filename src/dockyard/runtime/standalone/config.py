"""Reading a bundle's config.json and refusing what cannot be honoured.

The spec asks a runtime to fail on values it cannot map to the kernel ("Any value
which cannot be mapped to a relevant kernel interface MUST cause an error") rather
than run a container other than the one described, and to ignore what it does not
know (unknown properties and annotations). Checks here cover the whole config before
anything is created, so a refused `create` leaves nothing behind.
"""

from __future__ import annotations

import os

from ...core import jsonenc
from ...errors import InvalidArgument
from ...oci.capabilities import NUMBERS as CAPABILITIES

NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
RLIMITS = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
           "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
           "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME")
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
# sysctls that belong to a namespace (runc's list): anything else would change the host
_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
_UTS_SYSCTLS = ("kernel.hostname", "kernel.domainname")


def load(bundle: str) -> dict:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            spec = jsonenc.loads(f.read())
    except FileNotFoundError:
        raise InvalidArgument(f"no config.json in bundle {bundle}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"{path} is not valid JSON: {e}") from None
    if not isinstance(spec, dict):
        raise InvalidArgument(f"{path} must hold a JSON object")
    return spec


def _semver_1(v: object) -> bool:
    """A SemVer 2.0.0 version with major 1 (what this runtime implements)."""
    if not isinstance(v, str):
        return False
    core, dash, pre = v.partition("+")[0].partition("-")
    parts = core.split(".")
    if dash and not pre:
        return False
    return len(parts) == 3 and parts[0] == "1" and all(
        p.isdigit() and (p == "0" or not p.startswith("0")) for p in parts)


def validate(spec: dict) -> list[str]:
    """Raise InvalidArgument for the first thing that cannot be run as written;
    return warnings for what is ignored on this host."""
    warnings: list[str] = []
    refuse_selinux(spec)
    if not _semver_1(spec.get("ociVersion")):
        raise InvalidArgument(f"unsupported ociVersion {spec.get('ociVersion')!r}: this runtime implements 1.x")
    root = spec.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        raise InvalidArgument("root.path is required")
    process = spec.get("process")
    if process is None:
        raise InvalidArgument("process is required to create a container")
    _check_process(process, warnings)
    linux = spec.get("linux") or {}
    types = []
    for ns in linux.get("namespaces") or []:
        t = ns.get("type")
        if t not in NAMESPACES:
            raise InvalidArgument(f"unknown namespace type {t!r}")
        if t in types:
            raise InvalidArgument(f"namespace {t} is listed twice")
        if ns.get("path") and not os.path.exists(ns["path"]):
            raise InvalidArgument(f"namespace {t}: {ns['path']} does not exist")
        types.append(t)
    if (linux.get("uidMappings") or linux.get("gidMappings")) and "user" not in types:
        raise InvalidArgument("uidMappings and gidMappings need a user namespace")
    if "user" in types and not any(ns.get("type") == "user" and ns.get("path") for ns in linux["namespaces"]):
        if not linux.get("uidMappings") or not linux.get("gidMappings"):
            raise InvalidArgument("a new user namespace needs uidMappings and gidMappings")
    for key in linux.get("sysctl") or {}:
        _check_sysctl(key, types)
    for m in spec.get("mounts") or []:
        dest = m.get("destination")
        if not isinstance(dest, str) or not dest.startswith("/"):
            raise InvalidArgument(f"mount destination {dest!r} must be an absolute path")
    for d in linux.get("devices") or []:
        if d.get("type") not in ("c", "b", "u", "p"):
            raise InvalidArgument(f"device {d.get('path')!r}: unknown type {d.get('type')!r}")
        if not str(d.get("path", "")).startswith("/"):
            raise InvalidArgument(f"device path {d.get('path')!r} must be absolute")
    hooks = spec.get("hooks") or {}
    for kind, entries in hooks.items():
        for h in entries or []:
            if not str(h.get("path", "")).startswith("/"):
                raise InvalidArgument(f"{kind} hook path {h.get('path')!r} must be absolute")
            if h.get("timeout") is not None and h["timeout"] <= 0:
                raise InvalidArgument(f"{kind} hook timeout must be greater than zero")
    for key in ("personality", "intelRdt", "memoryPolicy", "netDevices", "timeOffsets"):
        if linux.get(key):
            raise InvalidArgument(f"linux.{key} is not supported by this runtime")
    if linux.get("mountLabel") and not _selinux_enabled():
        warnings.append("SELinux is not enabled on this host: mountLabel ignored")
    return warnings


def _check_process(process: dict, warnings: list[str]) -> None:
    args = process.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise InvalidArgument("process.args must name a program")
    cwd = process.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise InvalidArgument(f"process.cwd {cwd!r} must be an absolute path")
    user = process.get("user") or {}
    for key in ("uid", "gid"):
        v = user.get(key, 0)
        if not isinstance(v, int) or v < 0 or v >= 2**32:
            raise InvalidArgument(f"process.user.{key} {v!r} is not a valid id")
    for name in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for cap in (process.get("capabilities") or {}).get(name) or []:
            if cap not in CAPABILITIES:
                raise InvalidArgument(f"unknown capability {cap!r} in process.capabilities.{name}")
    seen = set()
    for r in process.get("rlimits") or []:
        t = r.get("type")
        if t not in RLIMITS:
            raise InvalidArgument(f"unknown rlimit type {t!r}")
        if t in seen:
            raise InvalidArgument(f"rlimit {t} is set twice")
        seen.add(t)
        if not isinstance(r.get("soft"), int) or not isinstance(r.get("hard"), int) or r["soft"] > r["hard"]:
            raise InvalidArgument(f"rlimit {t}: soft limit must be a number no greater than the hard limit")
    for key in ("scheduler", "ioPriority", "execCPUAffinity"):
        if process.get(key):
            raise InvalidArgument(f"process.{key} is not supported by this runtime")
    adj = process.get("oomScoreAdj")
    if adj is not None and not -1000 <= adj <= 1000:
        raise InvalidArgument(f"process.oomScoreAdj {adj} is outside -1000..1000")
    if process.get("apparmorProfile") and not _apparmor_enabled():
        warnings.append("AppArmor is not enabled on this host: apparmorProfile ignored")
    if process.get("selinuxLabel") and not _selinux_enabled():
        warnings.append("SELinux is not enabled on this host: selinuxLabel ignored")


def _check_sysctl(key: str, namespaces: list[str]) -> None:
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if "ipc" not in namespaces:
            raise InvalidArgument(f"sysctl {key} needs an IPC namespace")
    elif key.startswith("net."):
        if "network" not in namespaces:
            raise InvalidArgument(f"sysctl {key} needs a network namespace")
    elif key in _UTS_SYSCTLS:
        if "uts" not in namespaces:
            raise InvalidArgument(f"sysctl {key} needs a UTS namespace")
    else:
        raise InvalidArgument(f"sysctl {key} is not in a separate kernel namespace: it would change the host")


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y" and os.path.isdir("/sys/kernel/security/apparmor")
    except OSError:
        return False


def _selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


def refuse_selinux(spec: dict) -> None:
    """Labels are ignored where SELinux is off (as runc and crun do); where it is on,
    this runtime cannot apply them, and says so rather than run unconfined."""
    if _selinux_enabled() and ((spec.get("process") or {}).get("selinuxLabel")
                               or (spec.get("linux") or {}).get("mountLabel")):
        raise InvalidArgument("SELinux labels are not supported by this runtime")
