"""What the container's process may do: rlimits, capabilities, no_new_privs, and
the seccomp filter, applied in the order the kernel requires, last thing before
exec:

 1. rlimits (lowering needs nothing; raising past the hard limit needs
    CAP_SYS_RESOURCE, which a limit that cannot be had is clamped to, never failing);
 2. the bounding set, while CAP_SETPCAP is still in hand;
 3. the user (keep-caps across setuid, then the sets the spec asks for);
 4. ambient capabilities, no_new_privs, and the seccomp filter.
"""

from __future__ import annotations

import os
import resource

from ..._sys import libc
from ..._sys import seccomp as _seccomp
from ...oci.capabilities import NUMBERS

RLIMITS = {"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
           "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
           "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
           "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15}
_INFINITY = 2**64 - 1


def _mask(names: list[str] | None) -> int:
    m = 0
    for n in names or []:
        if n in NUMBERS:
            m |= 1 << NUMBERS[n]
    return m


def apply_rlimits(rlimits: list[dict]) -> None:
    for r in rlimits or []:
        kind = RLIMITS.get(r.get("type", ""))
        if kind is None:
            continue
        soft, hard = int(r.get("soft", 0)), int(r.get("hard", 0))
        soft = resource.RLIM_INFINITY if soft >= _INFINITY else soft
        hard = resource.RLIM_INFINITY if hard >= _INFINITY else hard
        try:
            resource.setrlimit(kind, (soft, hard))
        except (ValueError, OSError):
            # cannot raise past our hard limit here (no CAP_SYS_RESOURCE): take what there is
            _, cur_hard = resource.getrlimit(kind)
            cap = lambda v: v if cur_hard == resource.RLIM_INFINITY or 0 <= v <= cur_hard else cur_hard
            try:
                resource.setrlimit(kind, (min(cap(soft), cap(hard)), cap(hard)))
            except (ValueError, OSError):
                pass


def drop_bounding(caps: dict | None) -> None:
    if caps is None:
        return
    keep = _mask(caps.get("bounding"))
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = max(NUMBERS.values())
    for cap in range(last + 1):
        if not keep & (1 << cap):
            try:
                libc.prctl(libc.PR_CAPBSET_DROP, cap)
            except Exception:
                pass  # a capability this kernel does not know


def _held() -> int:
    """The capabilities this process holds: a container cannot get more than we have
    (this machine's own bounding set may lack some, CAP_SYS_RESOURCE here)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapPrm:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return (1 << 64) - 1


def switch_user(user: dict, caps: dict | None) -> None:
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    held = _held() if caps is not None else 0
    if caps is not None:
        libc.prctl(libc.PR_SET_KEEPCAPS, 1)
    os.setgroups([int(g) for g in user.get("additionalGids") or []])
    os.setgid(gid)
    os.setuid(uid)
    if caps is not None:
        libc.prctl(libc.PR_SET_KEEPCAPS, 0)
        libc.capset(_mask(caps.get("effective")) & held, _mask(caps.get("permitted")) & held,
                    _mask(caps.get("inheritable")) & held)
        libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
        # the kernel takes an ambient capability only if it is permitted and
        # inheritable; like those sets, ambient gets what this machine can give
        allowed = _mask(caps.get("permitted")) & _mask(caps.get("inheritable")) & held
        for name in caps.get("ambient") or []:
            if name in NUMBERS and allowed & (1 << NUMBERS[name]):
                libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_RAISE, NUMBERS[name])


def lock_down(process: dict, seccomp_program: bytes | None) -> None:
    if process.get("noNewPrivileges"):
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    if seccomp_program:
        _seccomp.load(seccomp_program)
