"""Facts about this boot of this machine."""

from __future__ import annotations


def boot_id() -> str:
    """The kernel's id for this boot: pids recorded under another boot are stale."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""
