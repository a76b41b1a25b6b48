"""Facts about this boot of this machine."""

from __future__ import annotations


def boot_id() -> str:
    """The kernel's id for this boot: pids recorded under another boot are stale."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def process_start(pid: int) -> int:
    """The start time of a process (clock ticks since boot), to tell it from a later
    process that reuses its pid; -1 when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return -1
    return int(data[data.rfind(b")") + 2:].split()[19])


def memory_total() -> int:
    """This machine's memory in bytes (MemTotal), 0 when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
