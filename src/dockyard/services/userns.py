"""User namespace mappings for --userns=auto and --userns-remap, from /etc/subuid
and /etc/subgid (`name:start:count` per line, as shadow-utils writes them)."""

from __future__ import annotations

import pwd

from ..errors import InvalidArgument, Unavailable

AUTO_USERS = ("dockyard", "containers")  # whose subordinate ids --userns=auto hands out
AUTO_SIZE = 65536


def _ranges(path: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in names and parts[1].isdigit() and parts[2].isdigit():
                    out.append((int(parts[1]), int(parts[2])))
    except FileNotFoundError:
        pass
    return out


def _names(user: str) -> tuple[str, ...]:
    """A user given by name or uid, as both forms may appear in /etc/subuid."""
    try:
        pw = pwd.getpwnam(user) if not user.isdigit() else pwd.getpwuid(int(user))
        return (pw.pw_name, str(pw.pw_uid))
    except KeyError:
        return (user,)


def mappings(mode: str, in_use: list[dict]) -> tuple[list[dict], list[dict]] | None:
    """(uid mappings, gid mappings) for `mode`: "" or "host" (none), "auto[:size=N]",
    or "remap:USER[:GROUP]". `in_use` are the uid mappings of other containers."""
    if mode in ("", "host"):
        return None
    if mode.startswith("remap:"):
        user, _, group = mode[6:].partition(":")
        uids = _ranges("/etc/subuid", _names(user))
        gids = _ranges("/etc/subgid", _names(group or user))
        if not uids or not gids:
            raise InvalidArgument(f"no subordinate ids for {user} in /etc/subuid and /etc/subgid "
                                  f"(add e.g. '{user}:100000:65536' to both)")
        (us, uc), (gs, gc) = uids[0], gids[0]
        size = min(uc, gc)
        return ([{"containerID": 0, "hostID": us, "size": size}],
                [{"containerID": 0, "hostID": gs, "size": size}])
    size = AUTO_SIZE
    if mode.startswith("auto:"):
        key, _, value = mode[5:].partition("=")
        if key != "size" or not value.isdigit() or int(value) < 1:
            raise InvalidArgument(f"invalid --userns option: {mode}")
        size = int(value)
    ranges = _ranges("/etc/subuid", AUTO_USERS)
    granges = _ranges("/etc/subgid", AUTO_USERS)
    if not ranges or not granges:
        raise Unavailable("--userns=auto needs subordinate ids for 'dockyard' in /etc/subuid and /etc/subgid "
                          "(e.g. 'dockyard:1000000:65536000' in both)")
    taken = sorted((m["hostID"], m["hostID"] + m["size"]) for m in in_use)
    for start, count in ranges:
        cand = start
        while cand + size <= start + count:
            clash = next((b for a, b in taken if a < cand + size and cand < b), None)
            if clash is None:
                if not any(gs <= cand and cand + size <= gs + gc for gs, gc in granges):
                    break
                m = [{"containerID": 0, "hostID": cand, "size": size}]
                return m, [dict(m[0])]
            cand = clash
    raise Unavailable(f"--userns=auto: no free range of {size} ids left in /etc/subuid for dockyard")
