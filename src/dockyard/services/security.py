"""The security settings of a container, from Docker's flags to the OCI spec:
capabilities, seccomp, no_new_privs, masked and read-only paths, devices (nodes and
cgroup rules), rlimits, --read-only with --tmpfs, --group-add."""

from __future__ import annotations

import os
import stat

from ..errors import InvalidArgument

ULIMITS = {"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
           "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
           "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
           "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
           "stack": "RLIMIT_STACK", "as": "RLIMIT_AS"}


class SecurityOptions:
    """Parsed --security-opt values."""

    __slots__ = ("seccomp", "no_new_privileges", "system_paths", "warnings")

    def __init__(self, opts: list[str]) -> None:
        self.seccomp: str | None = None  # None: default; "unconfined"; or a profile path
        self.no_new_privileges = True
        self.system_paths = "default"
        self.warnings: list[str] = []
        for o in opts:
            key, sep, value = o.partition("=")
            if not sep:
                key, sep, value = o.partition(":")
            key = key.strip()
            if key == "seccomp":
                if not value:
                    raise InvalidArgument("invalid --security-opt: seccomp needs a profile or unconfined")
                self.seccomp = value
            elif key == "no-new-privileges":
                if value not in ("", "true", "false"):
                    raise InvalidArgument(f"invalid --security-opt: {o!r}")
                self.no_new_privileges = value != "false"
            elif key == "systempaths":
                if value != "unconfined":
                    raise InvalidArgument(f"invalid --security-opt: systempaths={value}")
                self.system_paths = "unconfined"
            elif key in ("apparmor", "label"):
                if value not in ("unconfined", "disable"):
                    self.warnings.append(f"{key}={value} ignored: this machine has no AppArmor/SELinux support here")
            else:
                raise InvalidArgument(f'invalid --security-opt: "{o}"')


