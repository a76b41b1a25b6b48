"""Events as `docker events` shows them: who records which, the filters, the times.

The log itself is store/events.py (a bounded table every process appends to). Here:

- what the services record: container events carry Docker's attributes (the
  container's labels, then `image` as the user wrote it and `name` without its
  slash, then per action `exitCode`, `signal`, `oldName`); image events carry the
  image's labels and `name`;
- Docker's event filters (type, event, container, image, label, plus daemon/network/
  volume, which match nothing here), AND-ed across keys and OR-ed within one, with
  Docker's rules for each (a container by id prefix or name; `label` values AND-ed);
- `--since`/`--until` values: RFC 3339 (or a date alone, or no zone: local time),
  Unix seconds with a fraction, or a Go duration counted back from now ("10m");
- the message shape of Docker's API (`Type`, `Action`, `Actor`, `scope`, `time`,
  `timeNano`, and the legacy `status`/`id`/`from` of container and image events).
"""

from __future__ import annotations

from ..errors import InvalidArgument
from ..store import events as log
from ..store.events import container_attributes  # noqa: F401 - part of this module's API

# the filters the daemon accepts for events
FILTERS = ("config", "container", "daemon", "event", "image", "label", "network", "node", "plugin",
           "scope", "secret", "service", "type", "volume")
TYPES = ("builder", "config", "container", "daemon", "image", "network", "node", "plugin", "secret",
         "service", "volume")


def container_event(conn, c, action: str, extra: dict | None = None) -> None:
    """Append a container event inside the caller's write transaction."""
    labels = (c.config.get("Config") or {}).get("Labels") if c._db is not None else None
    log.append(conn, "container", action, c.id, container_attributes(c.name, c.image, labels, extra))


def record_container(db, c, action: str, extra: dict | None = None) -> None:
    with db.write() as conn:
        container_event(conn, c, action, extra)


def image_attributes(labels: dict | None, name: str) -> dict:
    attrs = {str(k): str(v) for k, v in (labels or {}).items()}
    if name:
        attrs["name"] = name
    return attrs


def record_image(engine, action: str, actor: str, name: str, image_id: str | None = None) -> None:
    """An image event: `actor` is the image id (or, for pull and push, the reference),
    with the image's labels when it is still stored."""
    labels = None
    try:
        from ..core.jsonenc import loads
        from ..store.blobs import BlobStore

        cfg = loads(BlobStore(engine.layout.blobs).read(image_id or actor))
        labels = (cfg.get("config") or {}).get("Labels")
    except Exception:  # gone already (delete), or a reference: no labels, as Docker
        labels = None
    log.record(engine.db, "image", action, actor, image_attributes(labels, name))


# ---- filters --------------------------------------------------------------------------------

def parse_filters(values: list[str] | None) -> dict[str, list[str]]:
    """`--filter k=v` values -> {k: [v, ...]}; a value without "=" is Docker's usage error."""
    out: dict[str, list[str]] = {}
    for v in values or []:
        k, eq, val = v.partition("=")
        k = k.strip().lower()
        if not eq:
            raise InvalidArgument("bad format of filter (expected name=value)")
        out.setdefault(k, [])
        if val not in out[k]:
            out[k].append(val)
    return out


def invalid_filter(name: str) -> InvalidArgument:
    e = InvalidArgument(f"invalid filter '{name}'")
    e.status = 1  # the daemon refuses it: exit 1, as for any daemon error
    return e


def check_filters(filters: dict[str, list[str]]) -> None:
    for k, vs in filters.items():
        if k not in FILTERS:
            raise invalid_filter(k)
        if k == "type":
            for v in vs:
                if v not in TYPES:
                    e = InvalidArgument(f"Unknown type: {v}")
                    e.status = 1
                    raise e


def _fuzzy(values: list[str] | None, source: str) -> bool:
    return not values or any(source == v or source.startswith(v) for v in values)


def _exact(values: list[str] | None, source: str) -> bool:
    return not values or source in values


def _familiar_name(ref: str) -> str:
    """An image reference without its tag or digest, as Docker's stripTag."""
    try:
        from ..oci import reference

        return reference.parse(ref).familiar_name
    except Exception:
        return ref


