"""Linux capabilities: names, numbers, Docker's default set, --cap-add/--cap-drop."""

from __future__ import annotations

from ..errors import InvalidArgument

# capability(7) numbers
NUMBERS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}

# Docker's default: what a root process in a container keeps
DEFAULT = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
           "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
           "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")


def normalize(name: str) -> str:
    n = name.strip().upper()
    if n == "ALL":
        return n
    if not n.startswith("CAP_"):
        n = "CAP_" + n
    if n not in NUMBERS:
        raise InvalidArgument(f"unknown capability: {name!r}")
    return n


def effective_set(add: list[str], drop: list[str], privileged: bool = False) -> list[str]:
    """Docker's rule: start from the defaults (or all, privileged), drop, then add;
    ALL in drop empties the set before the adds, ALL in add gives everything."""
    add_n = [normalize(c) for c in add]
    drop_n = [normalize(c) for c in drop]
    if privileged or "ALL" in add_n:
        caps = set(NUMBERS)
    else:
        caps = set(DEFAULT)
    if "ALL" in drop_n:
        caps = set()
    caps -= {c for c in drop_n if c != "ALL"}
    if "ALL" not in add_n:
        caps |= set(add_n)
    return sorted(caps, key=NUMBERS.__getitem__)


def mask(names: list[str]) -> int:
    m = 0
    for n in names:
        if n in NUMBERS:
            m |= 1 << NUMBERS[n]
    return m