def docker_profile_to_oci(doc: dict, caps: list[str]) -> dict:
    """A Docker seccomp profile (includes/excludes by capability, architecture and
    kernel) as the OCI linux.seccomp object for a container holding `caps`."""
    from ..oci.seccomp_profile import _kernel, native_architectures

    if not isinstance(doc, dict) or "defaultAction" not in doc:
        raise InvalidArgument("seccomp profile: not a Docker/OCI profile (no defaultAction)")
    arches = list(doc.get("architectures") or [])
    for m in doc.get("archMap") or []:
        if m.get("architecture") in native_architectures():
            arches = [m["architecture"], *m.get("subArchitectures", [])]
    granted = set(caps)
    native = native_architectures()
    kernel = _kernel()

    def applies(cond: dict | None, inclusive: bool) -> bool:
        if not cond:
            return inclusive
        checks = []
        if cond.get("caps"):
            checks.append(any(c in granted for c in cond["caps"]))
        if cond.get("arches"):
            checks.append(any(("SCMP_ARCH_" + a.upper()) in native or a in native for a in cond["arches"]))
        if cond.get("minKernel"):
            want = tuple(int(x) for x in str(cond["minKernel"]).split(".")[:2])
            checks.append(kernel >= want)
        return all(checks) if inclusive else any(checks)

    rules = []
    for r in doc.get("syscalls") or []:
        if not applies(r.get("includes"), True) or applies(r.get("excludes"), False):
            continue
        names = r.get("names") or ([r["name"]] if r.get("name") else [])
        rule = {"names": names, "action": r.get("action", "SCMP_ACT_ALLOW")}
        if r.get("errnoRet") is not None:
            rule["errnoRet"] = r["errnoRet"]
        if r.get("args"):
            rule["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a} for a in r["args"]]
        rules.append(rule)
    out = {"defaultAction": doc["defaultAction"], "architectures": arches or native, "syscalls": rules}
    if doc.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = doc["defaultErrnoRet"]
    return out


def seccomp_for(opts: SecurityOptions, caps: list[str], privileged: bool) -> dict | None:
    if privileged or opts.seccomp == "unconfined":
        return None
    if opts.seccomp is None:
        from ..oci.seccomp_profile import default_profile

        return default_profile(caps)
    import json  # only for a profile file: json is off the run path

    try:
        with open(opts.seccomp) as f:
            doc = json.load(f)
    except OSError as e:
        raise InvalidArgument(f"opening seccomp profile ({opts.seccomp}) failed: {e.strerror}") from None
    except ValueError as e:
        raise InvalidArgument(f"decoding seccomp profile ({opts.seccomp}) failed: {e}") from None
    return docker_profile_to_oci(doc, caps)


def parse_ulimits(values: list[str]) -> list[dict]:
    """`nofile=1024:2048` -> OCI rlimits; refused when above this machine's hard limit."""
    import resource

    out = []
    for v in values:
        name, eq, limits = v.partition("=")
        if not eq or name not in ULIMITS:
            raise InvalidArgument(f"invalid ulimit argument: {v}")
        soft_s, _, hard_s = limits.partition(":")
        try:
            soft = int(soft_s)
            hard = int(hard_s) if hard_s else soft
        except ValueError:
            raise InvalidArgument(f"invalid ulimit argument: {v}") from None
        if soft > hard:
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
        kind = getattr(resource, ULIMITS[name])
        _, host_hard = resource.getrlimit(kind)
        if host_hard != resource.RLIM_INFINITY and hard > host_hard:
            raise InvalidArgument(f"ulimit {name}: the hard limit {hard} is above this machine's hard limit "
                                  f"{host_hard}, which cannot be raised here")
        out.append({"type": ULIMITS[name], "soft": soft, "hard": hard})
    return out


def parse_devices(values: list[str]) -> tuple[list[dict], list[dict]]:
    """`--device /dev/x[:/dev/y][:rwm]` -> (linux.devices, device cgroup rules)."""
    nodes, rules = [], []
    for v in values:
        parts = v.split(":")
        host = parts[0]
        inside = parts[1] if len(parts) > 1 and parts[1].startswith("/") else host
        perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
        if not perms or any(c not in "rwm" for c in perms):
            raise InvalidArgument(f"invalid device permissions: {v}")
        paths = []
        try:
            st = os.stat(host)
        except OSError as e:
            raise InvalidArgument(f"error gathering device information while adding custom device {host!r}: "
                                  f"{e.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            for root, _, files in os.walk(host):
                for f in files:
                    paths.append((os.path.join(root, f), os.path.join(inside, os.path.relpath(os.path.join(root, f), host))))
        else:
            paths.append((host, inside))
        for src, dst in paths:
            st = os.stat(src)
            if stat.S_ISCHR(st.st_mode):
                kind = "c"
            elif stat.S_ISBLK(st.st_mode):
                kind = "b"
            else:
                if len(paths) == 1:
                    raise InvalidArgument(f"{src} is not a device node")
                continue
            major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
            nodes.append({"path": dst, "type": kind, "major": major, "minor": minor,
                          "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
            rules.append({"allow": True, "type": kind, "major": major, "minor": minor, "access": perms})
    return nodes, rules


def host_devices() -> list[dict]:
    """Every device node of the host's /dev (what --privileged gives), except the
    terminal pseudo-devices the container gets its own of."""
    out = []
    for root, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/dev/pts", "/dev/shm", "/dev/mqueue")]
        for f in files:
            p = os.path.join(root, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if p in ("/dev/console", "/dev/ptmx", "/dev/tty") or not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            out.append({"path": p, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                        "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                        "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return out


def tmpfs_mounts(values: dict[str, str]) -> list[dict]:
    out = []
    for dest, opts in values.items():
        if not dest.startswith("/"):
            raise InvalidArgument(f"invalid mount path for --tmpfs: {dest} (must be absolute)")
        options = ["nosuid", "nodev", "noexec"] + [o for o in opts.split(",") if o]
        out.append({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options})
    return out
