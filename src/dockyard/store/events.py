"""The event log: what `dockyard events` prints, kept durably in the database.

Docker's daemon keeps its events in memory; with no daemon, every process that
changes something (the CLI, a container's monitor) appends a row to the `events`
table, and `events` reads them back (`--since`, `--until`) and polls for new ones
to follow live. The log is bounded: once it holds more than MAX_EVENTS rows the
oldest go, so it cannot grow without limit.

An event is Docker's shape: Type ("container", "image", ...), Action ("create",
"start", "die", "health_status: healthy", ...), Actor.ID and Actor.Attributes
(for containers: name, image, and per action exitCode, signal, ...), and the time
in nanoseconds.
"""

from __future__ import annotations

from ..core.clock import now_ns

MAX_EVENTS = 10_000
_TRIM_EVERY = 256  # rows between trims: one DELETE per this many inserts


class Event:
    __slots__ = ("seq", "time", "type", "action", "actor", "attributes")

    def __init__(self, seq: int, time: int, type: str, action: str, actor: str, attributes: dict) -> None:
        self.seq = seq
        self.time = time
        self.type = type
        self.action = action
        self.actor = actor
        self.attributes = attributes

    def __repr__(self) -> str:
        return f"Event({self.type} {self.action} {self.actor[:12]})"


def container_attributes(name: str, image: str, labels: dict | None, extra: dict | None = None) -> dict:
    """Docker's attributes of a container event (its LogContainerEventWithAttributes):
    the labels, then image and name, then the action's own."""
    attrs = {str(k): str(v) for k, v in (labels or {}).items()}
    if image:
        attrs["image"] = image
    attrs["name"] = name[1:] if name.startswith("/") else name
    if extra:
        attrs.update({k: str(v) for k, v in extra.items()})
    return attrs


def append(conn, type: str, action: str, actor: str, attributes: dict | None = None,
           time: int | None = None) -> None:
    """Add an event inside the caller's write transaction (`with db.write() as c`)."""
    from ..core.jsonenc import dumps

    cur = conn.execute("INSERT INTO events (time, type, action, actor, attributes) VALUES (?, ?, ?, ?, ?)",
                       (now_ns() if time is None else time, type, action, actor, dumps(attributes or {})))
    seq = cur.lastrowid
    if seq and seq % _TRIM_EVERY == 0:
        conn.execute("DELETE FROM events WHERE seq <= ?", (seq - MAX_EVENTS,))


def record(db, type: str, action: str, actor: str, attributes: dict | None = None) -> None:
    """Add one event in a transaction of its own."""
    with db.write() as c:
        append(c, type, action, actor, attributes)


def read(db, after: int = 0, since: int | None = None, until: int | None = None) -> list[Event]:
    """Events with seq > `after` and, when given, since <= time <= until (ns), oldest first."""
    from ..core.jsonenc import loads

    sql = "SELECT seq, time, type, action, actor, attributes FROM events WHERE seq > ?"
    params: list = [after]
    if since is not None:
        sql += " AND time >= ?"
        params.append(since)
    if until is not None:
        sql += " AND time <= ?"
        params.append(until)
    rows = db.all(sql + " ORDER BY seq", tuple(params))
    return [Event(r[0], r[1], r[2], r[3], r[4], loads(r[5])) for r in rows]


def last_seq(db) -> int:
    row = db.one("SELECT MAX(seq) FROM events")
    return row[0] or 0 if row else 0
