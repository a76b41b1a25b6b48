"""Turning `--user` / the image's User into numeric ids, as runc's user lookup does.

`name`, `uid`, `name:group`, `uid:gid`: names are looked up in the container's own
/etc/passwd and /etc/group (never the host's); a numeric user missing from passwd is
still valid (gid 0, HOME /). Supplementary groups are the primary group and the groups that list the user.
"""

from __future__ import annotations

from ..errors import StartError


def _entries(data: bytes | None, fields: int) -> list[list[str]]:
    if not data:
        return []
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) >= fields:
            out.append(parts)
    return out


def _int(s: str) -> int | None:
    return int(s) if s.isdigit() and len(s) < 11 and int(s) < 2**32 - 1 else None


def resolve_user(spec: str, passwd: bytes | None, group: bytes | None) -> tuple[int, int, list[int], str]:
    """Returns (uid, gid, supplementary gids, home)."""
    user, _, grp = spec.partition(":")
    users = _entries(passwd, 7)
    groups = _entries(group, 4)
    uid, gid, home, name = 0, 0, "/", None
    if user:
        match = next((u for u in users if u[0] == user), None)
        if match is None and _int(user) is not None:
            match = next((u for u in users if u[2] == user), None)
        if match is not None:
            name, uid, gid, home = match[0], _int(match[2]) or 0, _int(match[3]) or 0, match[5] or "/"
        elif _int(user) is not None:
            uid = _int(user)
        else:
            raise StartError(f"unable to find user {user}: no matching entries in passwd file")
    else:
        match = next((u for u in users if u[2] == "0"), None)
        if match is not None:
            name, home = match[0], match[5] or "/"
    if grp:
        gmatch = next((g for g in groups if g[0] == grp), None)
        if gmatch is None and _int(grp) is not None:
            gid = _int(grp)
        elif gmatch is not None:
            gid = _int(gmatch[2]) or 0
        else:
            raise StartError(f"unable to find group {grp}: no matching entries in group file")
    extra: list[int] = []
    if not grp:
        # runc's rule: the groups listing the user, and the primary group itself
        for g in groups:
            gnum = _int(g[2])
            members = g[3].split(",") if g[3] else []
            if gnum is not None and (gnum == gid or (name is not None and name in members)) \
                    and gnum not in extra:
                extra.append(gnum)
    return uid, gid, extra, home