def matches(ev, f: dict[str, list[str]]) -> bool:
    """Docker's events filter (daemon/events/filter.go)."""
    if not f:
        return True
    action = ev.action
    ev_filter = f.get("event")
    if ev_filter:
        if any(v in ("health_status", "exec_create", "exec_start") for v in ev_filter):
            if not _fuzzy(ev_filter, action):
                return False
        elif action not in ev_filter:
            return False
    if not _exact(f.get("type"), ev.type) or not _exact(f.get("scope"), "local"):
        return False
    attrs = ev.attributes or {}
    for t in ("daemon", "container", "plugin", "volume", "network", "service", "node", "secret", "config"):
        vs = f.get(t)
        if vs and not (_fuzzy(vs, ev.actor) or _fuzzy(vs, attrs.get("name", ""))):
            return False
    images = f.get("image")
    if images:
        name = attrs.get("name" if ev.type == "image" else "image", "")
        candidates = {ev.actor, name, _familiar_name(ev.actor), _familiar_name(name) if name else ""}
        if not any(c in images for c in candidates if c):
            return False
    labels = f.get("label")
    if labels:
        for want in labels:
            k, eq, v = want.partition("=")
            if k not in attrs or (eq and attrs[k] != v):
                return False
    return True


# ---- times ----------------------------------------------------------------------------------

def parse_time(value: str, now_ns: int | None = None) -> int:
    """Docker's GetTimestamp: a duration back from now, Unix seconds[.fraction], or an
    RFC 3339 time (a zone-less one, or a date alone, is local time). Nanoseconds."""
    import time

    from ..core.clock import now_ns as _now

    now = _now() if now_ns is None else now_ns
    v = value.strip()
    if not v:
        raise InvalidArgument("empty time value")
    from ..core.durations import parse_duration

    try:
        return now - parse_duration(v)
    except ValueError:
        pass
    num = v.lstrip("-")
    if num.replace(".", "", 1).isdigit() and num.count(".") <= 1 and "-" not in v[1:]:
        sec, _, frac = v.partition(".")
        return int(sec) * 1_000_000_000 + (int((frac + "000000000")[:9]) if frac else 0) * (-1 if v.startswith("-") else 1)
    import calendar
    import re

    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?"
                     r"(Z|[+-]\d{2}:?\d{2})?", v)
    if not m:
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"')
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    fields = (int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
    try:
        if zone:
            base = calendar.timegm((*fields, 0, 0, 0))
            if zone != "Z":
                z = zone.replace(":", "")
                off = (int(z[1:3]) * 3600 + int(z[3:5]) * 60) * (1 if z[0] == "+" else -1)
                base -= off
        else:
            base = int(time.mktime((*fields, 0, 0, -1)))
    except (OverflowError, ValueError):
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"') from None
    return base * 1_000_000_000 + (int((frac + "000000000")[:9]) if frac else 0)


# ---- output ---------------------------------------------------------------------------------

def message(ev) -> dict:
    """The API's events.Message for one logged event (with the legacy fields Docker's
    daemon still fills for container and image events)."""
    attrs = {k: ev.attributes[k] for k in sorted(ev.attributes or {})}
    out: dict = {}
    if ev.type in ("container", "image"):
        out["status"] = ev.action
        out["id"] = ev.actor
        if ev.type == "container" and attrs.get("image"):
            out["from"] = attrs["image"]
    out.update({"Type": ev.type, "Action": ev.action, "Actor": {"ID": ev.actor, "Attributes": attrs},
                "scope": "local", "time": ev.time // 1_000_000_000, "timeNano": ev.time})
    return out


def local_rfc3339_fixed(ns: int) -> str:
    """Go's "2006-01-02T15:04:05.000000000Z07:00" in local time, as `docker events` prints."""
    import time

    sec, frac = divmod(ns, 1_000_000_000)
    tm = time.localtime(sec)
    off = tm.tm_gmtoff or 0
    zone = "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{frac:09d}" + zone


def pretty(ev) -> str:
    """Docker's prettyPrintEvent line."""
    line = f"{local_rfc3339_fixed(ev.time)} {ev.type} {ev.action} {ev.actor}"
    if ev.attributes:
        line += " (" + ", ".join(f"{k}={ev.attributes[k]}" for k in sorted(ev.attributes)) + ")"
    return line


def read(engine, after: int = 0, since: int | None = None, until: int | None = None,
         filters: dict[str, list[str]] | None = None) -> tuple[list, int]:
    """(events after sequence number `after` within [since, until] that match `filters`,
    the last sequence number read), so that a follower resumes exactly after it."""
    rows = log.read(engine.db, after, since, until)
    return [e for e in rows if matches(e, filters or {})], (rows[-1].seq if rows else after)


def last_seq(engine) -> int:
    return log.last_seq(engine.db)
