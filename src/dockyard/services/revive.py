"""Bringing containers back after a reboot, as Docker's daemon does when it starts.

With no daemon, the first dockyard command after a boot does it: the runroot
(/run/dockyard) is a tmpfs that a boot empties, so a marker file there
(`<runroot>/booted`, made with O_EXCL: one command wins) says whether this boot has
been seen; checking costs one stat per command (Engine.revive_after_boot).

Revived are the containers that ran under a previous boot (their monitors are gone,
so reading their rows marks them exited) or stopped in one, whose restart policy
says so (monitor/restart.py: `always`, and `unless-stopped` unless the user stopped
it). Containers never started stay as they are. A container that cannot start
(its image gone, say) is left exited; the command that triggered this carries on.
"""

from __future__ import annotations

import os


def revive(engine) -> list[str]:
    """Start what the restart policies ask for, once per boot; the ids started."""
    layout = engine.layout
    marker = layout.runroot + "/booted"
    try:
        os.makedirs(layout.runroot, 0o755, exist_ok=True)
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return []
    except OSError:
        return []  # a read-only runroot: nothing we could start would work either
    try:
        from ..core.host import boot_id

        os.write(fd, (boot_id() + "\n").encode())
    finally:
        os.close(fd)
    if not os.path.exists(layout.db):
        return []  # no store yet, so no containers
    try:
        return _revive(engine)
    except Exception:
        return []  # never fail the command the user actually asked for


def _revive(engine) -> list[str]:
    import json

    from ..errors import DockyardError
    from ..monitor.restart import revives_after_boot

    rows = engine.db.all("SELECT id, manual_stop, config FROM containers WHERE started IS NOT NULL "
                         "AND state IN ('running', 'restarting', 'exited') "
                         "AND config LIKE '%\"RestartPolicy\"%'")
    started = []
    for cid, manual_stop, config in rows:
        policy = ((json.loads(config).get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
        if not revives_after_boot(policy, bool(manual_stop)):
            continue
        try:
            c = engine.container(cid)  # a row of a previous boot is repaired (exited) here
            if c.state != "exited":
                continue  # running under this boot already (another command revived it)
            engine.start(cid)
            started.append(cid)
        except DockyardError:
            continue
    return started
